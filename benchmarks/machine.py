"""A description of the machine a benchmark ran on, committed with its results."""

from __future__ import annotations

import json
import os
import platform
import subprocess


def describe() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    try:
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["gpus"] = len(tf.config.list_physical_devices("GPU"))
    except ImportError:
        pass
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        pass
    return info


def summary(info: dict) -> str:
    """One sentence for a report: the machine ``describe`` gave, and the commit."""
    gpus = info.get("gpus") or "no"
    return (
        f"Machine: {info.get('cpu', '?')}, {info['cores']} cores, {info.get('memory_gb', '?')} GB, {gpus} GPU; "
        f"TensorFlow {info.get('tensorflow', '?')}, Python {info['python']}; commit {info.get('commit', '?')}."
    )


def write_results(out_dir: str, name: str, result: dict, report: str) -> None:
    """Writes ``<name>.json`` (machine-readable; numpy numbers as floats) and ``<name>.md`` (the report) and
    prints the report."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2, default=float)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(report)
    print(report)


def finish(result: dict, args, argv: list[str], module: str, seconds: float, default_out: str, markdown) -> None:
    """Records the arguments, the machine, the duration and the command line (``python -m <module> <argv>``)
    in ``result``, then writes it and its report ``markdown(result)`` (``write_results``) to ``args.out`` or
    ``default_out`` (a path without suffix)."""
    result.update(
        args=vars(args),
        machine=describe(),
        seconds=seconds,
        command=f"python -m {module}" + (" " + " ".join(argv) if argv else ""),
    )
    out = os.path.abspath(args.out or default_out)
    write_results(os.path.dirname(out), os.path.basename(out), result, markdown(result))
