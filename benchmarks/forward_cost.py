"""Forward cost per example of every routing mode and baseline, and sparse vs dense dispatch as E grows.

    python -m benchmarks.forward_cost [--batch 2048] [--dim 256] [--repeats 5] [--quick]

Part 1, at B=2048, D=256, E=8, K=4 (the paper's settings): wall time of one
forward pass (compiled ``tf.function``, median of ``--repeats`` after warm-up)
for GRec in each routing mode, dense GRec and each baseline, as microseconds
per example and as a ratio to GRec (task_sentence), beside analytic FLOPs per
example. Part 2: the MoE layer alone on [B, T, D] tokens, sparse and dense
dispatch at E = 8, 16, 32, 64 with K = 4: the sparse path's time relative to
its time at E = 8 (target: at most 1.25x at E = 64) and relative to dense.

Writes results/forward_cost.json and results/forward_cost.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from benchmarks import machine

SYNTHETIC_LIKE = dict(
    task_columns=[("task", 5), ("flow", 3), ("surface", 4)],
    categorical=[("user_id", 5010), ("item_id", 3010), ("region", 31), ("device", 6)],
    numerical=["price", "tenure_days", "data_gb", "discount"],
    text=("query", 214, 8),
    history=("hist_items", 3002, 20),
    image=("image_emb", 16),
)


def time_calls(fn, repeats, warmup=2, statistic=statistics.median):
    """``statistic`` of ``repeats`` timed calls of ``fn`` in seconds, after ``warmup`` untimed calls (the first
    traces). The one timing loop of the cost benchmarks."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistic(times)


def model_costs(batch, dim, repeats, num_experts=8, top_k=4):
    import tensorflow as tf

    from models import build_model
    from models.flops import encoder_flops, model_flops
    from models.input_config import InputConfig, example_inputs

    config = InputConfig(**SYNTHETIC_LIKE)
    x = {k: tf.constant(v) for k, v in example_inputs(config, batch).items()}
    grec = dict(dim=dim, num_heads=4, num_experts=num_experts, top_k=top_k)
    base = dict(dim=dim, expert_dim=dim)
    variants = [
        (f"grec[{mode}]", "grec", dict(grec, routing=mode)) for mode in ("task_sentence", "task", "sentence", "token")
    ]
    variants += [("dense_grec", "dense_grec", grec)]
    variants += [(n, n, base) for n in ("single_task", "shared_bottom", "mmoe", "ple")]
    rows = []
    for label, name, params in variants:
        model = build_model(name, config, **params)
        forward = tf.function(lambda inputs, m=model: m(inputs, training=False))
        seconds = time_calls(lambda f=forward: f(x).numpy(), repeats)
        rows.append(
            {
                "model": label,
                "us_per_example": seconds / batch * 1e6,
                "body_flops": model_flops(name, config, **params),
                "encoder_flops": encoder_flops(config, dim),
            }
        )
        print(f"  {label:<22} {seconds / batch * 1e6:8.1f} us/example", flush=True)
    ref = rows[0]["us_per_example"]
    for row in rows:
        row["time_ratio_to_grec"] = row["us_per_example"] / ref
    return rows


def dispatch_costs(batch, dim, repeats, expert_counts=(8, 16, 32, 64), top_k=4, tokens=7, num_sentences=32):
    import tensorflow as tf

    from models.sparse_moe import SparseMoE

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, tokens, dim)).astype("float32"))
    # Realistic traffic: many examples share few task sentences.
    table = rng.normal(size=(num_sentences, 3, dim)).astype("float32")
    sentence = tf.constant(table[rng.integers(0, num_sentences, size=batch)])
    rows = []
    for experts in expert_counts:
        row = {"num_experts": experts, "top_k": top_k}
        for dispatch in ("sparse", "dense"):
            layer = SparseMoE(experts, top_k, "task_sentence", dispatch=dispatch, expert_hidden_dim=2 * dim)
            forward = tf.function(lambda a, b, m=layer: m(a, b))
            seconds = time_calls(lambda f=forward: f(x, sentence).numpy(), repeats)
            row[f"{dispatch}_us_per_example"] = seconds / batch * 1e6
        rows.append(row)
        print(
            f"  E={experts:<3} sparse {row['sparse_us_per_example']:8.1f}  "
            f"dense {row['dense_us_per_example']:8.1f} us/example",
            flush=True,
        )
    for row in rows:
        row["sparse_vs_sparse_at_e8"] = row["sparse_us_per_example"] / rows[0]["sparse_us_per_example"]
        row["sparse_vs_dense"] = row["sparse_us_per_example"] / row["dense_us_per_example"]
    return rows


def markdown(result) -> str:
    args, info = result["args"], result["machine"]
    lines = [
        "# Forward cost per example",
        "",
        f"Command: `python -m benchmarks.forward_cost --batch {args['batch']} --dim {args['dim']} "
        f"--repeats {args['repeats']}`  ",
        machine.summary(info),
        "",
        f"## Models at B={args['batch']}, D={args['dim']}, E=8, K=4 (compiled forward, median of {args['repeats']})",
        "",
        "| model | us / example | ratio to GRec (task_sentence) | body MFLOPs / example | encoder MFLOPs (shared) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["models"]:
        lines.append(
            f"| {r['model']} | {r['us_per_example']:.1f} | {r['time_ratio_to_grec']:.2f} | "
            f"{r['body_flops'] / 1e6:.2f} | {r['encoder_flops'] / 1e6:.2f} |"
        )
    lines += [
        "",
        f"## MoE layer alone: sparse vs dense dispatch, K=4, [B={args['batch']}, T=7, D={args['dim']}]",
        "",
        "| E | sparse us / example | dense us / example | sparse / sparse at E=8 | sparse / dense |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in result["dispatch"]:
        lines.append(
            f"| {r['num_experts']} | {r['sparse_us_per_example']:.1f} | {r['dense_us_per_example']:.1f} | "
            f"{r['sparse_vs_sparse_at_e8']:.2f} | {r['sparse_vs_dense']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="B=256, D=64, 2 repeats, E up to 16 (seconds, for tests)")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.dim, args.repeats = 256, 64, 2
    print("models:", flush=True)
    models = model_costs(args.batch, args.dim, args.repeats)
    print("dispatch:", flush=True)
    dispatch = dispatch_costs(args.batch, args.dim, args.repeats, (8, 16) if args.quick else (8, 16, 32, 64))
    result = {"args": vars(args), "machine": machine.describe(), "models": models, "dispatch": dispatch}
    machine.write_results(args.out, "forward_cost", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
