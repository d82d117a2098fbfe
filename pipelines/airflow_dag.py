"""The GRec pipeline as an Airflow DAG (TFX's AirflowDagRunner).

Airflow's pins (werkzeug < 3, SQLAlchemy < 2, ...) conflict with the main
environment's, so Airflow gets its own virtual environment::

    scripts/bootstrap.sh airflow                   # .venv-airflow: tfx + apache-airflow 2.10
    export AIRFLOW_HOME=$PWD/airflow_home GREC_HOME=$PWD
    export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=120   # this file imports TFX and TensorFlow: 14 s on 2 cores
    mkdir -p $AIRFLOW_HOME/dags && ln -s $PWD/pipelines/airflow_dag.py $AIRFLOW_HOME/dags/grec_dag.py
    .venv-airflow/bin/airflow db migrate
    .venv-airflow/bin/airflow dags test grec      # one run now, local executor, SQLite
    # or on a schedule: GREC_SCHEDULE="0 3 * * *" airflow scheduler (+ airflow webserver)

Paths come from ``$GREC_HOME``, ``$GREC_SPEC`` and ``$GREC_DATA_ROOT`` as for the
local runner (data/synthetic, pipeline_root/, serving_models/grec/); the model and
its training from ``$GREC_MODEL``, ``$GREC_PRESET``, ``$GREC_HYPERPARAMETERS`` and
``$GREC_TRAIN_STEPS`` (``pipelines.config.options_from_env``). The grec package
must be installed in Airflow's environment (the bootstrap installs it; elsewhere
``pip install .``).
"""

from __future__ import annotations

import datetime
import os

from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner, AirflowPipelineConfig

from pipelines import config

AIRFLOW_CONFIG = {
    # $GREC_SCHEDULE: a cron string ("0 3 * * *": every day at 03:00) or a preset ("@daily"); unset: on
    # demand (a trigger, or `airflow dags test`).
    "schedule": os.environ.get("GREC_SCHEDULE", "").strip() or None,
    "start_date": datetime.datetime(2026, 1, 1),
    "catchup": False,  # a missed day is not replayed: the next run reads the data as it is then
}


def build_dag():
    """Builds the Airflow DAG of the pipeline the way every runner builds it (``pipelines.config``), its
    model and training from the environment as the TFX CLI's file reads them (``options_from_env``)."""
    pipeline = config.build(**config.options_from_env(config.default_paths()["data_root"]))
    return AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=AIRFLOW_CONFIG)).run(pipeline)


# Airflow discovers DAG objects at module level.
DAG = build_dag()
