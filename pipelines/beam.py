"""Beam pipeline arguments for every runner, in one place.

Locally: the DirectRunner, in multi-process mode (one worker per core) for
data large enough to pay for the process start-up, in memory otherwise.
Distributed: Dataflow, Flink or Spark arguments; the repository must be
installed on the workers (a container image or ``--setup_file``).
"""

from __future__ import annotations

import os


def beam_pipeline_args(runner: str = "direct", workers: int | None = None, **options) -> list[str]:
    """Beam arguments for ``runner`` (``direct``, ``direct-multiprocess``, ``dataflow``, ``flink``, ``spark``).

    Extra ``options`` become ``--key=value`` (e.g. project, region, temp_location
    for Dataflow; flink_master for Flink; spark_master_url for Spark).
    """
    workers = workers or os.cpu_count() or 1
    if runner == "direct":
        args = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    elif runner == "direct-multiprocess":
        args = ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    elif runner == "dataflow":
        args = ["--runner=DataflowRunner", "--experiments=use_runner_v2"]
    elif runner == "flink":
        args = ["--runner=FlinkRunner", f"--parallelism={workers}"]
    elif runner == "spark":
        args = ["--runner=SparkRunner"]
    else:
        raise ValueError(f"Unknown Beam runner. Received: `runner={runner!r}`")
    return args + [f"--{key}={value}" for key, value in options.items()]
