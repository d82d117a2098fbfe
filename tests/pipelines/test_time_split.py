"""ExampleGen's time split of one input (CSV or TFRecord): eval is the last days, never a hash sample."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from components.example_gen.config import time_split_config
from components.example_gen.splits import DAY
from components.feature_spec import load_feature_spec
from data_tools import synthetic, writers
from pipelines import local_runner
from pipelines.grec_pipeline import example_gen_component


def _times(examples_dir, split):
    files = glob.glob(os.path.join(examples_dir, f"Split-{split}", "*"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return np.array(
        [tf.train.Example.FromString(r.numpy()).features.feature["ts"].int64_list.value[0] for r in records]
    )


@pytest.mark.e2e
@pytest.mark.parametrize("data_format", ["csv", "tfrecord"])
def test_example_gen_splits_one_input_by_time(tmp_path, data_format):
    columns = synthetic.generate(synthetic.SyntheticConfig(num_rows=3_000, seed=3))
    data_root = tmp_path / "data"
    writers.write(columns, str(data_root / f"all.{data_format}"), data_format)
    paths = {
        "data_root": str(data_root),
        "pipeline_root": str(tmp_path / "root"),
        "metadata_path": str(tmp_path / "root" / "m.sqlite"),
        "serving_model_dir": str(tmp_path / "serving"),
    }
    local_runner.check_data_root(paths["data_root"], data_format=data_format, one_input=True)
    spec = load_feature_spec(local_runner.default_paths()["feature_spec_path"])
    example_gen = example_gen_component(
        paths["data_root"], spec, data_format, time_split={"eval_days": 7}, validation_fraction=0.1
    )
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"])
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="split_only",
            pipeline_root=paths["pipeline_root"],
            components=[example_gen],
            metadata_connection_config=metadata,
        )
    )
    [examples_dir] = glob.glob(os.path.join(paths["pipeline_root"], example_gen.id, "examples", "*"))
    train, validation, evals = (_times(examples_dir, split) for split in ("train", "validation", "eval"))
    cutoff = columns["ts"].max() - 7 * DAY
    assert len(train) + len(validation) + len(evals) == len(columns["ts"])
    assert len(evals) == (columns["ts"] >= cutoff).sum() > 0
    # Validation is the latest tenth of the training period, just before eval.
    assert train.max() <= validation.min() and validation.max() < cutoff <= evals.min()
    assert abs(len(validation) / (len(train) + len(validation)) - 0.1) < 0.03


def test_time_split_config_rejects_ambiguous_or_empty_windows():
    with pytest.raises(ValueError, match="exactly one of eval_days"):
        time_split_config("ts")
    with pytest.raises(ValueError, match="exactly one of eval_days"):
        time_split_config("ts", eval_days=7, eval_start=1)
    with pytest.raises(ValueError, match="eval_days must be > 0"):
        time_split_config("ts", eval_days=0)


def test_a_row_without_its_time_is_named():
    from components.example_gen.splits import time_of as _time_of

    example = tf.train.Example()
    example.features.feature["task"].bytes_list.value.append(b"ctr")
    with pytest.raises(ValueError, match=r"time column 'ts' must hold one number per row.*ctr"):
        _time_of(example.SerializeToString(), "ts")
    example.features.feature["ts"].int64_list.value.append(1767253292)
    assert _time_of(example, "ts") == 1767253292
