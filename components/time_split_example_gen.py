"""ExampleGen executors that split one input by time, not by hash.

TFX's ExampleGen splits a single input by hashing (``output_config``); a
recommender must be evaluated on the period after the one it trained on, so
these executors read every input file and put each row in ``eval`` when its
time column is at or after the cutoff, else in ``train``. The cutoff is either
``eval_start`` (unix seconds) or ``eval_days`` before the latest timestamp in
the data. ``pipelines/grec_pipeline.py`` uses them when ``time_split`` is given:

    TimeSplitCsvExampleGen(input_base=data_root, time_column="ts", eval_days=7)
"""

from __future__ import annotations

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

DAY = 86_400
SPLITS = ("train", "eval")


def time_split_config(time_column: str, eval_days: float | None = None, eval_start: int | None = None):
    """The ExampleGen ``custom_config`` of a time split: exactly one of ``eval_days`` or ``eval_start``."""
    if (eval_days is None) == (eval_start is None):
        raise ValueError("time split: give exactly one of eval_days (before the latest time) or eval_start")
    if eval_days is not None and eval_days <= 0:
        raise ValueError(f"time split: eval_days must be > 0, got {eval_days}")
    values = struct_pb2.Struct()
    values.update({"time_column": time_column, **({"eval_days": eval_days} if eval_days is not None else {}),
                   **({"eval_start": eval_start} if eval_start is not None else {})})  # fmt: skip
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(values)
    return config


def split_output_config() -> example_gen_pb2.Output:
    """Declares the two output splits (their hash buckets are unused by the time split)."""
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=1) for name in SPLITS]
        )
    )


def _read_config(exec_properties) -> dict:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    values = struct_pb2.Struct()
    if not config.custom_config.Unpack(values):
        raise ValueError("time split: ExampleGen custom_config must come from time_split_config()")
    return dict(values)


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


class TimeSplitCsvExecutor(_TimeSplitMixin, csv_executor.Executor):
    """CsvExampleGen's executor with the time split."""


class TimeSplitImportExecutor(_TimeSplitMixin, import_executor.Executor):
    """ImportExampleGen's (TFRecord of tf.Example) executor with the time split."""


class _TimeSplitExampleGen(FileBasedExampleGen):
    def __init__(self, input_base: str, time_column: str, eval_days: float | None = None,
                 eval_start: int | None = None):  # fmt: skip
        """Reads every file in ``input_base``; ``eval`` holds the rows at or after the cutoff."""
        super().__init__(
            input_base=input_base,
            input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern="*")]),
            output_config=split_output_config(),
            custom_config=time_split_config(time_column, eval_days=eval_days, eval_start=eval_start),
        )


class TimeSplitCsvExampleGen(_TimeSplitExampleGen):
    """CsvExampleGen with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitCsvExecutor)


class TimeSplitImportExampleGen(_TimeSplitExampleGen):
    """ImportExampleGen (TFRecord of tf.Example) with the time split."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TimeSplitImportExecutor)
