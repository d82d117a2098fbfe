"""The ExampleGen executors: a reader (``readers.READERS``) composed with a splitter (the input's folders, or
the time split) and the quarantine; every one carves ``validation`` from ``train``."""

from __future__ import annotations

import json
import shutil

from absl import logging
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import splits
from components.example_gen.config import read_config
from components.example_gen.quarantine import (
    BAD_ROWS_KEY,
    DEFAULT_MAX_BAD_ROWS,
    BadRows,
    TooManyBadRows,
    summarize,
)
from components.example_gen.readers import BAD_ROWS_URI, READERS
from components.example_gen.splits import VALIDATION
from components.feature_spec import PER_TASK_ROLES, parse_feature_spec


class _CheckedMixin:
    """Runs ExampleGen with the bad rows sent to the ``bad_rows`` output (stops above ``max_bad_rows``)
    and ``validation`` carved from ``train`` (``splits.carve``)."""

    def _input_splits(self, pipeline, exec_properties) -> dict:
        return super().GenerateExamplesByBeam(pipeline, exec_properties)

    def GenerateExamplesByBeam(self, pipeline, exec_properties):  # noqa: N802 (TFX's name)
        by_split = self._input_splits(pipeline, exec_properties)
        config = read_config(exec_properties)
        if config.get("validation_fraction") and "train" in by_split:
            spec = parse_feature_spec(json.loads(config["spec"]))
            not_context = frozenset(c.name for c in spec.columns if c.role in PER_TASK_ROLES)
            time_column = spec.time_column.name if spec.time_column is not None else None
            by_split["train"], by_split[VALIDATION] = splits.carve(
                by_split["train"], config["validation_fraction"], time_column, not_context
            )
            # TFX's Do() set the split names from the input/output configs and writes each split under
            # them after this returns: the new split is named now.
            names = artifact_utils.decode_split_names(self._examples.split_names)
            self._examples.split_names = artifact_utils.encode_split_names([*names, VALIDATION])
        return by_split

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        examples = self._examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
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
        super().Do(input_dict, output_dict, {**exec_properties, BAD_ROWS_URI: quarantine.uri})
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        names = [split.name for split in input_config.splits]
        try:
            summary = summarize(
                quarantine.uri, names, read_config(exec_properties).get("max_bad_rows", DEFAULT_MAX_BAD_ROWS)
            )
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
        return READERS["csv"]


class CheckedImportExecutor(_CheckedMixin, import_executor.Executor):
    """ImportExampleGen's (TFRecord of tf.Example) executor, corrupt records quarantined."""

    def GetInputSourceToExamplePTransform(self):  # noqa: N802 (TFX's name)
        return READERS["tfrecord"]


class _TimeSplitMixin:
    """One input split (every file) split by time into train and eval (``splits.split_by_time``)."""

    def _input_splits(self, pipeline, exec_properties) -> dict:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        if len(input_config.splits) != 1:
            raise ValueError("time split: the input must be one split (every file); the output is train and eval")
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        read = self.GetInputSourceToExamplePTransform()
        records = pipeline | "InputToRecord" >> read(exec_properties, input_config.splits[0].pattern)
        return splits.split_by_time(pipeline, records, read_config(exec_properties))


class TimeSplitCsvExecutor(_TimeSplitMixin, SpecCsvExecutor):
    """The spec-typed CSV executor with the time split."""


class TimeSplitImportExecutor(_TimeSplitMixin, CheckedImportExecutor):
    """ImportExampleGen's (TFRecord of tf.Example) executor with the time split."""
