"""End to end on small data: the whole pipeline, cached re-run, a weaker model not pushed, the anomaly gate."""

import csv
import io
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from data_tools import generate_synthetic, synthetic
from pipelines import local_runner
from pipelines.report import component_times, latest_evaluation, slice_table, validation
from tests.tensorboard_events import read_events

pytestmark = pytest.mark.e2e

SMALL_MODEL = {
    "model": "grec",
    "hyperparameters": {
        "dim": 32,
        "num_heads": 4,
        "expert_hidden_dim": 32,
        "tower_hidden_dim": 32,
        "tower_dim": 16,
        "encoder_options": {"text_hidden_dim": 16, "history_hidden_dim": 16},
    },
}
COMPONENTS = 10  # ExampleGen ... Pusher, the gate and the resolver included


def _paths(root):
    return {
        "data_root": str(root / "data"),
        "pipeline_root": str(root / "pipeline"),
        "serving_model_dir": str(root / "serving" / "grec"),
        "metadata_path": str(root / "pipeline" / "metadata.sqlite"),
    }


def _executions(paths):
    config = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"])
    store = metadata_store.MetadataStore(config)
    _TYPE_NAMES.update({t.id: t.name for t in store.get_execution_types()})
    return store.get_executions()


_TYPE_NAMES: dict[int, str] = {}  # execution type id -> component class path, filled by _executions


def _component(execution):
    """The component class of an execution, e.g. 'tfx.components.trainer.component.Trainer'."""
    return _TYPE_NAMES[execution.type_id]


def _versions(paths):
    folder = paths["serving_model_dir"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _spoil(path: str, edits: dict[int, tuple[str, str] | str]) -> dict[int, str]:
    """Replaces line n (1-based, header = 1) of a CSV file: a column's value (column, value) or the whole
    line; a line number past the end appends. Returns the bad lines as written."""
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[0].split(",")
    for number, edit in sorted(edits.items()):
        if isinstance(edit, tuple):
            row = next(csv.reader([lines[number - 1]]))
            row[header.index(edit[0])] = edit[1]
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(row)
            edit = out.getvalue()
        if number > len(lines):
            lines.append(edit)
        else:
            lines[number - 1] = edit
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    paths = _paths(root)
    generate_synthetic.write_dataset(synthetic.SyntheticConfig(num_rows=12_000, seed=4), paths["data_root"])
    # Real exports hold a few broken rows: at the start, in the middle and at the end, in both splits.
    train, evaluation = (os.path.join(paths["data_root"], split, "data.csv") for split in ("train", "eval"))
    with open(train) as f:
        end = sum(1 for _ in f) + 1
    _spoil(train, {2: ("label", "2"), 500: ("price", "abc"), end: "1,2,3,this row is broken"})
    _spoil(evaluation, {40: ("task", "")})
    local_runner.run(paths, trainer_config=SMALL_MODEL, train_steps=120)
    return {**paths, "bad_rows": {"train": [2, 500, end], "eval": [40]}}


def test_pipeline_pushes_a_blessed_model_with_per_task_slices(first_run):
    paths = first_run
    executions = _executions(paths)
    assert len(executions) == COMPONENTS
    assert all(e.last_known_state == metadata_store_pb2.Execution.COMPLETE for e in executions)
    versions = _versions(paths)
    assert len(versions) == 1 and os.path.exists(
        os.path.join(paths["serving_model_dir"], versions[0], "saved_model.pb")
    )
    evaluation = latest_evaluation(paths["pipeline_root"])
    slices = {row["slice"]: row for row in slice_table(evaluation)}
    for key in ("overall", "task=ctr", "task=cvr", "flow=upgrade", "flow=new_line, task=atc"):
        assert key in slices, key
    assert slices["overall"]["auc"] > 0.6 and slices["overall"]["average_precision"] > slices["overall"]["mean_label"]
    assert slices["task=ctr"]["normalized_entropy"] < 1  # better than predicting ctr's positive rate
    assert validation(evaluation)[0]
    # Three splits: the Trainer early-stopped on `validation`, carved from the training week's latest rows.
    (examples,) = os.listdir(os.path.join(paths["pipeline_root"], "CsvExampleGen", "examples"))
    splits = sorted(os.listdir(os.path.join(paths["pipeline_root"], "CsvExampleGen", "examples", examples)))
    assert splits == ["Split-eval", "Split-train", "Split-validation"], splits
    # The bad rows did not stop the run: ExampleGen quarantined exactly them, with line and reason.
    (run,) = os.listdir(os.path.join(paths["pipeline_root"], "CsvExampleGen", "bad_rows"))
    for split, lines in paths["bad_rows"].items():
        with open(os.path.join(paths["pipeline_root"], "CsvExampleGen", "bad_rows", run, split, "bad_rows.csv")) as f:
            listed = list(csv.DictReader(f))
        assert [int(row["line"]) for row in listed] == lines, listed
        assert all(row["reason"] and row["file"].endswith(f"{split}/data.csv") for row in listed)
    # The main job's per-component wall times come from the metadata store.
    times = {component: (state, seconds) for component, state, seconds in component_times(paths["metadata_path"])}
    assert len(times) == COMPONENTS and {state for state, _ in times.values()} == {"complete"}
    assert times["Trainer"][1] > 1 and times["Transform"][1] > 1
    # The Trainer logged AP per main task to TensorBoard while it trained, beside Keras' own metrics.
    events = read_events(os.path.join(paths["pipeline_root"], "Trainer", "model_run"))
    for tag in ("ap/ctr", "ap/cvr", "auc/atc", "ne/ctr", "loss_weight/cvr", "busiest_expert_share/churn", "epoch_loss"):
        assert tag in events, sorted(events)
    # By default every validation round scored the whole validation split: its task rows add up to its examples.
    split = os.path.join(paths["pipeline_root"], "CsvExampleGen", "examples", examples, "Split-validation", "*")
    examples_in_split = sum(1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(split), compression_type="GZIP"))
    rows_per_round = {}
    for tag, values in events.items():
        if tag.startswith("rows/"):
            for step, value in values:
                rows_per_round[step] = rows_per_round.get(step, 0) + int(value)
    assert len(rows_per_round) >= 2 and set(rows_per_round.values()) == {examples_in_split}, rows_per_round


def test_pushed_model_scores_serialized_examples(first_run):
    paths = first_run
    model = tf.saved_model.load(os.path.join(paths["serving_model_dir"], _versions(paths)[0]))
    assert set(model.signatures) == {"serving_default", "serve_raw"}
    example = tf.train.Example()
    for key, value in dict(
        task="cvr",
        flow="upgrade",
        surface="app",
        user_id="u_unseen",
        item_id="i3",
        region="r1",
        query="deal now",
        hist_items="i3 i4",
        image_emb=" ".join(["0.0"] * 16),
    ).items():
        example.features.feature[key].bytes_list.value.append(value.encode())
    example.features.feature["device"].int64_list.value.append(1)
    for key, value in dict(price=40.0, discount=0.2, tenure_days=100.0).items():
        example.features.feature[key].float_list.value.append(value)
    scores = model.signatures["serving_default"](examples=tf.constant([example.SerializeToString()] * 3))
    probability = scores["probability"].numpy()
    assert probability.shape == (3,) and np.all((probability > 0) & (probability < 1))
    raw = model.signatures["serve_raw"](
        task=tf.constant(["cvr"]),
        flow=tf.constant(["upgrade"]),
        surface=tf.constant(["app"]),
        user_id=tf.constant(["u_unseen"]),
        item_id=tf.constant(["i3"]),
        region=tf.constant(["r1"]),
        device=tf.constant([1], tf.int64),
        price=tf.constant([40.0]),
        tenure_days=tf.constant([100.0]),
        data_gb=tf.constant([np.nan], tf.float32),
        discount=tf.constant([0.2]),
        query=tf.constant(["deal now"]),
        hist_items=tf.constant(["i3 i4"]),
        image_emb=tf.constant([" ".join(["0.0"] * 16)]),
    )
    # Same row both ways (data_gb missing in both): the same score.
    np.testing.assert_allclose(raw["probability"].numpy()[0], probability[0], rtol=1e-5)


def test_unchanged_rerun_is_cached(first_run):
    paths = first_run
    local_runner.run(paths, trainer_config=SMALL_MODEL, train_steps=120)
    executions = _executions(paths)
    new = executions[COMPONENTS:]
    assert len(new) == COMPONENTS
    not_cached = sorted(
        _component(e).rsplit(".", 1)[-1] for e in new if e.last_known_state != metadata_store_pb2.Execution.CACHED
    )
    # Data, statistics, Transform and Trainer are reused. The resolver always runs (a query); the Evaluator
    # runs again because its baseline changed (now the first run's blessed model), and the Pusher then finds
    # that model already served and pushes no new version.
    assert not_cached == ["Evaluator", "Pusher", "Resolver"], not_cached
    states = {component: state for component, state, _ in component_times(paths["metadata_path"])}  # the latest run
    assert states["Trainer"] == states["Transform"] == "cached" and states["Evaluator"] == "complete"
    assert len(_versions(paths)) == 1


def test_weaker_model_is_not_pushed(first_run):
    paths = first_run
    before = _versions(paths)
    weak = {**SMALL_MODEL, "learning_rate": 1e-7}
    local_runner.run(paths, trainer_config=weak, train_steps=2, eval_steps=2, min_auc=0.0)
    evaluation = latest_evaluation(paths["pipeline_root"])
    blessed, reasons = validation(evaluation)
    assert not blessed and any("auc" in r for r in reasons)
    assert _versions(paths) == before


def test_drifted_eval_split_stops_before_the_trainer(tmp_path):
    paths = _paths(tmp_path)
    generate_synthetic.write_dataset(synthetic.SyntheticConfig(num_rows=3_000, seed=6), paths["data_root"])
    eval_csv = os.path.join(paths["data_root"], "eval", "data.csv")
    with open(eval_csv) as f:
        lines = f.readlines()
    # Corrupt the eval week: every `surface` becomes a value outside the curated domain.
    header = lines[0].strip().split(",")
    col = header.index("surface")
    rows = [line.rstrip("\n").split(",") for line in lines[1:]]
    for row in rows:
        row[col] = '"kiosk"'
    with open(eval_csv, "w") as f:
        f.write(lines[0] + "".join(",".join(r) + "\n" for r in rows))
    with pytest.raises(Exception) as err:
        local_runner.run(paths, trainer_config=SMALL_MODEL, train_steps=5, eval_steps=1)
    message = str(err.value)
    assert "split 'eval', feature 'surface'" in message, message[:2000]
    ran = {_component(e).rsplit(".", 1)[-1] for e in _executions(paths)}
    assert "ExampleValidator" in ran and not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}, ran
    shutil.rmtree(tmp_path, ignore_errors=True)
