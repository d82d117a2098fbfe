"""The readers: CSV with the feature spec's column types, TFRecord of ``tf.Example``; each sends bad rows
(or corrupt records) to the quarantine instead of failing (``quarantine.read_checked``)."""

from __future__ import annotations

import json
import os

import apache_beam as beam
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.example_gen.config import read_config
from components.example_gen.quarantine import (
    CSV_COLUMNS,
    TFRECORD_COLUMNS,
    ReadCsv,
    ReadTfRecord,
    read_checked,
)
from components.feature_spec import parse_feature_spec

BAD_ROWS_URI = "_bad_rows_uri"  # exec property the quarantining Do() hands to the record readers


def _input_split(exec_properties, pattern: str) -> str:
    config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
    return next(split.name for split in config.splits if split.pattern == pattern)


class CheckedRecords(beam.PTransform):
    """Records of one input split's files, bad ones to ``<bad_rows uri>/<split>/`` (``quarantine.read_checked``)."""

    COLUMNS = CSV_COLUMNS

    def __init__(self, exec_properties, split_pattern: str):
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._config = read_config(exec_properties)
        self._folder = os.path.join(exec_properties[BAD_ROWS_URI], _input_split(exec_properties, split_pattern))

    def reader(self, files: list[str]) -> beam.DoFn:
        raise NotImplementedError

    def expand(self, pipeline):
        files = sorted(fileio.glob(self._pattern))
        if not files:
            raise RuntimeError(f"Split pattern {self._pattern} does not match any files.")
        return read_checked(pipeline, files, self.reader(files), self._folder, self.COLUMNS)


class SpecCsvToExample(CheckedRecords):
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
        return ReadCsv(header, columns, spec.regression_tasks, spec.nonnegative_tasks)


class TfRecordToExample(CheckedRecords):
    """ImportExampleGen's reading (serialized tf.Example) with corrupt records quarantined, not fatal."""

    COLUMNS = TFRECORD_COLUMNS

    def reader(self, files):
        return ReadTfRecord()


# input format -> the PTransform that reads it (``GetInputSourceToExamplePTransform``)
READERS = {"csv": SpecCsvToExample, "tfrecord": TfRecordToExample}
