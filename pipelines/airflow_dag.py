"""The GRec pipeline as an Airflow DAG (TFX's AirflowDagRunner).

Airflow's pins (werkzeug < 3, SQLAlchemy < 2, ...) conflict with the main
environment's, so Airflow gets its own virtual environment::

    scripts/bootstrap.sh airflow                   # .venv-airflow: tfx + apache-airflow 2.10
    export AIRFLOW_HOME=$PWD/airflow_home GREC_HOME=$PWD
    mkdir -p $AIRFLOW_HOME/dags && ln -s $PWD/pipelines/airflow_dag.py $AIRFLOW_HOME/dags/grec_dag.py
    .venv-airflow/bin/airflow db migrate
    .venv-airflow/bin/airflow dags test grec      # one run now, local executor, SQLite
    # or schedule it: airflow scheduler + airflow webserver, then trigger `grec`

Paths come from ``$GREC_HOME`` as for the local runner (data/synthetic,
pipeline_root/, serving_models/grec/); ``$GREC_TRAIN_STEPS`` overrides the
Trainer's steps. The repository must be importable by Airflow's workers (the
bootstrap writes a .pth file; elsewhere put it on PYTHONPATH).
"""

from __future__ import annotations

import datetime
import os
import sys

if __package__ in (None, ""):  # loaded from Airflow's dags folder: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner, AirflowPipelineConfig  # noqa: E402

from pipelines import config  # noqa: E402

AIRFLOW_CONFIG = {
    "schedule": None,  # run on demand (trigger or `airflow dags test`); set a cron string to schedule
    "start_date": datetime.datetime(2026, 1, 1),
    "catchup": False,
}


def build_dag():
    """Builds the Airflow DAG of the pipeline from the local runner's paths and trainer settings."""
    pipeline = config.build(train_steps=config.env_train_steps())  # None: the pipeline's default
    return AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=AIRFLOW_CONFIG)).run(pipeline)


# Airflow discovers DAG objects at module level.
DAG = build_dag()
