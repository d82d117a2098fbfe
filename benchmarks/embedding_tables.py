"""What an embedding table's rows cost the train step: each of the recipe's optimizers against the table's size.

    python -m benchmarks.embedding_tables                                   # 10k to 2M rows, a minute
    python -m benchmarks.embedding_tables --rows 1000 10000 --steps 20 --out /tmp/e

A model that is one embedding table (``models.embedding.Embedding``) of ``--rows`` x ``--dim`` and a logistic head
is trained on batches of 256 random ids (``models.training``'s batch size and
optimizer, cached in memory with ``train_step.in_memory_options``); the table
reports milliseconds a step per size and optimizer (``training.OPTIMIZERS``)
and the slope in milliseconds per million rows. Each batch touches at most 256
rows, so a step whose cost grows with the table pays for rows it did not touch:
Keras 3's Adam turns the table's sparse gradient (``tf.IndexedSlices``) into
dense updates of the table and both its moment slots (keras-team/keras#19992);
``lazy_adam`` updates the touched rows only. Beside them, the same model's
forward and gradient alone (no optimizer), the floor for the same lookups.
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


def step_ms(rows: int, dim: int, steps: int, optimizer: str | None, seed: int = 0) -> float:
    """Milliseconds a train step of the one-table model with ``optimizer`` (a name of
    ``training.OPTIMIZERS``; None: forward and gradient only)."""
    import keras
    import tensorflow as tf

    from benchmarks.train_step import in_memory_options
    from models.embedding import Embedding

    keras.utils.set_random_seed(seed)
    ids = keras.Input((1,), dtype="int32")
    table = Embedding(rows, dim)  # the models' table (reads only the rows it looks up)
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
    if optimizer is not None:
        model.compile(optimizer=training.optimizer(None, optimizer), loss="binary_crossentropy")
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
    """Per size: the median over ``repeats`` of each optimizer's step (``<name>_ms``) and of the floor
    (``floor_ms``) in milliseconds; the slope of each in milliseconds per million rows (least squares over
    the sizes)."""
    keys = [f"{name}_ms" for name in training.OPTIMIZERS] + ["floor_ms"]
    sizes = []
    for size in rows:
        timed = {"rows": size}
        for key, name in zip(keys, [*training.OPTIMIZERS, None], strict=True):
            timed[key] = statistics.median(step_ms(size, dim, steps, name, seed) for seed in range(repeats))
        sizes.append(timed)
        print(f"{size:>10,} rows: " + ", ".join(f"{k} {timed[k]:.2f}" for k in keys), flush=True)
    millions = np.array([s["rows"] for s in sizes]) / 1e6
    slope = {key: float(np.polyfit(millions, [s[key] for s in sizes], 1)[0]) for key in keys}
    return {"sizes": sizes, "ms_per_million_rows": slope}


def markdown(result: dict) -> str:
    args = result["args"]
    slope = result["ms_per_million_rows"]
    names = [key[:-3] for key in slope if key != "floor_ms"]
    lines = [
        "# An embedding table's rows in the train step",
        "",
        f"`{result['command']}`, {result['seconds'] / 60:.0f} min.",
        "",
        machine.summary(result["machine"]),
        "",
        f"One table of rows x {args['dim']} and a logistic head, batches of {training.BATCH_SIZE} random ids, "
        f"each of the recipe's optimizers; {args['steps']} timed steps, median of {args['repeats']}. Floor: the "
        "same model's forward pass and gradient, no optimizer.",
        "",
        "| rows | "
        + " | ".join(f"{n} ms" for n in names)
        + " | forward and gradient ms | "
        + " | ".join(f"{n} / floor" for n in names)
        + " |",
        "|---:" * (2 * len(names) + 2) + "|",
    ]
    for size in result["sizes"]:
        steps = [size[f"{n}_ms"] for n in names]
        lines.append(
            f"| {size['rows']:,} | "
            + " | ".join(f"{ms:.2f}" for ms in steps)
            + f" | {size['floor_ms']:.2f} | "
            + " | ".join(f"{ms / size['floor_ms']:.1f}x" for ms in steps)
            + " |"
        )
    lines += [
        "",
        "Slope, ms per million rows: "
        + ", ".join(f"{n} {slope[n + '_ms']:.2f}" for n in names)
        + f", the forward and gradient {slope['floor_ms']:.2f}.",
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
