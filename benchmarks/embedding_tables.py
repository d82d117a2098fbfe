"""What an embedding table's rows cost the train step: the recipe's optimizer against the table's size.

    python -m benchmarks.embedding_tables                                   # 10k to 2M rows, a minute
    python -m benchmarks.embedding_tables --rows 1000 10000 --steps 20 --out /tmp/e

A model that is one embedding table of ``--rows`` x ``--dim`` and a logistic head
is trained on batches of 256 random ids (``models.training``'s batch size and
optimizer, cached in memory with ``train_step.in_memory_options``); the table
reports milliseconds a step per size and the slope in milliseconds per million
rows. Each batch touches at most 256 rows, so a step whose cost grows with the
table pays for rows it did not touch: Keras 3's Adam turns the table's sparse
gradient (``tf.IndexedSlices``) into dense updates of the table and both its
moment slots (keras-team/keras#19992). Beside it, the same model's forward and
gradient alone (no optimizer), the floor for the same lookups.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from benchmarks import RESULTS, machine
from models import presets, training

ROWS = (10_000, 100_000, 1_000_000, 2_000_000)
DIM = presets.small("grec")["embedding_dim"]


def step_ms(rows: int, dim: int, steps: int, optimizer: bool, seed: int = 0) -> float:
    """Milliseconds a train step of the one-table model (``optimizer`` False: forward and gradient only)."""
    import keras
    import tensorflow as tf

    from benchmarks.train_step import in_memory_options

    keras.utils.set_random_seed(seed)
    ids = keras.Input((1,), dtype="int32")
    table = keras.layers.Embedding(rows, dim)
    head = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(ids, head(keras.layers.Flatten()(table(ids))))
    rng = np.random.default_rng(seed)
    x = rng.integers(0, rows, (training.BATCH_SIZE * 20, 1)).astype("int32")
    y = rng.integers(0, 2, (training.BATCH_SIZE * 20, 1)).astype("float32")
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(training.BATCH_SIZE)
        .cache()
        .repeat()
        .with_options(in_memory_options())
    )
    if optimizer:
        model.compile(optimizer=training.optimizer(None), loss="binary_crossentropy")
        model.fit(batches, steps_per_epoch=10, verbose=0)  # compiles
        start = time.perf_counter()
        model.fit(batches, steps_per_epoch=steps, verbose=0)
        seconds = time.perf_counter() - start
    else:
        loss = keras.losses.BinaryCrossentropy()

        @tf.function
        def gradient(features, labels):
            with tf.GradientTape() as tape:
                value = loss(labels, model(features, training=True))
            return tape.gradient(value, model.trainable_variables)

        iterator = iter(batches)
        for _ in range(10):
            gradient(*next(iterator))
        start = time.perf_counter()
        for _ in range(steps):
            out = gradient(*next(iterator))
        _ = [g.values.numpy() if isinstance(g, tf.IndexedSlices) else g.numpy() for g in out]
        seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return 1000 * seconds / steps


def run(rows: list[int], dim: int, steps: int, repeats: int) -> dict:
    """Per size: the median over ``repeats`` of the step's and the floor's milliseconds; the slope of each in
    milliseconds per million rows (least squares over the sizes)."""
    sizes = []
    for size in rows:
        step = statistics.median(step_ms(size, dim, steps, True, seed) for seed in range(repeats))
        floor = statistics.median(step_ms(size, dim, steps, False, seed) for seed in range(repeats))
        sizes.append({"rows": size, "step_ms": step, "floor_ms": floor})
        print(f"{size:>10,} rows: step {step:.2f} ms, forward and gradient {floor:.2f} ms", flush=True)
    millions = np.array([s["rows"] for s in sizes]) / 1e6
    slope = {key: float(np.polyfit(millions, [s[key] for s in sizes], 1)[0]) for key in ("step_ms", "floor_ms")}
    return {"sizes": sizes, "ms_per_million_rows": slope}


def markdown(result: dict) -> str:
    args = result["args"]
    slope = result["ms_per_million_rows"]
    lines = [
        "# An embedding table's rows in the train step",
        "",
        f"`{result['command']}`, {result['seconds'] / 60:.0f} min.",
        "",
        machine.summary(result["machine"]),
        "",
        f"One table of rows x {args['dim']} and a logistic head, batches of {training.BATCH_SIZE} random ids, "
        f"the recipe's optimizer (Adam); {args['steps']} timed steps, median of {args['repeats']}. Floor: the "
        "same model's forward pass and gradient, no optimizer.",
        "",
        "| rows | step ms | forward and gradient ms | step / floor |",
        "|---:|---:|---:|---:|",
    ]
    for size in result["sizes"]:
        ratio = size["step_ms"] / size["floor_ms"]
        lines.append(f"| {size['rows']:,} | {size['step_ms']:.2f} | {size['floor_ms']:.2f} | {ratio:.1f}x |")
    lines += [
        "",
        f"Slope: the step {slope['step_ms']:.1f} ms per million rows, the forward and gradient "
        f"{slope['floor_ms']:.2f} ms per million rows.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=list(ROWS), help="table sizes")
    parser.add_argument("--dim", type=int, default=DIM, help=f"embedding width (default {DIM}: the presets')")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="results path without suffix (default: results/embedding_tables)")
    args = parser.parse_args(argv)
    if len(set(args.rows)) < 2:
        parser.error("--rows: at least two sizes, for the slope")
    start = time.perf_counter()
    result = run(args.rows, args.dim, args.steps, args.repeats)
    machine.finish(
        result,
        args,
        argv or sys.argv[1:],
        "benchmarks.embedding_tables",
        time.perf_counter() - start,
        f"{RESULTS}/embedding_tables",
        markdown,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
