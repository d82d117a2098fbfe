"""Writes the synthetic multi-task data set (train/ and eval/, or one folder per day: spans) and prints what it holds.

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
    """Rows, positive rate and oracle AP per task key ('metric/flow'); a regression task's rows, mean label and
    oracle RMSE."""
    from sklearn.metrics import average_precision_score

    from components.task_metrics import rmse

    names = synthetic.task_names(columns)
    stats = {}
    for name in sorted(set(names)):
        rows = names == name
        labels = columns["label"][rows]
        if name.split("/")[0] == synthetic.REGRESSION_METRIC:
            oracle = columns["oracle_p"][rows]
            stats[name] = {"rows": int(rows.sum()), "mean": float(labels.mean()), "oracle_rmse": rmse(labels, oracle)}
            continue
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


SPAN_EVAL_FRACTION = 0.2  # the last fifth of each span's period is its eval split


def write_spans(
    config: synthetic.SyntheticConfig,
    out_dir: str,
    span_days: int = 1,
    drift_spans=(),
    file_format: str = "csv",
) -> dict:
    """Writes the training period as spans of ``span_days`` days, TFX's layout (``pipelines/spans.py``):
    ``out_dir/span-N/train/`` and ``eval/`` (the last ``SPAN_EVAL_FRACTION`` of the span's period).
    In each of ``drift_spans`` the ``surface`` column drifts: every row's surface is the generator's
    rarest one (a day of logs from one broken client), what the drift check between days must stop.
    Returns the manifest (also written)."""
    if span_days < 1 or config.train_days % span_days:
        raise ValueError(f"span_days {span_days} must divide the {config.train_days} days into whole spans")
    columns = synthetic.generate(config)
    suffix = "csv" if file_format == "csv" else "tfrecord"
    spans = {}
    for span in range(1, config.train_days // span_days + 1):
        start = synthetic.START_TS + (span - 1) * span_days * synthetic.DAY
        end = start + span_days * synthetic.DAY
        eval_start = end - int(SPAN_EVAL_FRACTION * span_days * synthetic.DAY)
        rows = (columns["ts"] >= start) & (columns["ts"] < end)
        part = {k: v[rows] for k, v in columns.items()}
        if span in drift_spans:
            part["surface"] = np.full(len(part["surface"]), synthetic.SURFACES[-1], dtype=part["surface"].dtype)
        is_eval = part["ts"] >= eval_start
        for split, chosen in (("train", ~is_eval), ("eval", is_eval)):
            path = os.path.join(out_dir, f"span-{span}", split, f"data.{suffix}")
            writers.write({k: v[chosen] for k, v in part.items()}, path, file_format)
        spans[span] = {"rows": int(rows.sum()), "eval_rows": int(is_eval.sum()), "drift": span in drift_spans}
    manifest = {
        "layout_version": LAYOUT_VERSION,
        "config": dataclasses.asdict(config),
        "format": file_format,
        "span_days": span_days,
        "spans": spans,
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
        if "mean" in s:  # a regression task: its mean and the oracle's RMSE
            e = manifest["tasks"]["eval"].get(task, {"rows": 0, "mean": float("nan"), "oracle_rmse": float("nan")})
            lines.append(
                f"{task:<24}{s['rows']:>11}{s['mean']:>10.2f}{e['rows']:>11}{e['mean']:>10.2f}"
                f"{'RMSE ' + format(e['oracle_rmse'], '.2f'):>18}  (regression: mean, oracle RMSE)"
            )
            continue
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
    parser.add_argument(
        "--days",
        type=int,
        help="write DAYS days of logs as spans, OUT/span-1 ... (TFX's span layout), instead of train/ and eval/",
    )
    parser.add_argument("--span-days", type=int, default=1, help="days per span (default: %(default)s)")
    parser.add_argument(
        "--drift-span", type=int, action="append", default=[], metavar="N", help="span N's surface column drifts"
    )
    parser.add_argument(
        "--funnel",
        action="store_true",
        help="a conversion only after a click: no cvr row where ctr's label is 0 (fewer rows than --rows)",
    )
    parser.add_argument(
        "--regression",
        action="store_true",
        help="churn becomes spend, a regression task (log-normal amounts; oracle_p is its expectation)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        days = {"train_days": args.days, "eval_days": 1} if args.days else {}
        config = synthetic.SyntheticConfig(
            num_rows=args.rows,
            num_tasks=args.tasks,
            num_users=args.users,
            num_items=args.items,
            seed=args.seed,
            funnel=args.funnel,
            regression=args.regression,
            **days,
        )
        if args.days:
            manifest = write_spans(config, args.out, args.span_days, args.drift_span, args.format)
            print(f"{len(manifest['spans'])} spans written to {os.path.abspath(args.out)}: {manifest['spans']}")
            return 0
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
