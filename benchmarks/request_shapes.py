"""Serving cost of both request shapes, per model, as the number of tasks N grows.

    python -m benchmarks.request_shapes                 # N = 2, 8, 32, 64; 256 items; small presets (D=64)
    python -m benchmarks.request_shapes --quick         # seconds: N = 2, 8; 32 items; 2 repeats

Two requests a recommender serves:

(a) **one task sentence x B items**: one feed (task, flow, surface) ranks B
    candidate items: B rows, every row the same task sentence;
(b) **one context x all N tasks**: one user and item scored for every task
    (click, add-to-cart, conversion in each flow): N rows, one per task.

Every model here scores (context, task) rows (the task descriptors are input
tokens, so even a flat model's experts see the task), and a flat baseline
gathers only its row's gate and task experts: request (b) is N rows for every
model. What differs is the cost of a row and, for GRec's sparse dispatch, the
padding: a request of G groups runs ``ceil(G*K/block) + E`` blocks of
``block`` groups whatever the routing, so its executed expert work is that
many slots, not G*K, or, when fewer, every expert on every group (G*E slots,
``models.dispatch.auto_dispatch``); PLE's own experts run on blocks of one task's rows, so
request (b) pads each task's one row to a block. Both counts are shown, analytic (``models.flops.model_flops``
x rows) and executed (``models.flops.executed_flops``), beside wall time.

Wall time: one compiled forward pass (``tf.function`` traced with the batch size
unknown, as the served signatures are; with ``--known-batch`` traced with the
request's row count, as a training step of a fixed batch is), median of ``--repeats``
after a trace and a warm-up; every model measured in the same run, models
interleaved per N. Writes results/request_shapes.json and .md (``--known-batch``:
results/request_shapes_known_batch.*).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np

from benchmarks import machine
from benchmarks.forward_cost import SYNTHETIC_LIKE, time_calls

MODELS = ("grec", "dense_grec", "shared_bottom", "mmoe", "ple", "dcn_v2")
SHAPES = ("one_sentence_x_items", "one_context_x_tasks")


# With --known-batch, PLE is measured a second time laid out as under XLA (its static bound, which counts a
# partial block for every task: what every fixed-batch trace took before): the floor's "before", same run.
STATIC_BOUND = "ple_static_bound"


@contextlib.contextmanager
def _xla_layout(on: bool):
    """PLE's own experts laid out as under XLA (``models.gated_experts.in_xla_context``) while tracing."""
    from models import gated_experts

    original = gated_experts.in_xla_context
    if on:
        gated_experts.in_xla_context = lambda: True
    try:
        yield
    finally:
        gated_experts.in_xla_context = original


def config_with_tasks(num_tasks: int):
    """The synthetic data's inputs with N main tasks (flow and surface as auxiliary descriptors)."""
    from models.input_config import InputConfig

    return InputConfig(**{**SYNTHETIC_LIKE, "task_columns": [("task", num_tasks), ("flow", 3), ("surface", 4)]})


def request(config, shape: str, items: int) -> dict[str, np.ndarray]:
    """Transformed features of one request of ``shape``: (a) ``items`` rows of task 1, flow 1, surface 1;
    (b) one context repeated for each of the N tasks (task ids 0..N-1)."""
    from models.input_config import example_inputs

    if shape == "one_sentence_x_items":
        x = example_inputs(config, items, seed=1)
        for name, _ in config.task_columns:
            x[name] = np.ones(items, dtype="int64")
        return x
    n = config.num_tasks
    context = example_inputs(config, 1, seed=1)
    x = {name: np.repeat(value, n, axis=0) for name, value in context.items()}
    x[config.main_task] = np.arange(n, dtype="int64")
    return x


def measure(task_counts, items, repeats, dim, known_batch: bool = False) -> list[dict]:
    import tensorflow as tf

    from models import build_model, presets
    from models.flops import executed_flops, model_flops

    rows = []
    for n in task_counts:
        config = config_with_tasks(n)
        for shape in SHAPES:
            x = {k: tf.constant(v) for k, v in request(config, shape, items).items()}
            size = len(next(iter(x.values())))
            for name in MODELS + ((STATIC_BOUND,) if known_batch else ()):
                model_name = "ple" if name == STATIC_BOUND else name
                params = presets.small(model_name, dim)
                model = build_model(model_name, config, **params)
                # Traced with the batch size unknown, as the exported serving signatures are (or known).
                batch = size if known_batch else None
                signature = [{k: tf.TensorSpec([batch, *v.shape[1:]], v.dtype) for k, v in x.items()}]
                forward = tf.function(lambda inputs, m=model: m(inputs, training=False), input_signature=signature)
                with _xla_layout(name == STATIC_BOUND):
                    seconds = time_calls(lambda f=forward, inputs=x: f(inputs).numpy(), repeats)
                analytic = size * model_flops(model_name, config, **params)
                executed = executed_flops(model_name, config, size, 1 if shape == SHAPES[0] else n, **params)
                if name == STATIC_BOUND:  # not counted: the padding of the bound's layout is left out
                    executed = None
                rows.append(
                    {
                        "tasks": n,
                        "shape": shape,
                        "rows": size,
                        "model": name,
                        "ms_per_request": seconds * 1e3,
                        "analytic_mflops": analytic / 1e6,
                        "executed_mflops": None if executed is None else executed / 1e6,
                    }
                )
                print(
                    f"  N={n:<3} {shape:<22} {name:<14} {size:>4} rows {seconds * 1e3:8.2f} ms  "
                    f"{analytic / 1e6:9.2f} / {(executed or float('nan')) / 1e6:9.2f} MFLOPs",
                    flush=True,
                )
    return rows


def markdown(result) -> str:
    args, info = result["args"], result["machine"]
    lines = [
        "# Serving cost of both request shapes",
        "",
        f"Command: `python -m benchmarks.request_shapes --tasks {','.join(map(str, args['tasks']))} "
        f"--items {args['items']} --dim {args['dim']} --repeats {args['repeats']}"
        + (" --known-batch" if args.get("known_batch") else "")
        + "`  ",
        machine.summary(info) + f" Models: their `small` presets at D={args['dim']} "
        "(GRec E=8, K=4, auto dispatch: sparse in blocks of 16, dense below 32 examples; PLE's own experts in "
        "blocks of 8 rows of one task, per row when that would more than double the rows; traced with the batch "
        + ("size known, as a training step of a fixed batch" if args.get("known_batch") else "size unknown, as served")
        + "). Body FLOPs (after the shared encoders), per request.",
        "",
    ]
    for shape, title in zip(
        SHAPES, (f"(a) one task sentence x {args['items']} items", "(b) one context x all N tasks"), strict=True
    ):
        lines += [
            f"## {title}",
            "",
            "| N | rows | model | ms / request | analytic MFLOPs | executed MFLOPs | executed / analytic |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in result["rows"]:
            if r["shape"] == shape:
                lines.append(
                    f"| {r['tasks']} | {r['rows']} | {r['model']} | {r['ms_per_request']:.2f} | "
                    f"{r['analytic_mflops']:.2f} | "
                    + (
                        f"{r['executed_mflops']:.2f} | {r['executed_mflops'] / r['analytic_mflops']:.2f} |"
                        if r["executed_mflops"] is not None
                        else "(not counted) | |"
                    )
                )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="2,8,32,64", help="numbers of tasks N, comma-separated")
    parser.add_argument("--items", type=int, default=256, help="B of request (a)")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="N = 2, 8; 32 items; 2 repeats (for tests)")
    parser.add_argument("--known-batch", action="store_true", help="trace with the batch size known")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    tasks = [int(t) for t in args.tasks.split(",")]
    if args.quick:
        tasks, args.items, args.repeats = [2, 8], 32, 2
    result = {
        "args": {**vars(args), "tasks": tasks},
        "machine": machine.describe(),
        "rows": measure(tasks, args.items, args.repeats, args.dim, args.known_batch),
    }
    name = "request_shapes_known_batch" if args.known_batch else "request_shapes"
    machine.write_results(args.out, name, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
