"""The Trainer's compiled train step on batches already in memory, per compile option, beside the machine's
matrix-multiply rate measured in the same run.

    python -m benchmarks.train_step                          # grec and mmoe, 3 runs of 60 steps each option
    python -m benchmarks.train_step --models grec --runs 1 --steps 10 --out /tmp/t   # a minute

Options compared (``OPTIONS``): ``default`` (what the Trainer compiles today:
Keras' ``jit_compile="auto"``, which is off on a machine without an accelerator)
and ``xla`` (``jit_compile=True``: the whole step one XLA program). Each run
builds the model anew on the synthetic set's inputs (``benchmarks.harness``, the
small preset at batch 256), takes ``--warmup`` untimed steps, then times
``--steps`` steps of ``model.fit`` over a cached in-memory dataset; the table
gives the median examples per second over ``--runs`` runs, and the step's
analytic FLOP rate (``models.flops``, 3x the forward pass for forward and
backward) as a share of the matmul rate (a float32 ``MATMUL`` x ``MATMUL``
product, the median of ten) measured beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks import RESULTS, harness, machine
from models import training

OPTIONS = {"default": {}, "xla": {"jit_compile": True}}
MATMUL = 2048


def matmul_gflops(size: int = MATMUL, repeats: int = 10) -> float:
    import tensorflow as tf

    from benchmarks.forward_cost import time_calls

    a = tf.random.normal([size, size])
    product = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
    return 2 * size**3 / time_calls(lambda: product(a).numpy(), repeats, warmup=1) / 1e9


def step_rate(name: str, data, option: dict, steps: int, warmup: int, seed: int) -> float:
    """Examples per second of ``steps`` train steps after ``warmup``, on a cached in-memory dataset."""
    import keras
    import tensorflow as tf

    from models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(name, data.input_config, **harness.default_hyperparameters(name))
    model.compile(optimizer=training.optimizer(None), **option)
    batches = (
        tf.data.Dataset.from_tensor_slices((data.train_x, data.train_y))
        .take(training.BATCH_SIZE * 20)
        .batch(training.BATCH_SIZE, drop_remainder=True)
        .cache()
        .repeat()
    )
    model.fit(batches, steps_per_epoch=warmup, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return steps * training.BATCH_SIZE / seconds


def run(models, runs: int, steps: int, warmup: int, rows: int) -> dict:
    from models.flops import encoder_flops, model_flops

    data = harness.prepare_data(num_rows=rows, seed=0)
    result = {"matmul_gflops": [], "models": {}}
    for name in models:
        params = harness.default_hyperparameters(name)
        forward = model_flops(name, data.input_config, **params) + encoder_flops(data.input_config, **params)
        entry = {"train_flops_per_example": 3 * forward, "options": {}}
        for option_name, option in OPTIONS.items():
            rates = []
            for run_index in range(runs):
                result["matmul_gflops"].append(matmul_gflops())
                rates.append(step_rate(name, data, option, steps, warmup, seed=run_index))
                print(f"{name:<8} {option_name:<8} run {run_index}: {rates[-1]:8,.0f} examples/s", flush=True)
            entry["options"][option_name] = {"examples_per_second": rates, "median": statistics.median(rates)}
        result["models"][name] = entry
    return result


def markdown(result: dict) -> str:
    peak = statistics.median(result["matmul_gflops"])
    lines = [
        "# The train step on batches in memory, per compile option",
        "",
        f"`{result['command']}`, {result['seconds'] / 60:.0f} min.",
        "",
        machine.summary(result["machine"]),
        "",
        f"Matmul rate measured beside it ({MATMUL} x {MATMUL} float32): median {peak:.0f} GFLOP/s "
        f"(range {min(result['matmul_gflops']):.0f}-{max(result['matmul_gflops']):.0f}). Batch "
        f"{training.BATCH_SIZE}, the small preset, {result['args']['steps']} timed steps after "
        f"{result['args']['warmup']}, {result['args']['runs']} runs.",
        "",
        "| model | option | examples/s (median) | runs | vs default | step GFLOP/s | share of matmul rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["models"].items():
        base = entry["options"]["default"]["median"]
        for option, o in entry["options"].items():
            rate = o["median"] * entry["train_flops_per_example"] / 1e9
            runs = ", ".join(f"{r:,.0f}" for r in o["examples_per_second"])
            lines.append(
                f"| {name} | {option} | {o['median']:,.0f} | {runs} | {o['median'] / base:.2f}x | {rate:.1f} | "
                f"{rate / peak:.1%} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="grec,mmoe")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", help="results path without suffix (default: results/train_step)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = run(args.models.split(","), args.runs, args.steps, args.warmup, args.rows)
    machine.finish(
        result,
        args,
        argv or sys.argv[1:],
        "benchmarks.train_step",
        time.perf_counter() - start,
        f"{RESULTS}/train_step",
        markdown,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
