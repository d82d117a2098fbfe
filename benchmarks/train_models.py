"""Trains GRec and every baseline briefly on the synthetic data; loss must fall and AP beat the positive rate.

    python -m benchmarks.train_models [--rows 60000] [--steps 300] [--models grec,mmoe]

Prints, per model: task loss of the first and last 50 steps, mean AP over
tasks on the eval week, the mean positive rate (a random ranking's AP) and the
oracle's AP (the ceiling); writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks import harness
from models import MODEL_NAMES, training


def run(models, rows, steps, batch_size, seed=0):
    data = harness.prepare_data(num_rows=rows, seed=seed)
    results = {}
    for name in models:
        trained = harness.train_model(name, data, steps=steps, batch_size=batch_size, seed=seed)
        metrics = harness.evaluate(trained, data)
        results[name] = {
            "loss_first": trained.loss_curve[0],
            "loss_last": trained.loss_curve[-1],
            "train_examples_per_second": trained.examples_per_second,
            **metrics["mean"],
            "per_task": metrics["per_task"],
        }
        print(
            f"{name:<14} loss {trained.loss_curve[0]:.4f} -> {trained.loss_curve[-1]:.4f}   "
            f"mean AP {metrics['mean']['ap']:.4f} (positive rate {metrics['mean']['positive_rate']:.4f}, "
            f"oracle {metrics['mean']['oracle_ap']:.4f})   {trained.examples_per_second:,.0f} ex/s",
            flush=True,
        )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=training.BATCH_SIZE)
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--out", default="results/train_models.json")
    args = parser.parse_args(argv)
    results = run(args.models.split(","), args.rows, args.steps, args.batch_size)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    failed = [n for n, r in results.items() if not (r["loss_last"] < r["loss_first"] and r["ap"] > r["positive_rate"])]
    print(
        f"wrote {args.out}; "
        + (f"FAILED: {failed}" if failed else "every model's loss fell and its AP beat the positive rate")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
