"""The Airflow DAG, run for real: `airflow dags test` with Airflow's SQLite database, in .venv-airflow.

In the default run (one small end-to-end run per runner): ./test.sh installs .venv-airflow first
(`scripts/bootstrap.sh airflow`); the call here finds it installed and only checks its stamp.
"""

import csv
import os
import re
import subprocess

import pytest

from data_tools import generate_synthetic, synthetic
from tests.pipelines import COMPONENTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = COMPONENTS | {"latest_blessed_model_resolver"}


@pytest.mark.e2e
def test_airflow_dag_runs_the_pipeline_and_pushes(tmp_path):
    install = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "bootstrap.sh"), "airflow"], capture_output=True, text=True, timeout=1800
    )
    assert install.returncode == 0, install.stderr[-3000:]
    airflow = os.path.join(ROOT, ".venv-airflow", "bin", "airflow")
    home = tmp_path / "grec_home"
    generate_synthetic.write_dataset(
        synthetic.SyntheticConfig(num_rows=12_000, seed=8), str(home / "data" / "synthetic")
    )
    # One broken row: ExampleGen must quarantine it under Airflow's launcher too (it once got no bad_rows output).
    with open(home / "data" / "synthetic" / "train" / "data.csv", "a") as f:
        f.write("a,row,with,too,few,fields\n")
    dags = tmp_path / "airflow" / "dags"
    dags.mkdir(parents=True)
    (dags / "grec_dag.py").symlink_to(os.path.join(ROOT, "pipelines", "airflow_dag.py"))
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GREC_HOME=str(home),
        GREC_TRAIN_STEPS="40",
        TF_CPP_MIN_LOG_LEVEL="2",
        # The documented 120 s (docs/pipeline.md) and more: the default run shares 2 cores with other tests, and
        # Airflow's default 30 s let the DAG's import (14 s idle) time out once under that load.
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="600",
    )
    env.pop("PYTHONPATH", None)  # the Airflow venv must find the repository by itself (its .pth)
    for command in (["db", "migrate"], ["dags", "list"], ["dags", "test", "grec"]):
        done = subprocess.run([airflow, *command], env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"airflow {' '.join(command)}:\n" + done.stdout[-3000:] + done.stderr[-3000:]
        if command[1] == "list" and not re.search(r"^grec\s*\|", done.stdout, re.M):
            errors = subprocess.run([airflow, "dags", "list-import-errors"], env=env, capture_output=True, text=True)
            pytest.fail("no grec DAG listed:\n" + done.stdout[-2000:] + errors.stdout[-3000:])
    log = done.stdout + done.stderr
    succeeded = set(re.findall(r"Marking task as SUCCESS\. dag_id=grec, task_id=(\w+)", log))
    assert succeeded == TASKS, log[-3000:]
    assert "DagRun Finished: dag_id=grec" in log and "state=success" in log
    (quarantine,) = (home / "pipeline_root" / "grec" / "CsvExampleGen" / "bad_rows").glob("*/train/bad_rows.csv")
    with open(quarantine) as f:
        (bad,) = list(csv.DictReader(f))
    assert bad["row"] == "a,row,with,too,few,fields" and bad["file"].endswith("train/data.csv"), bad
    versions = os.listdir(home / "serving_models" / "grec")
    assert len(versions) == 1 and (home / "serving_models" / "grec" / versions[0] / "saved_model.pb").exists()
