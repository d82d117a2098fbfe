"""Command line: write the synthetic multi-task data set and print what it holds.

    python -m data_tools.generate_synthetic --out data/synthetic --rows 20000

Output layout (``--out DIR``)::

    DIR/train/data.csv      rows with ts <  eval_start_ts (or data.tfrecord)
    DIR/eval/data.csv       rows with ts >= eval_start_ts (the week after)
    DIR/manifest.json       config, eval_start_ts, and per-task stats

The files follow ``schemas/synthetic/feature_spec.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

from data_tools import synthetic, writers

# Bumped whenever the bytes written for a config change (v2: unquoted CSV header).
LAYOUT_VERSION = 2


def task_stats(columns: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Rows, positive rate and oracle AP per task key ('metric/flow')."""
    from sklearn.metrics import average_precision_score

    names = synthetic.task_names(columns)
    stats = {}
    for name in sorted(set(names)):
        rows = names == name
        labels = columns["label"][rows]
        stats[name] = {
            "rows": int(rows.sum()),
            "positive_rate": float(labels.mean()),
            "oracle_ap": float(average_precision_score(labels, columns["oracle_p"][rows]))
            if labels.any()
            else float("nan"),
        }
    return stats


def write_dataset(
    config: synthetic.SyntheticConfig, out_dir: str, file_format: str = "csv", progress: bool = False
) -> dict:
    """Generates, splits by time, writes; returns the manifest (also written)."""
    from tqdm import tqdm

    columns = synthetic.generate(config)
    is_eval = columns["ts"] >= config.eval_start_ts
    suffix = "csv" if file_format == "csv" else "tfrecord"
    splits = {"train": ~is_eval, "eval": is_eval}
    for split, rows in tqdm(splits.items(), desc="writing", disable=not progress, unit="split"):
        writers.write(
            {k: v[rows] for k, v in columns.items()}, os.path.join(out_dir, split, f"data.{suffix}"), file_format
        )
    manifest = {
        "layout_version": LAYOUT_VERSION,
        "config": dataclasses.asdict(config),
        "format": file_format,
        "eval_start_ts": config.eval_start_ts,
        "rows": {split: int(rows.sum()) for split, rows in splits.items()},
        "tasks": {split: task_stats({k: v[rows] for k, v in columns.items()}) for split, rows in splits.items()},
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def format_summary(manifest: dict, out_dir: str) -> str:
    lines = [f"Synthetic data written to {os.path.abspath(out_dir)}"]
    for split, count in manifest["rows"].items():
        lines.append(f"  {split}: {count} rows in {split}/data.{'csv' if manifest['format'] == 'csv' else 'tfrecord'}")
    lines.append("")
    lines.append(
        f"{'task':<24}{'train rows':>11}{'pos rate':>10}{'eval rows':>11}{'pos rate':>10}{'oracle AP (eval)':>18}"
    )
    for task, s in manifest["tasks"]["train"].items():
        e = manifest["tasks"]["eval"].get(task, {"rows": 0, "positive_rate": float("nan"), "oracle_ap": float("nan")})
        lines.append(
            f"{task:<24}{s['rows']:>11}{s['positive_rate']:>10.3%}{e['rows']:>11}{e['positive_rate']:>10.3%}"
            f"{e['oracle_ap']:>18.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = synthetic.SyntheticConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/synthetic", help="output folder (default: %(default)s)")
    parser.add_argument(
        "--rows", type=int, default=defaults.num_rows, help="task examples in all (default: %(default)s)"
    )
    parser.add_argument(
        "--tasks",
        type=int,
        default=defaults.num_tasks,
        help="number of metric x flow tasks, 1-64 (default: %(default)s)",
    )
    parser.add_argument(
        "--users", type=int, default=defaults.num_users, help="distinct training users (default: %(default)s)"
    )
    parser.add_argument("--items", type=int, default=defaults.num_items, help="distinct items (default: %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed; same seed, same bytes (default: %(default)s)"
    )
    parser.add_argument(
        "--format", choices=("csv", "tfrecord"), default="csv", help="file format (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        config = synthetic.SyntheticConfig(
            num_rows=args.rows, num_tasks=args.tasks, num_users=args.users, num_items=args.items, seed=args.seed
        )
    except ValueError as e:
        parser.error(str(e))
    start = time.perf_counter()
    manifest = write_dataset(config, args.out, args.format, progress=not args.no_progress and sys.stderr.isatty())
    elapsed = time.perf_counter() - start
    print(format_summary(manifest, args.out))
    print(
        f"\n{config.num_rows} rows in {elapsed:.1f} s ({config.num_rows / elapsed:,.0f} rows/s, generation + writing)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
