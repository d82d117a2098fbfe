"""A CSV nobody here wrote, from file to served model with the README's four commands, run from
outside the repository: draft the spec, convert, run the pipeline, report; then score over gRPC."""

import json
import os
import re
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from tests.data_tools.wide_csv import write_wide_csv

pytestmark = pytest.mark.e2e
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = '{"dim": 16, "num_heads": 2, "num_experts": 4, "top_k": 2, "expert_hidden_dim": 16, "tower_hidden_dim": 16}'


def _run(args, cwd, env):
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _written_in_repository_since(start: float) -> list[str]:
    """Files under the repository (its environments, git and caches aside) modified after ``start``."""
    skip = {".git", ".venv", ".venv-airflow", "__pycache__", ".pytest_cache", ".ruff_cache"}
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [os.path.join(folder, f) for f in files if os.path.getmtime(os.path.join(folder, f)) > start]
    return found


def test_a_wide_csv_goes_from_file_to_served_model_with_four_commands(tmp_path):
    from serving.client import GRecClient
    from serving.launcher import ServerProcess

    work = tmp_path / "work"
    work.mkdir()
    bad_row = [40, "Gov", 3, 37, 0, "1.0", 2, 0]  # a label of 2: rejected by the converter
    write_wide_csv(work / "wide.csv", rows=4_000, seed=1, bad_rows={100: bad_row})
    env = {k: v for k, v in os.environ.items() if k not in ("GREC_HOME", "GREC_SPEC", "GREC_DATA_ROOT")}
    start = time.time()

    table = _run(
        ["data_tools.draft_spec", "--input", "wide.csv", "--labels", "click,conversion", "--out", "my_spec"], work, env
    )
    assert "capital_gain" in table and "buckets=32" in table
    # What a user edits: hours as a float (its data are whole numbers: read as floats all the same),
    # age cut into quantile buckets.
    spec_path = work / "my_spec" / "feature_spec.yaml"
    text = spec_path.read_text()
    text = re.sub(r"hours:\s+\{role: numerical, dtype: int", "hours: {role: numerical, dtype: float", text)
    text = re.sub(
        r"age:\s+\{role: numerical, dtype: int, buckets: 32, value_ids: 256\}",
        "age: {role: numerical, transform: bucketize}",
        text,
    )
    # An integer-coded categorical left at the default dtype (string): its codes are read as words.
    text = re.sub(r"industry_code:\s+\{role: categorical, dtype: int\}", "industry_code: {role: categorical}", text)
    assert (
        "hours: {role: numerical, dtype: float, buckets: 32, value_ids: 256}" in text
        and "transform: bucketize}" in text
    )
    assert "industry_code: {role: categorical}" in text
    # Conversion's loss weighs twice click's, and a learned factor per task on top (Kendall et al.).
    text += "tasks:\n  click: {}\n  conversion: {weight: 2}\nloss_weighting: uncertainty\n"
    spec_path.write_text(text)
    schema = subprocess.run(
        [sys.executable, "-m", "components.schema_draft", str(spec_path)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (work / "my_spec" / "schema.pbtxt").write_text(schema)

    converted = _run(
        [
            "data_tools.wide_to_tasks",
            "--spec",
            "my_spec/feature_spec.yaml",
            "--input",
            "wide.csv",
            "--output",
            "my_data/train/data.csv",
        ],
        work,
        env,
    )
    assert "read 4000 rows, wrote 7998 task examples, rejected 1 rows" in converted
    assert os.listdir(work / "my_data") == ["train"] or sorted(os.listdir(work / "my_data")) == [
        "train",
        "train.rejected",
    ]
    assert os.listdir(work / "my_data" / "train") == ["data.csv"]

    log = _run(
        [
            "pipelines.local_runner",
            "--spec",
            "my_spec/feature_spec.yaml",
            "--data-root",
            "my_data",
            "--train-steps",
            "150",
            "--hyperparameters",
            SMALL,
            "--tune-trials",
            "2",
        ],
        work,
        env,
    )
    assert "train/*, 80/20 hash split" in log and "Trainer done in" in log and "Pusher done in" in log
    assert "feature_spec.yaml: 1 task, 1 label, 4 numerical, 2 categorical; ignored: none" in log  # pre-flight
    # TFX's Tuner ran its 2 trials on the validation split; the Trainer built the best one's model.
    assert "Tuner done in" in log
    root = work / "pipeline_root" / "grec"
    (best_file,) = (root / "Tuner" / "best_hyperparameters").glob("*/best_hyperparameters.txt")
    best = json.loads(best_file.read_text())["values"]
    (results_file,) = (root / "Tuner" / "tuner_results").glob("*/tuner_results.json")
    trials = json.loads(results_file.read_text())
    assert len(trials) == 2 and min(t["score"] for t in trials) == trials[0]["score"]
    assert {k: trials[0][k] for k in best} == best and set(best) >= {"dim", "learning_rate", "num_experts", "top_k"}
    (saved,) = (root / "Trainer" / "model_run").glob("*/model.keras")
    with zipfile.ZipFile(saved) as z:
        built = json.loads(z.read("config.json"))["config"]
    assert {k: built[k] for k in ("dim", "num_experts", "top_k", "embedding_dim")} == {
        k: best[k] for k in ("dim", "num_experts", "top_k", "embedding_dim")
    }
    # The spec's task weights reached the model, by task id (the OOV id weighs 1), and the Trainer logged
    # each task's loss weight (static x learned) every round.
    assert sorted(built["task_weights"]) == [1.0, 1.0, 2.0] and built["loss_weighting"] == "uncertainty"
    history = json.loads((saved.parent / "history.json").read_text())
    rounds = len(history["loss"])
    for task in ("click", "conversion"):
        assert len(history[f"loss_weight/{task}"]) == rounds
    assert history["loss_weight/conversion"][0] != 2.0  # the learned factor moved from 1 in the first round
    assert "cuFFT" not in log and "FutureWarning" not in log  # the libraries' noise stays hidden
    report = _run(["pipelines.report"], work, env)
    assert "task=click" in report and "task=conversion" in report and "blessed: yes" in report
    assert "NE  calibration" in report  # normalized entropy per slice
    assert _written_in_repository_since(start) == []  # nothing written inside the repository

    versions = os.listdir(work / "serving_models" / "grec")
    assert len(versions) == 1
    context = {
        "age": 52,
        "workclass": "Private",
        "industry_code": 2,
        "hours": 40.0,
        "capital_gain": 3000,
        "balance": 120.5,
    }
    with ServerProcess(str(work / "serving_models" / "grec")) as server:
        client = GRecClient(server.target)
        scores = client.predict(
            [
                dict(context, task="click"),
                dict(context, task="conversion"),
                dict(context, task="click", age=18, workclass="?"),
            ]
        )
        client.close()
    assert np.all((scores > 0) & (scores < 1)) and len(set(np.round(scores, 6))) == 3
