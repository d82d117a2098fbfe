"""Benchmarks of the paper's claims on this project's synthetic data, reported whichever way they fall.

    python -m benchmarks.paper_claims --quick        # minutes: small data, 1 seed, short training
    python -m benchmarks.paper_claims                # full: 400k rows, 3 seeds, longer training

1. Quality: GRec (task_sentence) vs single-task, Shared-Bottom, MMoE, PLE and
   dense GRec; mean and spread over seeds of AP per task and AP / oracle AP.
2. Routing ablation at E=8, K=4: AP and serving cost of token, sentence, task,
   task_sentence; whether task_sentence reaches 90 % of token's AP at <= 60 % of its cost.
3. Expert sweep E x K: AP vs analytic FLOPs, busiest-expert share (routing collapse).
4. Task scaling: serving cost per example as the number of tasks N grows, GRec vs
   MMoE vs PLE vs Shared-Bottom.
5. Training throughput (examples / s) of GRec vs MMoE at equal width.

Every model gets the same data, encoders, optimizer, batch size and number of
steps (``benchmarks/harness.py``). Not yet done: a tuning grid chosen on a
validation split (every model runs at the harness defaults).
Writes results/paper_claims.json, results/paper_claims.md and PNG plots.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from benchmarks import harness, machine

QUALITY_MODELS = ("grec", "dense_grec", "single_task", "shared_bottom", "mmoe", "ple")
ROUTING_MODES = ("token", "sentence", "task", "task_sentence")


def _mean_std(values):
    return float(np.mean(values)), float(np.std(values))


def quality(data_by_seed, steps, batch_size):
    rows = {}
    for name in QUALITY_MODELS:
        runs = [harness.evaluate(harness.train_model(name, data, steps=steps, batch_size=batch_size, seed=seed), data)
                for seed, data in data_by_seed.items()]  # fmt: skip
        tasks = sorted(runs[0]["per_task"])
        rows[name] = {
            "mean_ap": _mean_std([r["mean"]["ap"] for r in runs]),
            "ap_over_oracle": _mean_std([r["mean"]["ap_over_oracle"] for r in runs]),
            "mean_auc": _mean_std([r["mean"]["auc"] for r in runs]),
            "per_task_ap": {t: _mean_std([r["per_task"][t]["ap"] for r in runs if t in r["per_task"]]) for t in tasks},
            "oracle_ap": {t: runs[0]["per_task"][t]["oracle_ap"] for t in tasks},
        }
        print(
            f"  quality {name:<14} mean AP {rows[name]['mean_ap'][0]:.4f} +- {rows[name]['mean_ap'][1]:.4f}", flush=True
        )
    return rows


def _serving_cost(name, input_config, params, batch=256, repeats=5):
    import tensorflow as tf

    from models import build_model
    from models.input_config import example_inputs

    model = build_model(name, input_config, **params)
    x = {k: tf.constant(v) for k, v in example_inputs(input_config, batch).items()}
    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward(x)
    forward(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(x).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch * 1e6


def routing_ablation(data, steps, batch_size, seeds):
    from models.flops import model_flops

    rows = {}
    for mode in ROUTING_MODES:
        params = dict(harness.default_hyperparameters("grec"), routing=mode)
        aps = [harness.evaluate(harness.train_model("grec", data, steps=steps, batch_size=batch_size, seed=s,
                                                    hyperparameters=dict(params)), data)["mean"]["ap"] for s in seeds]  # fmt: skip
        rows[mode] = {"mean_ap": _mean_std(aps), "us_per_example": _serving_cost("grec", data.input_config, params),
                      "body_flops": model_flops("grec", data.input_config, **params)}  # fmt: skip
        print(
            f"  routing {mode:<14} AP {rows[mode]['mean_ap'][0]:.4f}  {rows[mode]['us_per_example']:.1f} us/example",
            flush=True,
        )
    token, ts = rows["token"], rows["task_sentence"]
    ap_ratio = ts["mean_ap"][0] / token["mean_ap"][0]
    cost_ratio = ts["us_per_example"] / token["us_per_example"]
    verdict = {"ap_ratio": ap_ratio, "cost_ratio": cost_ratio, "claim_holds": ap_ratio >= 0.9 and cost_ratio <= 0.6}
    return rows, verdict


def expert_sweep(data, steps, batch_size, experts=(8, 16, 32), top_ks=(2, 4, 6)):
    from models.flops import model_flops

    rows = []
    for e in experts:
        for k in top_ks:
            if k > e:
                continue
            params = dict(harness.default_hyperparameters("grec"), num_experts=e, top_k=k)
            trained = harness.train_model(
                "grec", data, steps=steps, batch_size=batch_size, hyperparameters=dict(params)
            )
            metrics = harness.evaluate(trained, data)
            shares = trained.models["*"].moe.utilization.shares_by_task()
            counts = np.asarray(trained.models["*"].moe.utilization.counts)
            overall = counts.sum(0) / max(counts.sum(), 1)
            rows.append({"num_experts": e, "top_k": k, "mean_ap": metrics["mean"]["ap"],
                         "body_flops": model_flops("grec", data.input_config, **params),
                         "busiest_expert_share": float(overall.max()), "shares_by_task": shares.tolist()})  # fmt: skip
            print(
                f"  sweep E={e:<3} K={k}  AP {rows[-1]['mean_ap']:.4f}  busiest {rows[-1]['busiest_expert_share']:.2f}",
                flush=True,
            )
    frontier, best = [], -1.0
    for row in sorted(rows, key=lambda r: r["body_flops"]):
        if row["mean_ap"] > best:
            frontier.append((row["num_experts"], row["top_k"]))
            best = row["mean_ap"]
    return rows, frontier


def task_scaling(task_counts=(2, 4, 8, 16, 32)):
    from models.flops import model_flops
    from models.input_config import InputConfig

    rows = []
    for n in task_counts:
        # N main-task ids: towers (all models), gates (MMoE, PLE) and task experts (PLE) are indexed by them.
        config = InputConfig(task_columns=[("task", n), ("flow", 3), ("surface", 4)], categorical=[("user_id", 5000)],
                             numerical=["price", "tenure_days"], text=("query", 200, 8), history=("hist_items", 3000, 20),
                             image=("image_emb", 16))  # fmt: skip
        row = {"num_tasks": n}
        for name in ("grec", "mmoe", "ple", "shared_bottom"):
            params = harness.default_hyperparameters(name)
            row[f"{name}_us"] = _serving_cost(name, config, params)
            row[f"{name}_flops"] = model_flops(name, config, **params)
        rows.append(row)
        print(
            f"  tasks N={n:<3} "
            + "  ".join(f"{m} {row[m + '_us']:.1f}us" for m in ("grec", "mmoe", "ple", "shared_bottom")),
            flush=True,
        )
    return rows


def plots(result, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality_rows = result["quality"]
    tasks = sorted(next(iter(quality_rows.values()))["per_task_ap"])
    fig, ax = plt.subplots(figsize=(12, 4))
    width = 0.8 / (len(quality_rows) + 1)
    for i, (name, row) in enumerate(quality_rows.items()):
        ax.bar(np.arange(len(tasks)) + i * width, [row["per_task_ap"][t][0] for t in tasks], width, label=name)
    oracle = next(iter(quality_rows.values()))["oracle_ap"]
    ax.bar(
        np.arange(len(tasks)) + len(quality_rows) * width, [oracle[t] for t in tasks], width, label="oracle", color="k"
    )
    ax.set_xticks(np.arange(len(tasks)) + 0.4, tasks, rotation=30)
    ax.set_ylabel("AP (eval week)")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "paper_claims_quality.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    for row in result["expert_sweep"]:
        ax.scatter(row["body_flops"] / 1e6, row["mean_ap"])
        ax.annotate(f"E{row['num_experts']}K{row['top_k']}", (row["body_flops"] / 1e6, row["mean_ap"]), fontsize=7)
    ax.set_xlabel("body MFLOPs / example")
    ax.set_ylabel("mean AP")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "paper_claims_expert_sweep.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    for name in ("grec", "mmoe", "ple", "shared_bottom"):
        ax.plot(
            [r["num_tasks"] for r in result["task_scaling"]],
            [r[f"{name}_us"] for r in result["task_scaling"]],
            "o-",
            label=name,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tasks N")
    ax.set_ylabel("us / example (batch 256)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "paper_claims_task_scaling.png"))


def markdown(result) -> str:
    info, args = result["machine"], result["args"]
    lines = ["# The paper's claims, measured", "",
             f"Command: `python -m benchmarks.paper_claims{' --quick' if args['quick'] else ''}`; {args['rows']} rows, "
             f"{len(args['seeds'])} seed(s), {args['steps']} steps of {args['batch_size']}.  ",
             f"Machine: {info.get('cpu', '?')}, {info['cores']} cores, no GPU; commit {info.get('commit', '?')}.", "",
             "## 1. Quality (mean AP over tasks, eval week)", "", "| model | mean AP | AP / oracle | mean AUC |", "|---|---:|---:|---:|"]  # fmt: skip
    for name, row in result["quality"].items():
        lines.append(
            f"| {name} | {row['mean_ap'][0]:.4f} +- {row['mean_ap'][1]:.4f} | {row['ap_over_oracle'][0]:.3f} | {row['mean_auc'][0]:.4f} |"
        )
    lines += ["", "![quality](paper_claims_quality.png)", "", "## 2. Routing ablation (E=8, K=4)", "",
              "| routing | mean AP | us / example (batch 256) | body MFLOPs |", "|---|---:|---:|---:|"]  # fmt: skip
    for mode, row in result["routing"].items():
        lines.append(
            f"| {mode} | {row['mean_ap'][0]:.4f} | {row['us_per_example']:.1f} | {row['body_flops'] / 1e6:.2f} |"
        )
    v = result["routing_verdict"]
    lines += ["", f"task_sentence / token: AP {v['ap_ratio']:.3f}, cost {v['cost_ratio']:.3f}; "
              f"'90 % of the AP at <= 60 % of the cost': {'holds' if v['claim_holds'] else 'does not hold'} here.", "",
              "## 3. Expert sweep", "", "| E | K | mean AP | body MFLOPs | busiest expert share |", "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in result["expert_sweep"]:
        lines.append(
            f"| {row['num_experts']} | {row['top_k']} | {row['mean_ap']:.4f} | {row['body_flops'] / 1e6:.2f} | {row['busiest_expert_share']:.2f} |"
        )
    lines += ["", f"Pareto frontier (AP vs FLOPs): {result['pareto_frontier']}", "", "![sweep](paper_claims_expert_sweep.png)", "",
              "## 4. Serving cost as tasks grow (us / example, batch 256)", "", "| N | GRec | MMoE | PLE | Shared-Bottom |", "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in result["task_scaling"]:
        lines.append(
            f"| {row['num_tasks']} | {row['grec_us']:.1f} | {row['mmoe_us']:.1f} | {row['ple_us']:.1f} | {row['shared_bottom_us']:.1f} |"
        )
    t = result["throughput"]
    lines += ["", "![scaling](paper_claims_task_scaling.png)", "", "## 5. Training throughput", "",
              f"GRec {t['grec']:.0f} examples/s, MMoE {t['mmoe']:.0f} examples/s (ratio {t['grec'] / t['mmoe']:.2f})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smallest", action="store_true", help="the tiniest configuration (unit test)")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.smallest:
        rows, seeds, steps, batch, experts, top_ks, tasks = 6_000, [0], 4, 64, (4,), (2,), (2, 4)
    elif args.quick:
        rows, seeds, steps, batch, experts, top_ks, tasks = 60_000, [0], 200, 256, (8, 16), (2, 4), (2, 8, 32)
    else:
        rows, seeds, steps, batch, experts, top_ks, tasks = (
            400_000,
            [0, 1, 2],
            1500,
            512,
            (8, 16, 32),
            (2, 4, 6),
            (2, 4, 8, 16, 32),
        )
    data_by_seed = {seed: harness.prepare_data(num_rows=rows, seed=seed) for seed in seeds}
    data = data_by_seed[seeds[0]]
    result = {"args": {"quick": args.quick, "rows": rows, "seeds": seeds, "steps": steps, "batch_size": batch}}
    result["quality"] = quality(data_by_seed, steps, batch)
    result["routing"], result["routing_verdict"] = routing_ablation(data, steps, batch, seeds)
    result["expert_sweep"], result["pareto_frontier"] = expert_sweep(data, steps, batch, experts, top_ks)
    result["task_scaling"] = task_scaling(tasks)
    result["throughput"] = {n: harness.train_model(n, data, steps=max(steps // 2, 2), batch_size=batch).examples_per_second
                            for n in ("grec", "mmoe")}  # fmt: skip
    result["machine"] = machine.describe()
    os.makedirs(args.out, exist_ok=True)
    plots(result, args.out)
    machine.write_results(args.out, "paper_claims", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
