"""What bounded and hashed ids cost in quality: GRec with every value's id (the drafted spec) against the
same data with `min_count` and with `hash_buckets` on the id columns, paired per task.

    python -m benchmarks.vocabulary movielens [--seeds 2] [--hash 256,512] [--min-count 5]
    python -m benchmarks.vocabulary movielens --seeds 1 --max-steps 250 --out /tmp/v   # a test

The data go through ``benchmarks.quality.datasets.prepare`` (draft, conversion, the pipeline's Transform)
once per variant; only the id columns' options differ (``--columns``, default the data set's user and item
ids). The same seeds train GRec on each, by the quality protocol's recipe (``benchmarks.real_data``), and
``benchmarks.quality.compare.paired`` gives variant - full per task on the same test rows (bootstrap over
examples, mean over seeds). Each id column's table rows are reported beside it.

Writes results/vocabulary_<dataset>.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import RESULTS, machine
from models import training

ID_COLUMNS = {"movielens": ("user_id", "movie_id")}


def variants(columns, hash_buckets, min_count) -> dict:
    """{name: {column: options}}: the drafted spec, `min_count` on every id column, `hash_buckets` on each."""
    return {
        "full": {},
        f"min_count {min_count}": {c: {"min_count": min_count} for c in columns},
        "hashed": {c: {"hash_buckets": n} for c, n in zip(columns, hash_buckets, strict=True)},
    }


def run(dataset: str, columns, hash_buckets, min_count: int, seeds: int, max_steps: int, work: str) -> dict:
    from benchmarks.quality.compare import metrics, paired
    from benchmarks.quality.datasets import prepare
    from benchmarks.quality.learners import Budget, DeepLearner

    budget = Budget(max_steps, training.STEPS_PER_ROUND, training.BATCH_SIZE, None)
    learner = DeepLearner("grec", "grec")
    scores, tables, steps = {}, {}, {}
    labels = tasks = None
    for name, options in variants(columns, hash_buckets, min_count).items():
        prepared = prepare(dataset, os.path.join(work, name.replace(" ", "_")), set_options=options)
        data = prepared[0]
        sizes = dict(data.input_config.categorical)
        tables[name] = {c: int(sizes[c]) for c in columns}
        runs = []
        for seed in range(seeds):
            run_scores, trained, _ = learner.fit_score(prepared, seed, budget)
            runs.append(run_scores)
            steps.setdefault(name, []).append(trained)
            print(f"  {name:<12} seed {seed}: {trained} steps, tables {tables[name]}", flush=True)
        scores[name] = np.stack(runs)
        if labels is None:
            labels, tasks = data.eval_y, data.eval_tasks
        elif not np.array_equal(labels, data.eval_y) or not np.array_equal(tasks, data.eval_tasks):
            raise AssertionError(f"variant {name!r} has other test rows than the first: no paired comparison")
    result = {"tables": tables, "steps": steps, "tasks": {}}
    for task in sorted(set(tasks)):
        rows = tasks == task
        y = labels[rows]
        entry = {"test_rows": int(rows.sum()), "positives": int(y.sum()), "ap": {}, "vs_full": {}}
        for name, s in scores.items():
            entry["ap"][name] = float(np.mean([metrics(y, r[rows])["ap"] for r in s]))
            if name != "full":
                entry["vs_full"][name] = paired(y, s[:, rows], scores["full"][:, rows])
        result["tasks"][task] = entry
    return result


def markdown(result: dict) -> str:
    a = result["args"]
    names = list(result["tables"])
    lines = [
        f"# Bounded and hashed ids: {a['dataset']}",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]) + f" {result['seconds'] / 60:.0f} min.",
        "",
        f"GRec, small preset, the quality protocol's recipe, {a['seeds']} seeds, at most {a['max_steps']} steps. "
        "Only the id columns' options differ between the variants; every other column is as drafted.",
        "",
        "| variant | " + " | ".join(f"`{c}` rows" for c in a["columns"]) + " | steps kept |",
        "|---|" + "---:|" * len(a["columns"]) + "---|",
    ]
    for name in names:
        rows = " | ".join(f"{result['tables'][name][c]:,}" for c in a["columns"])
        lines.append(f"| {name} | {rows} | {result['steps'][name]} |")
    lines += ["", "| task | positives / rows | variant | AP | variant - full: AP [95 % CI] | verdict | AUC [95 % CI] |"]
    lines.append("|---|---:|---|---:|---:|---|---:|")
    for task, e in result["tasks"].items():
        for name in names:
            d = e["vs_full"].get(name)
            ap = f"{d['ap']['difference']:+.4f} [{d['ap']['low']:+.4f}, {d['ap']['high']:+.4f}]" if d else ""
            auc = f"{d['auc']['difference']:+.4f} [{d['auc']['low']:+.4f}, {d['auc']['high']:+.4f}]" if d else ""
            lines.append(
                f"| {task} | {e['positives']:,} / {e['test_rows']:,} | {name} | {e['ap'][name]:.4f} | {ap} | "
                f"{d['ap']['verdict'] if d else ''} | {auc} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(ID_COLUMNS))
    parser.add_argument("--columns", help="id columns, comma-separated (default: the data set's user and item)")
    parser.add_argument("--hash", default="256,512", help="hash buckets per id column, comma-separated")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=training.MAX_STEPS)
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", help="output path without suffix (default: results/vocabulary_<dataset>)")
    args = parser.parse_args(argv)
    args.columns = args.columns.split(",") if args.columns else list(ID_COLUMNS[args.dataset])
    hash_buckets = [int(n) for n in args.hash.split(",")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result = run(
            args.dataset, args.columns, hash_buckets, args.min_count, args.seeds, args.max_steps, args.work or scratch
        )
    default_out = os.path.join(RESULTS, f"vocabulary_{args.dataset}")
    machine.finish(result, args, argv, "benchmarks.vocabulary", time.perf_counter() - start, default_out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
