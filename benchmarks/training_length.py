"""Is a model under-trained at the paper-claims budget? Eval AP of each model at its tuned setting as the
number of training steps grows, on the paper-claims data (seed 0, same batches for every model).

    python -m benchmarks.training_length [--models grec ple] [--steps 500 1500] [--settings results/paper_claims.json]

Writes results/training_length.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks import harness, machine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["grec", "ple"])
    parser.add_argument("--steps", nargs="+", type=int, default=[500, 1500])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--settings", default="results/paper_claims.json",
                        help="take each model's tuned setting from this paper-claims result")  # fmt: skip
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    with open(args.settings) as f:
        tuned = {name: row["setting"] for name, row in json.load(f)["quality"].items()}
    data = harness.prepare_data(num_rows=args.rows, seed=0, validation_days=7)
    rows = []
    for name in args.models:
        setting = tuned[name]
        for steps in args.steps:
            trained = harness.train_model(name, data, steps=steps, batch_size=args.batch_size, seed=0,
                                          learning_rate=setting["learning_rate"],
                                          hyperparameters=harness.tuned_hyperparameters(name, setting))  # fmt: skip
            metrics = harness.evaluate(trained, data)["mean"]
            rows.append({"model": name, "setting": setting, "steps": steps, "mean_ap": metrics["ap"],
                         "ap_over_oracle": metrics["ap_over_oracle"], "final_train_loss": trained.loss_curve[-1]})  # fmt: skip
            print(f"  {name:<12} {steps:>5} steps  AP {metrics['ap']:.4f}", flush=True)
    info = machine.describe()
    lines = ["# Eval AP as training grows (seed 0)", "",
             f"Command: `python -m benchmarks.training_length --models {' '.join(args.models)} --steps "
             f"{' '.join(map(str, args.steps))}`; {args.rows} rows, batches of {args.batch_size}, each model at its "
             f"tuned setting from {args.settings}.  ",
             f"Machine: {info.get('cpu', '?')}, {info['cores']} cores; commit {info.get('commit', '?')}.", "",
             "| model | setting | steps | mean AP | AP / oracle | last train loss |", "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['model']} | lr {r['setting']['learning_rate']:g}, dim {r['setting']['dim']} | {r['steps']} | "
                     f"{r['mean_ap']:.4f} | {r['ap_over_oracle']:.3f} | {r['final_train_loss']:.4f} |")  # fmt: skip
    machine.write_results(args.out, "training_length", {"rows": rows, "args": vars(args), "machine": info},
                          "\n".join(lines) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
