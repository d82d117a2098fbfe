"""Two binary tasks, a conditional one and a regression one in one spec (``schemas/synthetic_tasks``): the data
from the generator's funnel and regression options; trained, evaluated per task and type, blessed, pushed, and
scored over gRPC and REST with each task's answer in its label's units."""

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pandas as pd
import portpicker
import pytest

pytestmark = pytest.mark.e2e
SMALL = '{"dim": 16, "num_heads": 2, "num_experts": 4, "top_k": 2, "expert_hidden_dim": 16, "tower_hidden_dim": 16}'


def _run(args, cwd, env):
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_binary_conditional_and_regression_tasks_go_from_data_to_served_values(tmp_path):
    from serving.client import GRecClient, serialize_rows
    from serving.launcher import ServerProcess

    env = {k: v for k, v in os.environ.items() if k not in ("GREC_HOME", "GREC_SPEC", "GREC_DATA_ROOT")}
    _run(
        [
            "data_tools.generate_synthetic",
            *("--out", "data/synthetic_tasks", "--rows", "16000", "--funnel", "--regression", "--no-progress"),
        ],
        tmp_path,
        env,
    )
    log = _run(
        [
            "pipelines.local_runner",
            *("--dataset", "synthetic_tasks", "--train-steps", "300", "--hyperparameters", SMALL),
        ],
        tmp_path,
        env,
    )
    assert "Pusher done in" in log
    root = tmp_path / "pipeline_root" / "grec"
    (saved,) = (root / "Trainer" / "model_run").glob("*/model.keras")
    history = json.loads((saved.parent / "history.json").read_text())
    assert {"val_rmse/spend", "val_mae/spend", "val_ap/cvr"} <= set(history)  # per task and type, every round
    assert "val_ap/spend" not in history

    # Evaluated per task and type: the binary table without spend's rows, the regression table with them only.
    report = _run(["pipelines.report"], tmp_path, env)
    assert "blessed: yes" in report, report
    binary, regression = report.split("regression tasks, slice")
    assert "task=ctr" in binary and "task=cvr" in binary and "task=spend" not in binary
    overall = next(line for line in binary.splitlines() if line.startswith("overall ")).split()
    assert "nan" not in overall  # spend's rows weigh 0 in the binary metrics, NE included
    eval_rows = pd.read_csv(tmp_path / "data" / "synthetic_tasks" / "eval" / "data.csv")
    spend = eval_rows[eval_rows["task"] == "spend"]
    line = next(row for row in regression.splitlines() if row.startswith("task=spend "))
    count, rmse, mae, mean_label, mean_prediction = (float(x) for x in line.split()[1:6])
    assert count == len(spend) and mean_label == pytest.approx(spend["label"].mean(), rel=1e-3)
    # In the label's units: a mean prediction near the mean amount, an error below the spread of the amounts.
    assert 0.5 < mean_prediction / mean_label < 1.5 and rmse < 1.2 * spend["label"].std()
    assert mae < rmse
    # The per-task gate judged spend on RMSE and MAE, the binary tasks on AP and AUC.
    gate = re.findall(r"^(\w+)\s+\d+\s+(\w+)", report.split("per-task gate")[1], re.M)
    assert ("spend", "rmse") in gate and ("spend", "mae") in gate and ("ctr", "average_precision") in gate

    # Pushed, and served: a binary task answers a probability, spend an amount, over gRPC and REST alike.
    (version,) = os.listdir(tmp_path / "serving_models" / "grec")
    manifest_path = tmp_path / "serving_models" / "grec" / version / "assets.extra" / "grec_features.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["task"]["types"] == {"atc": "binary", "ctr": "binary", "cvr": "binary", "spend": "regression"}
    assert manifest["task"]["given"] == {"cvr": "ctr"}
    features = [name for name in manifest]
    rows = []
    for task in ("ctr", "cvr", "spend"):
        row = eval_rows[eval_rows["task"] == task].iloc[0]
        rows.append(
            {
                name: (None if pd.isna(row[name]) else row[name].item() if hasattr(row[name], "item") else row[name])
                for name in features
            }
        )
    rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
    port = portpicker.pick_unused_port()
    with ServerProcess(str(tmp_path / "serving_models" / "grec"), extra_args=[f"--rest_api_port={port}"]) as server:
        client = GRecClient(server.target)
        try:
            scores = client.predict(rows)
            examples = serialize_rows(rows, client.feature_dtypes())
        finally:
            client.close()
        body = json.dumps({"inputs": {"examples": [{"b64": base64.b64encode(e).decode()} for e in examples]}})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models/grec:predict", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            rest = json.loads(response.read())["outputs"]
    np.testing.assert_allclose(rest, scores, rtol=1e-6)
    assert 0 < scores[0] < 1 and 0 < scores[1] < 1  # ctr, cvr: probabilities
    assert 2 < scores[2] < 500  # spend: an amount (median about 20), not a probability
