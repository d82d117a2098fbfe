"""Equal, static and learned task-loss weights: GRec trained three ways on the same rows, paired per task.

    python -m benchmarks.loss_weighting movielens [--seeds 3]
    python -m benchmarks.loss_weighting synthetic [--seeds 3]
    python -m benchmarks.loss_weighting movielens --seeds 1 --max-steps 250 --out /tmp/w   # a test

Variants (the model's ``task_weights`` and ``loss_weighting``, what the feature spec's `tasks:` section and
`loss_weighting` set in the pipeline, ``models.task_types``):

* ``equal``: every task weighs 1 (the default);
* ``static``: each main task's weight 1 / H(p), H the entropy of its positive rate p in the training rows,
  scaled to a mean of 1 over the tasks: the loss becomes the tasks' normalized entropies' sum, so a rare task
  (small H) is not drowned by a frequent one;
* ``uncertainty``: a learned log-variance per task (Kendall et al. 2018), equal static weights.

The data go through ``benchmarks.quality.datasets.prepare`` once; the same seeds train each variant by the
quality protocol's recipe, and ``benchmarks.quality.compare.paired`` gives variant - equal per task on the same
test rows (bootstrap over examples, mean over seeds), for AP, AUC and normalized entropy
(``components.task_metrics``; lower is better).

Writes results/loss_weighting_<dataset>.json and .md.
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

DATASETS = ("movielens", "adult", "synthetic")
VARIANTS = ("equal", "static", "uncertainty")


def entropy_weights(task_ids: np.ndarray, labels: np.ndarray, num_tasks: int) -> list[float]:
    """1 / H(positive rate) per main-task id seen in ``task_ids``, scaled to a mean of 1 over them; 1 for ids
    not seen (OOV buckets)."""
    from components.task_metrics import entropy

    seen = np.unique(task_ids)
    raw = {int(t): 1.0 / entropy(float(labels[task_ids == t].mean())) for t in seen}
    mean = float(np.mean(list(raw.values())))
    return [raw[t] / mean if t in raw else 1.0 for t in range(num_tasks)]


def overrides(variant: str, data) -> dict:
    """The model keyword arguments of ``variant`` on ``data`` (a ``benchmarks.harness.Data``)."""
    if variant == "equal":
        return {}
    if variant == "uncertainty":
        return {"loss_weighting": "uncertainty"}
    config = data.input_config
    ids = np.asarray(data.train_x[config.main_task]).reshape(-1)
    return {"task_weights": entropy_weights(ids, np.asarray(data.train_y).reshape(-1), config.num_tasks)}


def ne_difference(labels, scores_a, scores_b) -> dict:
    """A's normalized entropy minus B's, 95 % interval, and the verdict for A (lower is better)."""
    from components.intervals import paired_difference
    from components.task_metrics import normalized_entropy

    d = paired_difference(normalized_entropy, labels, scores_a, scores_b, resamples=300)
    verdict = "better" if d.high < 0 else "worse" if d.low > 0 else "no difference detected"
    return {"difference": d.value, "low": d.low, "high": d.high, "verdict": verdict}


def run(dataset: str, seeds: int, max_steps: int, work: str) -> dict:
    from benchmarks.quality.compare import metrics, paired
    from benchmarks.quality.datasets import prepare
    from benchmarks.quality.learners import Budget, DeepLearner
    from components.task_metrics import normalized_entropy

    budget = Budget(max_steps, training.STEPS_PER_ROUND, training.BATCH_SIZE, None)
    prepared = prepare(dataset, work)
    data = prepared[0]
    scores, steps, weights = {}, {}, {}
    for variant in VARIANTS:
        learner = DeepLearner(variant, "grec", overrides(variant, data))
        runs = []
        for seed in range(seeds):
            run_scores, trained, model = learner.fit_score(prepared, seed, budget)
            runs.append(run_scores)
            steps.setdefault(variant, []).append(trained)
            weights.setdefault(variant, []).append(model.effective_loss_weights())
            print(f"  {variant:<12} seed {seed}: {trained} steps, loss weights by task id {weights[variant][-1]}")
        scores[variant] = np.stack(runs)
    labels, tasks = data.eval_y, data.eval_tasks
    result = {"steps": steps, "loss_weights": weights, "tasks": {}}
    for task in sorted(set(tasks)):
        rows = tasks == task
        y = labels[rows]
        entry = {"test_rows": int(rows.sum()), "positives": int(y.sum()), "ap": {}, "ne": {}, "vs_equal": {}}
        for name, s in scores.items():
            entry["ap"][name] = float(np.mean([metrics(y, r[rows])["ap"] for r in s]))
            entry["ne"][name] = float(np.mean([normalized_entropy(y, r[rows]) for r in s]))
            if name != "equal":
                entry["vs_equal"][name] = {
                    **paired(y, s[:, rows], scores["equal"][:, rows]),
                    "ne": ne_difference(y, s[:, rows], scores["equal"][:, rows]),
                }
        result["tasks"][task] = entry
    return result


def markdown(result: dict) -> str:
    from benchmarks.quality.compare import difference_cell

    a = result["args"]
    lines = [
        f"# Task-loss weights: {a['dataset']}",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]) + f" {result['seconds'] / 60:.0f} min.",
        "",
        f"GRec, small preset, the quality protocol's recipe, {a['seeds']} seeds, at most {a['max_steps']} steps; "
        "only the task-loss weighting differs (`benchmarks/loss_weighting.py` says how each variant's weights are "
        "set). Steps kept per seed: " + ", ".join(f"{v} {s}" for v, s in result["steps"].items()) + ".",
        "",
        "Each variant's loss weight per main-task id at the end of training (static x learned; seed 0): "
        + "; ".join(f"{v} {[round(w, 3) for w in ws[0]]}" for v, ws in result["loss_weights"].items())
        + ".",
        "",
        "| task | positives / rows | variant | AP | NE | variant - equal: AP [95 % CI] | AUC [95 % CI] | "
        "NE [95 % CI] (lower is better) |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]
    for task, e in result["tasks"].items():
        for name in VARIANTS:
            d = e["vs_equal"].get(name)
            cells = (
                [difference_cell(d["ap"]), difference_cell(d["auc"]), difference_cell(d["ne"])] if d else ["", "", ""]
            )
            lines.append(
                f"| {task} | {e['positives']:,} / {e['test_rows']:,} | {name} | {e['ap'][name]:.4f} | "
                f"{e['ne'][name]:.4f} | " + " | ".join(cells) + " |"
            )
    lines += ["", "Verdicts per variant against equal weights (tasks): "]
    for name in VARIANTS[1:]:
        counts = {}
        for metric in ("ap", "auc", "ne"):
            found = [e["vs_equal"][name][metric]["verdict"] for e in result["tasks"].values()]
            counts[metric] = ", ".join(f"{found.count(v)} {v}" for v in ("better", "no difference detected", "worse"))
        lines.append(f"- {name}: AP {counts['ap']}; AUC {counts['auc']}; NE {counts['ne']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=training.MAX_STEPS)
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", help="output path without suffix (default: results/loss_weighting_<dataset>)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result = run(args.dataset, args.seeds, args.max_steps, args.work or scratch)
    default_out = os.path.join(RESULTS, f"loss_weighting_{args.dataset}")
    machine.finish(result, args, argv, "benchmarks.loss_weighting", time.perf_counter() - start, default_out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
