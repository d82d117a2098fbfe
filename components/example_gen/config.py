"""The ExampleGen's ``custom_config``: the feature spec, the bad-row threshold, the validation share and the
time split, packed as TFX's CustomConfig and read back by the executors."""

from __future__ import annotations

import json

from google.protobuf import struct_pb2
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.example_gen.splits import SPLITS
from components.row_check import DEFAULT_MAX_BAD_ROWS


def example_gen_config(
    spec: dict | None = None,
    time_column: str | None = None,
    eval_days: float | None = None,
    eval_start: int | None = None,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
    validation_fraction: float = 0.0,
):
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
        values.update(
            {
                "time_column": time_column,
                **({"eval_days": eval_days} if eval_days is not None else {}),
                **({"eval_start": eval_start} if eval_start is not None else {}),
            }
        )
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(values)
    return config


def time_split_config(
    time_column: str,
    eval_days: float | None = None,
    eval_start: int | None = None,
    spec: dict | None = None,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
    validation_fraction: float = 0.0,
):
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


def read_config(exec_properties) -> dict:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}", config)
    values = struct_pb2.Struct()
    if not config.custom_config.Unpack(values):
        raise ValueError("ExampleGen custom_config must come from example_gen_config()")
    return dict(values)
