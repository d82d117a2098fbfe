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
Trainer's steps. The grec package must be installed in Airflow's environment
(the bootstrap installs it; elsewhere ``pip install .``).
"""

from __future__ import annotations

import datetime

from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner, AirflowPipelineConfig

from pipelines import config

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
