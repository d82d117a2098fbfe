"""ExampleGen executors: CSV read with the feature spec's types, and one input split by time, not by hash.

CsvExampleGen infers each column's type from the data, so a numerical column
whose values happen to be whole numbers becomes INT and fails the curated
schema's FLOAT at ExampleValidator, minutes later. ``SpecCsvExampleGen`` reads
every column with the type the feature spec declares (``73`` in a float column
is 73.0), so the schema always agrees with the examples; a value that does not
parse under its type fails with the file named (the pre-flight check,
``pipelines/preflight.py``, finds such values in seconds, before Beam starts).

TFX's ExampleGen splits a single input by hashing (``output_config``); a
recommender must be evaluated on the period after the one it trained on, so
these executors read every input file and put each row in ``eval`` when its
time column is at or after the cutoff, else in ``train``. The cutoff is either
``eval_start`` (unix seconds) or ``eval_days`` before the latest timestamp in
the data. ``pipelines/grec_pipeline.py`` uses them when ``time_split`` is given:

    TimeSplitCsvExampleGen(input_base=data_root, time_column="ts", eval_days=7)
"""

from __future__ import annotations

import os

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import io_utils, proto_utils
from tfx_bsl.coders import csv_decoder

DAY = 86_400
SPLITS = ("train", "eval")


def example_gen_config(column_types: dict | None = None, time_column: str | None = None,
                       eval_days: float | None = None, eval_start: int | None = None):  # fmt: skip
    """The ExampleGen ``custom_config``: CSV column types (column -> string|int|float) and/or a time split."""
    values = struct_pb2.Struct()
    if column_types:
        values.update({"column_types": dict(column_types)})
    if time_column is not None:
        values.update({"time_column": time_column, **({"eval_days": eval_days} if eval_days is not None else {}),
                       **({"eval_start": eval_start} if eval_start is not None else {})})  # fmt: skip
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(values)
    return config


def time_split_config(time_column: str, eval_days: float | None = None, eval_start: int | None = None,
                      column_types: dict | None = None):  # fmt: skip
    """The ExampleGen ``custom_config`` of a time split: exactly one of ``eval_days`` or ``eval_start``."""
    if (eval_days is None) == (eval_start is None):
        raise ValueError("time split: give exactly one of eval_days (before the latest time) or eval_start")
    if eval_days is not None and eval_days <= 0:
        raise ValueError(f"time split: eval_days must be > 0, got {eval_days}")
    return example_gen_config(column_types, time_column, eval_days, eval_start)


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


_COLUMN_TYPES = {"string": csv_decoder.ColumnType.STRING, "int": csv_decoder.ColumnType.INT,
                 "float": csv_decoder.ColumnType.FLOAT}  # fmt: skip


class _SpecCsvToExample(beam.PTransform):
    """CsvExampleGen's reading with the spec's column types instead of types inferred from the data.

    Re-uses TFX's own line reader (multi-line quoted fields) and tf.Example
    builder (``csv_executor`` internals: TFX offers no hook for column types).
    """

    def __init__(self, exec_properties, split_pattern: str):
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._types = dict(_read_config(exec_properties)["column_types"])

    def expand(self, pipeline):
        files = sorted(fileio.glob(self._pattern))
        if not files:
            raise RuntimeError(f"Split pattern {self._pattern} does not match any files.")
        header = io_utils.load_csv_column_names(files[0])
        for path in files[1:]:
            other = io_utils.load_csv_column_names(path)
            if other != header:
                raise RuntimeError(f"{path} and {files[0]} have different headers: {other} vs {header}")
        unknown = [name for name in header if name not in self._types]
        if unknown:
            raise RuntimeError(f"{files[0]}: column(s) {unknown} are not in the feature spec")
        infos = [csv_decoder.ColumnInfo(name, _COLUMN_TYPES[self._types[name]]) for name in header]
        return (
            pipeline
            | "CreateFilenames" >> beam.Create(files)
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
            | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), infos)
        )


class SpecCsvExecutor(csv_executor.Executor):
    """CsvExampleGen's executor reading columns with the feature spec's types (``column_types``)."""

    def GetInputSourceToExamplePTransform(self):  # noqa: N802 (TFX's name)
        return _SpecCsvToExample


def _time_of(record, column: str) -> int:
    example = tf.train.Example.FromString(record) if isinstance(record, bytes) else record
    feature = example.features.feature.get(column)
    values = [] if feature is None else list(feature.int64_list.value) or list(feature.float_list.value)
    if len(values) != 1:
        raise ValueError(f"time split: time column {column!r} must hold one number per row; found {values!r} in "
                         f"{str(example)[:300]!r}")  # fmt: skip
    return int(values[0])


class _TimeSplitMixin:
    def GenerateExamplesByBeam(self, pipeline, exec_properties):  # noqa: N802 (TFX's name)
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
        timed = records | "Time" >> beam.Map(lambda record: (_time_of(record, column), record))
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


class TimeSplitImportExecutor(_TimeSplitMixin, import_executor.Executor):
    """ImportExampleGen's (TFRecord of tf.Example) executor with the time split."""


class SpecCsvExampleGen(FileBasedExampleGen):
    """CsvExampleGen whose columns have the feature spec's types: ``column_types`` maps column -> dtype."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(SpecCsvExecutor)

    def __init__(self, input_base: str, column_types: dict, input_config=None, output_config=None):
        super().__init__(input_base=input_base, input_config=input_config, output_config=output_config,
                         custom_config=example_gen_config(column_types))  # fmt: skip


class _TimeSplitExampleGen(FileBasedExampleGen):
    def __init__(self, input_base: str, time_column: str, eval_days: float | None = None,
                 eval_start: int | None = None, pattern: str = "*", column_types: dict | None = None):  # fmt: skip
        """Reads every file ``pattern`` matches in ``input_base``; ``eval`` holds the rows at or after the cutoff."""
        super().__init__(
            input_base=input_base,
            input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)]),
            output_config=split_output_config(),
            custom_config=time_split_config(time_column, eval_days, eval_start, column_types),
        )


class TimeSplitCsvExampleGen(_TimeSplitExampleGen):
    """CsvExampleGen with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitCsvExecutor)


class TimeSplitImportExampleGen(_TimeSplitExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitImportExecutor)
