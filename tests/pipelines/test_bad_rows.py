"""ExampleGen in a real TFX run: bad rows quarantined in its `bad_rows` output, the threshold, TFRecord input."""

import csv
import json
import os

import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

import schemas
from components.example_gen.quarantine import TooManyBadRows
from components.feature_spec import load_feature_spec
from pipelines.grec_pipeline import example_gen_component

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = schemas.path("synthetic", "sample.csv")
SPEC = load_feature_spec(schemas.path("synthetic", "feature_spec.yaml"))


def _run_example_gen(root, component):
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="bad_rows",
        pipeline_root=str(root / "pipeline"),
        components=[component],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")
        ),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return root / "pipeline" / component.id


def _count(folder) -> int:
    files = tf.io.gfile.glob(os.path.join(str(folder), "*.gz"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _data(root, bad_train: dict[int, str], bad_eval: dict[int, str]):
    """The 300-row sample as train/ and eval/ (150 rows each) with lines replaced (1-based, header = 1)."""
    with open(SAMPLE) as f:
        lines = f.read().splitlines()
    for split, rows, bad in (("train", lines[1:151], bad_train), ("eval", lines[151:], bad_eval)):
        rows = list(rows)
        for number, text in bad.items():
            rows[number - 2] = text
        os.makedirs(root / "data" / split)
        with open(root / "data" / split / "data.csv", "w") as f:
            f.write("\n".join([lines[0], *rows]) + "\n")
    return str(root / "data")


BROKEN = "1,2,3,this row is broken"


def test_bad_rows_in_both_splits_are_quarantined_and_the_rest_written(tmp_path):
    data = _data(tmp_path, {2: BROKEN, 80: '7,1767253292,"ctr', 151: BROKEN}, {100: BROKEN})
    out = _run_example_gen(tmp_path, example_gen_component(data, SPEC, max_bad_rows=5))
    (examples,) = os.listdir(out / "examples")
    assert _count(out / "examples" / examples / "Split-train") == 147
    assert _count(out / "examples" / examples / "Split-eval") == 149
    (run,) = os.listdir(out / "bad_rows")
    quarantine = out / "bad_rows" / run
    with open(quarantine / "train" / "bad_rows.csv") as f:
        listed = list(csv.DictReader(f))
    assert [(r["line"], r["reason"]) for r in listed] == [
        ("2", "expected 18 fields, found 4"),
        ("80", "a quoted field is never closed (a quote opened on this line runs on over 71 more lines)"),
        ("151", "expected 18 fields, found 4"),
    ]
    assert listed[0]["file"] == os.path.join(data, "train", "data.csv") and listed[0]["row"] == BROKEN
    with open(quarantine / "eval" / "counts.json") as f:
        assert json.load(f) == {"rows": 150, "bad_rows": 1}
    # The summary is in the metadata store too, on both outputs.
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(str(tmp_path / "metadata.sqlite"))
    )
    for type_name in ("grec.BadRows", "Examples"):
        (artifact,) = store.get_artifacts_by_type(type_name)
        assert artifact.custom_properties["bad_rows"].int_value == 4
        by_split = json.loads(artifact.custom_properties["bad_rows_by_split"].string_value)
        assert by_split == {"train": {"rows": 150, "bad_rows": 3}, "eval": {"rows": 150, "bad_rows": 1}}


def test_above_the_threshold_the_run_stops_naming_the_rows_and_the_list(tmp_path):
    data = _data(tmp_path, {5: BROKEN, 6: BROKEN}, {})
    with pytest.raises(TooManyBadRows) as error:
        _run_example_gen(tmp_path, example_gen_component(data, SPEC, max_bad_rows=1))
    message = str(error.value)
    assert "2 bad rows of 150 in input split 'train' (1.333%), more than max_bad_rows=1 (1 rows)" in message
    assert f"{data}/train/data.csv:5: expected 18 fields, found 4" in message
    kept = message.split("All bad rows, with line and reason: ")[1].split("\n")[0]
    with open(kept) as f:  # TFX removed the failed run's outputs; the list was kept where the message says
        assert len(list(csv.DictReader(f))) == 2


def test_a_truncated_tfrecord_file_is_reported_not_a_crash(tmp_path):
    for split in ("train", "eval"):
        os.makedirs(tmp_path / "data" / split)
        with tf.io.TFRecordWriter(str(tmp_path / "data" / split / "data.tfrecord")) as writer:
            for i in range(20):
                example = tf.train.Example()
                example.features.feature["label"].int64_list.value.append(i % 2)
                writer.write(example.SerializeToString())
    path = tmp_path / "data" / "train" / "data.tfrecord"
    path.write_bytes(path.read_bytes()[:-7])  # the last record cut short, as by a copy that died
    out = _run_example_gen(tmp_path, example_gen_component(str(tmp_path / "data"), SPEC, "tfrecord", max_bad_rows=1))
    (examples,) = os.listdir(out / "examples")
    assert _count(out / "examples" / examples / "Split-train") == 19
    (run,) = os.listdir(out / "bad_rows")
    with open(out / "bad_rows" / run / "train" / "bad_rows.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["record"] == "20" and row["reason"].startswith("truncated: a record of")
