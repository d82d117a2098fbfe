"""The Trainer's run_fn under MultiWorkerMirroredStrategy: two worker processes on localhost."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import schemas

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.e2e
def test_two_workers_train_one_model_and_only_the_chief_exports_it(tmp_path):
    from components.transform_check import run_transform

    spec = schemas.path("synthetic", "feature_spec.yaml")
    schema = schemas.path("synthetic", "schema.pbtxt")
    sample = schemas.path("synthetic", "sample.csv")
    run_transform(sample, spec, schema, str(tmp_path / "tft"), transformed_dir=str(tmp_path / "examples"))
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
        )
        command = [
            sys.executable,
            "-m",
            "tests.pipelines.mwms_worker",
            str(tmp_path / "tft"),
            str(tmp_path / "examples" / "part-*"),
            str(tmp_path / "out"),
            str(tmp_path / f"worker{index}.json"),
        ]
        log = open(tmp_path / f"worker{index}.log", "w")
        workers.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for process, log in workers:
        try:
            process.wait(timeout=900)
        finally:
            process.kill()
            log.close()
    for index, (process, _) in enumerate(workers):
        assert process.returncode == 0, (tmp_path / f"worker{index}.log").read_text()[-4000:]
    results = [json.loads((tmp_path / f"worker{index}.json").read_text()) for index in range(2)]
    # Both joined one cluster: two replicas in sync, and all-reduced gradients left identical weights.
    assert [r["replicas"] for r in results] == [2, 2]
    np.testing.assert_allclose(results[0]["weights"], results[1]["weights"], rtol=1e-6)
    assert results[0]["weight_norm"] == pytest.approx(results[1]["weight_norm"], rel=1e-6)
    # The reported loss is the mean over workers, not their sum: task loss + 0.01 balance + 0.001 z-loss.
    for r in results:
        epoch = r["last_epoch"]
        expected = epoch["task_loss"] + 0.01 * epoch["load_balancing_loss"] + 0.001 * epoch["router_z_loss"]
        assert epoch["loss"] == pytest.approx(expected, rel=1e-3), epoch
    # The chief (worker 0) exported where TFX looks; worker 1 saved beside it, not over it.
    assert (tmp_path / "out" / "serving_model" / "saved_model.pb").exists()
    assert (tmp_path / "out" / "workers" / "worker_1" / "serving_model" / "saved_model.pb").exists()
    assert list((tmp_path / "out" / "model_run" / "per_task").iterdir())  # per-task TensorBoard logs by the chief
