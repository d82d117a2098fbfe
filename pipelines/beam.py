"""Beam pipeline arguments for every runner, in one place.

Locally: the DirectRunner, in memory, or in multi-process mode (one worker
per core). ``auto`` (the local runner's default) picks between them by the
input's size: ``MULTIPROCESS_MIN_BYTES`` and what it rests on are below.
Distributed: Dataflow, Flink or Spark arguments, with the runner's own options
(``--beam-option KEY=VALUE``); the repository must be installed on the workers
(a container image or ``--setup_file``).
"""

from __future__ import annotations

import os

RUNNERS = ("direct", "direct-multiprocess", "dataflow", "flink", "spark")
AUTO = "auto"
# Measured: the multi-process DirectRunner against the in-memory one, the same pipeline and data, each size in a
# fresh process (benchmarks/scale.py --beam-runner direct-multiprocess, results/scale_multiprocess.md, against
# results/scale.md; 2 cores, one run each). At 100k task examples (27 MB of CSV) the whole pipeline took 13 %
# longer; at 400k (108 MB) 10 % less (ExampleGen, StatisticsGen, Transform, Evaluator 7 %, 6 %, 12 %, 29 % less),
# at about twice the peak memory (1.9 to 2.4x). From 100 MB: the smallest input measured to gain, rounded down.
MULTIPROCESS_MIN_BYTES: int | None = 100 * 2**20


def input_bytes(folders) -> int:
    """The bytes of every file under ``folders`` (what ExampleGen will read)."""
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


def resolve(runner: str, data_bytes: int, cores: int | None = None) -> tuple[str, str]:
    """(the runner, why): ``auto`` becomes ``direct-multiprocess`` for inputs of at least
    ``MULTIPROCESS_MIN_BYTES`` on a machine of several cores, else ``direct``; any other runner stays."""
    if runner != AUTO:
        return runner, f"Beam runner {runner} (asked)"
    cores = cores or os.cpu_count() or 1
    size = f"{data_bytes / 2**20:,.0f} MB of input"
    if MULTIPROCESS_MIN_BYTES is not None and cores > 1 and data_bytes >= MULTIPROCESS_MIN_BYTES:
        return "direct-multiprocess", f"Beam: DirectRunner, {cores} processes ({size}, multi-process from " + (
            f"{MULTIPROCESS_MIN_BYTES / 2**20:,.0f} MB)"
        )
    return "direct", f"Beam: DirectRunner in memory ({size}; --beam-runner direct-multiprocess for {cores} processes)"


def local_args(runner: str, folders, options: dict | None = None) -> list[str]:
    """Beam arguments for a local run reading ``folders``: ``runner`` resolved (``auto`` by their size, said on
    the output), with ``options``."""
    chosen, why = resolve(runner, input_bytes(folders))
    print(why, flush=True)
    return beam_pipeline_args(chosen, **(options or {}))


def parse_options(items) -> dict:
    """``["project=p", "region=r"]`` -> ``{"project": "p", "region": "r"}`` (``--beam-option``)."""
    options = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--beam-option {item!r}: expected KEY=VALUE, e.g. temp_location=gs://bucket/tmp")
        options[key.lstrip("-")] = value
    return options


def add_arguments(parser, default: str) -> None:
    """``--beam-runner`` and ``--beam-option``, the same for every command that builds the pipeline."""
    parser.add_argument(
        "--beam-runner",
        default=default,
        choices=(AUTO, *RUNNERS) if default == AUTO else RUNNERS,
        help=f"Beam runner for the data components (default: {default}; pipelines/beam.py)",
    )
    parser.add_argument(
        "--beam-option",
        action="append",
        metavar="KEY=VALUE",
        help="a Beam pipeline option, repeatable: project=, region=, temp_location= (Dataflow), "
        "flink_master= (Flink), spark_master_url= (Spark), setup_file=, sdk_container_image=",
    )


def distributed(args) -> bool:
    """Whether Beam arguments ``args`` name a runner beyond this machine (any ``--runner`` but the direct one)."""
    runners = [arg.split("=", 1)[1] for arg in args or () if arg.startswith("--runner=")]
    return any(runner not in ("DirectRunner", "direct", "BundleBasedDirectRunner") for runner in runners)


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
