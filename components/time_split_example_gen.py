"""ExampleGen executors: CSV read with the feature spec's types, bad rows quarantined, and a time split.

CsvExampleGen infers each column's type from the data, so a numerical column
whose values happen to be whole numbers becomes INT and fails the curated
schema's FLOAT at ExampleValidator, minutes later. ``SpecCsvExampleGen`` reads
every column with the type the feature spec declares (``73`` in a float column
is 73.0), so the schema always agrees with the examples. A row that does not
fit the spec (and, for TFRecord input, a corrupt record) goes to the
component's ``bad_rows`` output with its file, line and reason instead of
ending the run; above ``max_bad_rows`` the run stops (``components/quarantine.py``).

TFX's ExampleGen splits a single input by hashing (``output_config``); a
recommender must be evaluated on the period after the one it trained on, so
these executors read every input file and put each row in ``eval`` when its
time column is at or after the cutoff, else in ``train``. The cutoff is either
``eval_start`` (unix seconds) or ``eval_days`` before the latest timestamp in
the data. ``pipelines/grec_pipeline.py`` uses them when ``time_split`` is given:

    TimeSplitCsvExampleGen(input_base=data_root, time_column="ts", eval_days=7)
"""

from __future__ import annotations

import json
import os
import shutil

import apache_beam as beam
from absl import logging
from google.protobuf import struct_pb2
from tfx.components.example_gen import driver, utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import base_beam_component, base_driver, executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import io_utils, proto_utils

from components import validation_split
from components.feature_spec import PER_TASK_ROLES, parse_feature_spec
from components.quarantine import (
    BAD_ROWS_KEY,
    CSV_COLUMNS,
    DEFAULT_MAX_BAD_ROWS,
    TFRECORD_COLUMNS,
    BadRows,
    ReadCsv,
    ReadTfRecord,
    TooManyBadRows,
    read_checked,
    summarize,
)
from components.validation_split import VALIDATION

DAY = 86_400
SPLITS = ("train", "eval")


def example_gen_config(spec: dict | None = None, time_column: str | None = None, eval_days: float | None = None,
                       eval_start: int | None = None, max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
                       validation_fraction: float = 0.0):  # fmt: skip
    """The ExampleGen ``custom_config``: the feature spec (``FeatureSpec.to_dict()``; CSV is read with its
    types and rows checked against it), the bad-row threshold, the share of ``train`` carved out as
    ``validation`` (needs ``spec``; 0: none) and/or a time split."""
    if validation_fraction and not spec:
        raise ValueError("a validation split needs the feature spec (its time, task and label columns)")
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    values = struct_pb2.Struct()
    values.update({"max_bad_rows": float(max_bad_rows), "validation_fraction": float(validation_fraction)})
    if spec:
        values.update({"spec": json.dumps(spec)})  # a string: a Struct would turn its ints into floats
    if time_column is not None:
        values.update({"time_column": time_column, **({"eval_days": eval_days} if eval_days is not None else {}),
                       **({"eval_start": eval_start} if eval_start is not None else {})})  # fmt: skip
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(values)
    return config


def time_split_config(time_column: str, eval_days: float | None = None, eval_start: int | None = None,
                      spec: dict | None = None, max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
                      validation_fraction: float = 0.0):  # fmt: skip
    """The ExampleGen ``custom_config`` of a time split: exactly one of ``eval_days`` or ``eval_start``."""
    if (eval_days is None) == (eval_start is None):
        raise ValueError("time split: give exactly one of eval_days (before the latest time) or eval_start")
    if eval_days is not None and eval_days <= 0:
        raise ValueError(f"time split: eval_days must be > 0, got {eval_days}")
    return example_gen_config(spec, time_column, eval_days, eval_start, max_bad_rows, validation_fraction)


def split_output_config() -> example_gen_pb2.Output:
    """Declares the two output splits (their hash buckets are unused by the time split)."""
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=1) for name in SPLITS]
        )
    )


def _read_config(exec_properties) -> dict:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}", config)
    values = struct_pb2.Struct()
    if not config.custom_config.Unpack(values):
        raise ValueError("ExampleGen custom_config must come from example_gen_config()")
    return dict(values)


_BAD_ROWS_URI = "_bad_rows_uri"  # exec property the quarantining Do() hands to the record readers


def _input_split(exec_properties, pattern: str) -> str:
    config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
    return next(split.name for split in config.splits if split.pattern == pattern)


class _CheckedRecords(beam.PTransform):
    """Records of one input split's files, bad ones to ``<bad_rows uri>/<split>/`` (``quarantine.read_checked``)."""

    COLUMNS = CSV_COLUMNS

    def __init__(self, exec_properties, split_pattern: str):
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._config = _read_config(exec_properties)
        self._folder = os.path.join(exec_properties[_BAD_ROWS_URI], _input_split(exec_properties, split_pattern))

    def reader(self, files: list[str]) -> beam.DoFn:
        raise NotImplementedError

    def expand(self, pipeline):
        files = sorted(fileio.glob(self._pattern))
        if not files:
            raise RuntimeError(f"Split pattern {self._pattern} does not match any files.")
        return read_checked(pipeline, files, self.reader(files), self._folder, self.COLUMNS)


class _SpecCsvToExample(_CheckedRecords):
    """CsvExampleGen's reading with the spec's column types instead of types inferred from the data,
    and bad rows quarantined instead of fatal (TFX offers no hook for either)."""

    def reader(self, files):
        header = io_utils.load_csv_column_names(files[0])
        for path in files[1:]:
            other = io_utils.load_csv_column_names(path)
            if other != header:
                raise RuntimeError(f"{path} and {files[0]} have different headers: {other} vs {header}")
        spec = parse_feature_spec(json.loads(self._config["spec"]))
        columns = {c.name: c for c in spec.columns}
        unknown = [name for name in header if name not in columns]
        if unknown:
            raise RuntimeError(f"{files[0]}: column(s) {unknown} are not in the feature spec")
        return ReadCsv(header, columns)


class _TfRecordToExample(_CheckedRecords):
    """ImportExampleGen's reading (serialized tf.Example) with corrupt records quarantined, not fatal."""

    COLUMNS = TFRECORD_COLUMNS

    def reader(self, files):
        return ReadTfRecord()


class _CheckedMixin:
    """Runs ExampleGen with the bad rows sent to the ``bad_rows`` output (stops above ``max_bad_rows``)
    and ``validation`` carved from ``train`` (``components/validation_split.py``)."""

    def _input_splits(self, pipeline, exec_properties) -> dict:
        return super().GenerateExamplesByBeam(pipeline, exec_properties)

    def GenerateExamplesByBeam(self, pipeline, exec_properties):  # noqa: N802 (TFX's name)
        splits = self._input_splits(pipeline, exec_properties)
        config = _read_config(exec_properties)
        if config.get("validation_fraction") and "train" in splits:
            spec = parse_feature_spec(json.loads(config["spec"]))
            not_context = frozenset(c.name for c in spec.columns if c.role in PER_TASK_ROLES)
            time_column = spec.time_column.name if spec.time_column is not None else None
            splits["train"], splits[VALIDATION] = validation_split.carve(
                splits["train"], config["validation_fraction"], time_column, not_context
            )
            # TFX's Do() set the split names from the input/output configs and writes each split under
            # them after this returns: the new split is named now.
            names = artifact_utils.decode_split_names(self._examples.split_names)
            self._examples.split_names = artifact_utils.encode_split_names([*names, VALIDATION])
        return splits

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        examples = self._examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])  # fmt: skip
        if output_dict.get(BAD_ROWS_KEY):
            quarantine = artifact_utils.get_single_instance(output_dict[BAD_ROWS_KEY])
        else:
            # A launcher that prepared no bad_rows output (``_CheckedDriver`` does, under every TFX launcher
            # tested): the bad rows go beside the examples, and the run says where, never nowhere.
            quarantine = BadRows()
            quarantine.uri = examples.uri.rstrip("/") + "_bad_rows"
            fileio.makedirs(quarantine.uri)
            logging.warning("ExampleGen: no bad_rows output from the launcher; bad rows go to %s", quarantine.uri)
            examples.set_string_custom_property("bad_rows_uri", quarantine.uri)
        super().Do(input_dict, output_dict, {**exec_properties, _BAD_ROWS_URI: quarantine.uri})
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        splits = [split.name for split in input_config.splits]
        try:
            summary = summarize(quarantine.uri, splits, _read_config(exec_properties).get("max_bad_rows", DEFAULT_MAX_BAD_ROWS))  # fmt: skip
        except TooManyBadRows as error:
            # TFX deletes a failed execution's outputs: keep the list where the message says it is.
            kept = quarantine.uri.rstrip("/") + ".failed"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(quarantine.uri, kept)
            raise TooManyBadRows(str(error).replace(quarantine.uri, kept)) from None
        # In the metadata store: rows read and rejected per input split, on both outputs.
        for artifact in (quarantine, examples):
            artifact.set_int_custom_property("bad_rows", sum(s["bad_rows"] for s in summary.values()))
            artifact.set_string_custom_property("bad_rows_by_split", json.dumps(summary))


class SpecCsvExecutor(_CheckedMixin, csv_executor.Executor):
    """CsvExampleGen's executor reading columns with the feature spec's types, bad rows quarantined."""

    def GetInputSourceToExamplePTransform(self):  # noqa: N802 (TFX's name)
        return _SpecCsvToExample


class CheckedImportExecutor(_CheckedMixin, import_executor.Executor):
    """ImportExampleGen's (TFRecord of tf.Example) executor, corrupt records quarantined."""

    def GetInputSourceToExamplePTransform(self):  # noqa: N802 (TFX's name)
        return _TfRecordToExample


class _TimeSplitMixin:
    def _input_splits(self, pipeline, exec_properties) -> dict:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        if len(input_config.splits) != 1:
            raise ValueError("time split: the input must be one split (every file); the output is train and eval")
        config = _read_config(exec_properties)
        column = config["time_column"]
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        records = pipeline | "InputToRecord" >> self.GetInputSourceToExamplePTransform()(  # pylint: disable=no-value-for-parameter
            exec_properties, input_config.splits[0].pattern
        )
        # Each record's time is read once: (time, record) pairs are split, then the records kept.
        timed = records | "Time" >> beam.Map(lambda record: (validation_split.time_of(record, column), record))
        if "eval_start" in config:
            cutoff = beam.pvalue.AsSingleton(pipeline | "Cutoff" >> beam.Create([int(config["eval_start"])]))
        else:
            eval_seconds = int(config["eval_days"] * DAY)
            cutoff = beam.pvalue.AsSingleton(
                timed
                | "Times" >> beam.Keys()
                | "Latest" >> beam.CombineGlobally(max)
                | "Cutoff" >> beam.Map(lambda latest: latest - eval_seconds)
            )
        parts = timed | "SplitByTime" >> beam.Partition(
            lambda pair, _, start: int(pair[0] >= start), len(SPLITS), start=cutoff
        )
        parts = [part | f"Records[{name}]" >> beam.Values() for name, part in zip(SPLITS, parts, strict=True)]
        return dict(zip(SPLITS, parts, strict=True))


class TimeSplitCsvExecutor(_TimeSplitMixin, SpecCsvExecutor):
    """The spec-typed CSV executor with the time split."""


class TimeSplitImportExecutor(_TimeSplitMixin, CheckedImportExecutor):
    """ImportExampleGen's (TFRecord of tf.Example) executor with the time split."""


class _ExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    OUTPUTS = {**standard_component_specs.FileBasedExampleGenSpec.OUTPUTS, BAD_ROWS_KEY: ChannelParameter(type=BadRows)}


class _CheckedDriver(driver.FileBasedDriver):
    """FileBasedExampleGen's driver (spans, fingerprints) that also prepares the ``bad_rows`` output.

    TFX's driver returns only ``examples`` from ``_prepare_output_artifacts``, which the legacy
    launchers (Airflow's) use as the executor's ``output_dict``: without this, ``Do`` got no
    ``bad_rows`` there. The IR launchers (LocalDagRunner, Kubeflow V2) make every declared output
    themselves and take only ``examples`` from the driver.
    """

    def _prepare_output_artifacts(
        self, input_artifacts, output_dict, exec_properties, execution_id, pipeline_info, component_info
    ):
        result = super()._prepare_output_artifacts(
            input_artifacts, output_dict, exec_properties, execution_id, pipeline_info, component_info
        )
        others = {name: channel for name, channel in output_dict.items() if name not in result}
        result.update(
            base_driver.BaseDriver._prepare_output_artifacts(
                self, input_artifacts, others, exec_properties, execution_id, pipeline_info, component_info
            )
        )
        return result


class _CheckedExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen (its driver, spans and caching) with a second output, ``bad_rows``."""

    SPEC_CLASS = _ExampleGenSpec
    DRIVER_CLASS = _CheckedDriver

    def __init__(self, input_base: str, custom_config, input_config=None, output_config=None):
        # FileBasedExampleGen.__init__ builds its own spec with one output; this is the same with two.
        input_config = input_config or utils.make_default_input_config()
        spec = _ExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config or utils.make_default_output_config(input_config),
            custom_config=custom_config,
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=channel.Channel(type=standard_artifacts.Examples),
            bad_rows=channel.Channel(type=BadRows),
        )
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


class SpecCsvExampleGen(_CheckedExampleGen):
    """CsvExampleGen whose columns have the feature spec's types (``spec``: ``FeatureSpec.to_dict()``);
    ``max_bad_rows`` and ``validation_fraction`` as in ``example_gen_config``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(SpecCsvExecutor)

    def __init__(self, input_base: str, spec: dict, input_config=None, output_config=None, **checks):
        super().__init__(input_base, example_gen_config(spec, **checks), input_config, output_config)


class CheckedImportExampleGen(_CheckedExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with corrupt records quarantined; ``spec`` (optional) and
    the checks as in ``example_gen_config``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(CheckedImportExecutor)

    def __init__(self, input_base: str, spec: dict | None = None, input_config=None, output_config=None, **checks):
        super().__init__(input_base, example_gen_config(spec, **checks), input_config, output_config)


class _TimeSplitExampleGen(_CheckedExampleGen):
    def __init__(self, input_base: str, time_column: str, eval_days: float | None = None,
                 eval_start: int | None = None, pattern: str = "*", spec: dict | None = None, **checks):  # fmt: skip
        """Reads every file ``pattern`` matches in ``input_base``; ``eval`` holds the rows at or after the cutoff."""
        super().__init__(
            input_base,
            time_split_config(time_column, eval_days, eval_start, spec, **checks),
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)]),
            split_output_config(),
        )


class TimeSplitCsvExampleGen(_TimeSplitExampleGen):
    """CsvExampleGen with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitCsvExecutor)


class TimeSplitImportExampleGen(_TimeSplitExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitImportExecutor)
