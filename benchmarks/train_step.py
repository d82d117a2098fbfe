r"""The Trainer's compiled train step on batches already in memory, per compile option, beside the machine's
matrix-multiply rate measured in the same run.

    python -m benchmarks.train_step                          # grec and mmoe, 3 runs of 60 steps each option
    python -m benchmarks.train_step --models grec --runs 1 --steps 10 --out /tmp/t   # a minute
    python -m benchmarks.train_step --models grec --before 081b845 --runs 5 --steps 100   # against a revision

Options compared (``OPTIONS``): ``default`` (what the Trainer compiles today:
Keras' ``jit_compile="auto"``, which is off on a machine without an accelerator),
``xla`` (``jit_compile=True``: the whole step one XLA program),
``steps_per_execution`` (10 steps a call of the compiled function: less Python
between steps, the same arithmetic) and ``mixed_bfloat16`` (Keras' dtype policy:
bfloat16 matmuls, float32 variables; oneDNN runs them on AMX where the CPU has
it, and numbers change, so a win would still owe a quality run). Each run
builds the model anew on the synthetic set's inputs (``benchmarks.harness``, the
small preset at batch 256), takes ``--warmup`` untimed steps, then times
``--steps`` steps of ``model.fit`` over a cached in-memory dataset; the table
gives the median examples per second over ``--runs`` runs, and the step's
analytic FLOP rate (``models.flops``, 3x the forward pass for forward and
backward) as a share of the matmul rate (a float32 ``MATMUL`` x ``MATMUL``
product, the median of ten) measured beside it.

``--options default,xla`` times some of them; ``--variant NAME=MODEL:JSON`` names a model with preset
overrides (``benchmarks.harness.parse_variant``, as the quality benchmark's) for ``--models``: every model and
option takes turns within each run, and the report gives each model's default step against the first
model's in the same run, e.g. the preset against a history encoder with one block::

    python -m benchmarks.train_step --models grec,grec_h1 --options default --profile-steps 0 \
        --variant 'grec_h1=grec:{"encoder_options": {"text_hidden_dim": 32, "history_hidden_dim": 32,
        "numerical_embedding": "periodic", "history_blocks": 1}}'

``--before REV`` also times the default step at another revision (its models, harness and synthetic
inputs, in a fresh process, by this file's ``step_rate``): before and after in one run. ``--profile-steps
N`` traces N steps of the first model with the TF profiler and sums the ops' self time by op type and by
the part of the model they ran for (``op_times``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time

from benchmarks import RESULTS, harness, machine
from models import training

# Keyword arguments of ``model.compile``, except ``dtype_policy``: Keras' global dtype policy while building.
OPTIONS = {
    "default": {},
    "xla": {"jit_compile": True},
    "steps_per_execution": {"steps_per_execution": 10},
    "mixed_bfloat16": {"dtype_policy": "mixed_bfloat16"},
}
MATMUL = 2048


def matmul_gflops(size: int = MATMUL, repeats: int = 10) -> float:
    import tensorflow as tf

    from benchmarks.forward_cost import time_calls

    a = tf.random.normal([size, size])
    product = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
    return 2 * size**3 / time_calls(lambda: product(a).numpy(), repeats, warmup=1) / 1e9


def in_memory_options():
    """``tf.data`` options for batches cached in memory: no autotuning (nothing in them to tune). With it
    (TensorFlow 2.16), deleting an iterator of a ``cache().repeat()`` dataset, as ``model.fit`` does when it
    returns, waits for the autotuning thread's next wake-up, whose period doubles from 10 ms: every timed
    ``fit`` then ended 5.11 s or 10.23 s after its iterator was made (200 steps of 17 ms took 5.11 s). Earlier
    results' runs at exactly 5,006 or 10,0xx examples a second were that wait, not the step."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def warm_model(name: str, data, option: dict, warmup: int, seed: int, variant=None):
    """(the model ``name`` at its preset compiled with ``option``, its 20 in-memory batches repeated) after
    ``warmup`` steps on them; ``variant`` (MODEL, overrides): that model at its preset with the overrides."""
    import keras
    import tensorflow as tf

    from models import build_model

    option = dict(option)
    keras.mixed_precision.set_global_policy(option.pop("dtype_policy", "float32"))
    keras.utils.set_random_seed(seed)
    model_name, overrides = variant or (name, {})
    overrides = dict(overrides)
    optimizer = overrides.pop("optimizer", None)  # None: the recipe's own (also at a revision before the key)
    hyperparameters = {**harness.default_hyperparameters(model_name), **overrides}
    model = build_model(model_name, data.input_config, **hyperparameters)
    chosen = training.optimizer(None) if optimizer is None else training.optimizer(None, optimizer)
    model.compile(optimizer=chosen, **option)
    batches = (
        tf.data.Dataset.from_tensor_slices((data.train_x, data.train_y))
        .take(training.BATCH_SIZE * 20)
        .batch(training.BATCH_SIZE, drop_remainder=True)
        .cache()
        .repeat()
        .with_options(in_memory_options())
    )
    for _ in batches.take(21):  # one pass past the 20th batch completes the cache: no step waits on slicing
        pass
    model.fit(batches, steps_per_epoch=warmup, epochs=1, verbose=0)
    return model, batches


def _check_steps(model, name: str, expected: int) -> None:
    """Raises if ``model`` ran other than ``expected`` train steps (Keras runs whole ``steps_per_execution``
    calls: an epoch shorter than one rounds up, and the rate would count steps that ran as not)."""
    ran = int(model.optimizer.iterations.numpy())
    if ran != expected:
        raise RuntimeError(f"{name} ran {ran} train steps, not the {expected} timed as such")


def step_rate(name: str, data, option: dict, steps: int, warmup: int, seed: int, variant=None) -> float:
    """Examples per second of ``steps`` train steps after ``warmup``, on a cached in-memory dataset."""
    import keras

    model, batches = warm_model(name, data, option, warmup, seed, variant)
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    _check_steps(model, name, warmup + steps)
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")  # an option's policy stays in its run
    return steps * training.BATCH_SIZE / seconds


_AT_REVISION = """import json, sys, time
import models
from benchmarks import harness
from models import training
{source}
name, steps, warmup, rows, seed = json.loads(sys.argv[1])
data = harness.prepare_data(num_rows=rows, seed=0)
print(json.dumps({{"rate": step_rate(name, data, {{}}, steps, warmup, seed), "models": models.__file__}}))
"""


def tree_at(revision: str) -> str:
    """This repository's files at ``revision`` (``git archive``, once, under the temporary folder)."""
    import subprocess
    import tempfile

    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True, cwd=RESULTS).strip()
    sha = subprocess.check_output(["git", "rev-parse", revision], text=True, cwd=root).strip()
    tree = os.path.join(tempfile.gettempdir(), f"grec_at_{sha[:12]}")
    if not os.path.isdir(tree):
        os.makedirs(tree + ".part", exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=root, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree + ".part"], input=archive, check=True)
        os.rename(tree + ".part", tree)
    return tree


def rate_at(tree: str, name: str, steps: int, warmup: int, rows: int, seed: int) -> float:
    """``step_rate`` (this file's, so both revisions are timed alike) run in a fresh process on the models,
    harness and preprocessing of ``tree``; checked to have imported that tree's models."""
    import inspect
    import json
    import subprocess

    script = os.path.join(tree, "benchmarks", "step_rate_here.py")
    with open(script, "w") as f:
        source = "\n\n".join(inspect.getsource(fn) for fn in (_check_steps, in_memory_options, warm_model, step_rate))
        f.write(_AT_REVISION.format(source=source))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.step_rate_here", json.dumps([name, steps, warmup, rows, seed])],
        cwd=tree,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=tree, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    if out.returncode:
        raise RuntimeError(f"the step at {tree} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    if not answer["models"].startswith(tree):
        raise RuntimeError(f"the run at {tree} imported {answer['models']}, not that tree's models")
    return answer["rate"]


def _scope(op: str, model_name: str) -> str:
    """The part of the model an op ran for, from its name: ``forward`` or ``backward`` (under the gradient
    tape), then the model's layer (the input encoder's per column kind: ``input_encoder/history``), or
    ``optimizer`` and ``loss, metrics and other`` for the rest."""
    parts = [re.sub(r"_\d+$", "", part) for part in op.split("/")[:-1]]
    parts = [part for part in parts if part not in ("StatefulPartitionedCall", "PartitionedCall")]
    backward = bool(parts) and parts[0] == "gradient_tape"
    parts = parts[1:] if backward else parts
    if not parts or parts[0] != model_name:
        return "optimizer" if parts and parts[0] in ("adam", "optimizer") else "loss, metrics and other"
    layer = parts[1:3] if len(parts) > 2 and parts[1] == "input_encoder" else parts[1:2]
    return f"{'backward' if backward else 'forward'}: {'/'.join(layer) or model_name}"


def op_times(logdir: str, model_name: str) -> tuple[dict, dict]:
    """Self time in seconds of every TensorFlow op the profiler traced under ``logdir``, summed by op type and
    by the part of the model it ran for (``_scope``): ({type: s}, {scope: s}).

    The trace (``tf.profiler.experimental``) holds one event per op kernel run, named ``name:type``, on the
    host's compute threads; an event's self time is its duration less the events nested in it. TensorBoard's
    profile plugin makes the same op statistics from this file; it is not a dependency, so they are summed here.
    """
    import glob
    import os

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    by_type: dict[str, float] = {}
    by_scope: dict[str, float] = {}
    for path in glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")):
        with open(path, "rb") as f:
            space = xplane_pb2.XSpace.FromString(f.read())
        for plane in space.planes:
            for line in plane.lines:
                events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
                stack: list[list] = []  # [end, name, self ps] of the events enclosing this one
                done = []
                for event in events:
                    while stack and stack[-1][0] <= event.offset_ps:
                        done.append(stack.pop())
                    if stack:
                        stack[-1][2] -= event.duration_ps
                    name = plane.event_metadata[event.metadata_id].name
                    stack.append([event.offset_ps + event.duration_ps, name, event.duration_ps])
                for _, name, self_ps in done + stack:
                    op, sep, kind = name.rpartition(":")
                    if not sep or not op or "::" in name or " " in name:
                        continue  # the executor's and runtime's own events, not an op kernel
                    by_type[kind] = by_type.get(kind, 0.0) + self_ps / 1e12
                    scope = _scope(op, model_name)
                    by_scope[scope] = by_scope.get(scope, 0.0) + self_ps / 1e12
    return by_type, by_scope


def profile(name: str, data, steps: int, warmup: int, logdir: str, variant=None) -> dict:
    """The TF profiler's trace of ``steps`` train steps of ``name`` at its preset (after ``warmup``), summed by
    ``op_times``: wall seconds, op seconds by type and by scope."""
    import keras
    import tensorflow as tf

    model, batches = warm_model(name, data, {}, warmup, seed=0, variant=variant)
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    _check_steps(model, name, warmup + steps)
    tf.profiler.experimental.stop()
    model_name = model.name
    keras.backend.clear_session()
    by_type, by_scope = op_times(logdir, re.sub(r"_\d+$", "", model_name))
    return {"model": name, "steps": steps, "wall_seconds": seconds, "by_type": by_type, "by_scope": by_scope}


def run(
    models,
    runs: int,
    steps: int,
    warmup: int,
    rows: int,
    before: str | None = None,
    profile_steps: int = 0,
    options=tuple(OPTIONS),
    variants: dict | None = None,
    profile_model: str | None = None,
) -> dict:
    """Each model's examples/s per compile option of ``options``, ``runs`` times, every model and option
    taking turns within each run (the host's slow spells then fall on all alike), the matmul rate before
    each step rate; ``variants`` {name: (model, preset overrides)}: names of ``models`` that are a model with
    overrides; with ``before``, each model's default step at that revision too, in a fresh process after its
    options in each run; with ``profile_steps``, the profile (``profile``) of ``profile_model`` (default: the
    first model)."""
    import tempfile

    from models.flops import encoder_flops, model_flops

    variants = variants or {}
    data = harness.prepare_data(num_rows=rows, seed=0)
    result = {"matmul_gflops": [], "models": {}, "variants": {n: list(v) for n, v in variants.items()}}
    tree = tree_at(before) if before else None
    rates = {}
    for name in models:
        model_name, overrides = variants.get(name, (name, {}))
        params = {**harness.default_hyperparameters(model_name), **training.split_optimizer(overrides)[1]}
        forward = model_flops(model_name, data.input_config, **params) + encoder_flops(data.input_config, **params)
        result["models"][name] = {"train_flops_per_example": 3 * forward, "options": {}}
        rates[name] = {option_name: [] for option_name in options} | ({f"at {before}": []} if tree else {})
    for run_index in range(runs):
        for name in models:
            for option_name in options:
                result["matmul_gflops"].append(matmul_gflops())
                rate = step_rate(name, data, OPTIONS[option_name], steps, warmup, run_index, variants.get(name))
                rates[name][option_name].append(rate)
            if tree:
                rates[name][f"at {before}"].append(rate_at(tree, name, steps, warmup, rows, seed=run_index))
            found = ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates[name].items())
            print(f"{name} run {run_index}: {found}", flush=True)
    for name in models:
        for option_name, found in rates[name].items():
            result["models"][name]["options"][option_name] = {
                "examples_per_second": found,
                "median": statistics.median(found),
            }
    if profile_steps:
        with tempfile.TemporaryDirectory() as logdir:
            name = profile_model or models[0]
            result["profile"] = profile(name, data, profile_steps, warmup, logdir, variants.get(name))
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
    ]
    if result.get("flops_recounted"):
        lines += [
            f"Step FLOPs recounted at {result['flops_recounted']} (`models.flops`): the run counted the text and "
            "history encoders at the encoder's default width 64, not the preset's 32.",
            "",
        ]
    lines += [
        "| model | option | examples/s (median) | runs | vs default | per run vs default (median, range) "
        "| step GFLOP/s | share of matmul rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["models"].items():
        base = entry["options"]["default"]
        for option, o in entry["options"].items():
            rate = o["median"] * entry["train_flops_per_example"] / 1e9
            runs = ", ".join(f"{r:,.0f}" for r in o["examples_per_second"])
            # The options take turns within each run: a run's rate over the default's in the same run.
            paired = [r / d for r, d in zip(o["examples_per_second"], base["examples_per_second"], strict=True)]
            per_run = f"{statistics.median(paired):.2f}x ({min(paired):.2f}-{max(paired):.2f})"
            flops = "- | -" if option.startswith("at ") else f"{rate:.1f} | {rate / peak:.1%}"  # another model
            lines.append(
                f"| {name} | {option} | {o['median']:,.0f} | {runs} | {o['median'] / base['median']:.2f}x | {per_run} "
                f"| {flops} |"
            )
    names = list(result["models"])
    first = result["models"][names[0]]["options"]["default"]["examples_per_second"]
    if len(names) > 1:  # the models take turns within each run too: each against the first in the same run
        lines += ["", f"Each model's default step against {names[0]}'s in the same run:", ""]
        lines += [f"| model | per run vs {names[0]} (median, range) |", "|---|---|"]
        for name in names[1:]:
            found = result["models"][name]["options"]["default"]["examples_per_second"]
            paired = [r / f for r, f in zip(found, first, strict=True)]
            lines.append(f"| {name} | {statistics.median(paired):.2f}x ({min(paired):.2f}-{max(paired):.2f}) |")
    if result.get("variants"):
        lines += [
            "",
            "Variants: " + "; ".join(f"`{n}` = {m} {json.dumps(o)}" for n, (m, o) in result["variants"].items()),
        ]
    before = result["args"].get("before")
    if before:
        lines += [
            "",
            f"`at {before}`: the default step of the models, harness and preprocessing at that revision, timed by "
            "this revision's `step_rate` in a fresh process at the end of each run, on that "
            "revision's synthetic inputs.",
        ]
    p = result.get("profile")
    if p:
        total = sum(p["by_type"].values())
        lines += [
            "",
            f"## Where {p['model']}'s step spends its time (TF profiler, {p['steps']} steps)",
            "",
            f"`tf.profiler.experimental` over {p['steps']} default steps after the warm-up: "
            f"{p['wall_seconds'] / p['steps'] * 1000:.0f} ms a step on the wall clock while traced, "
            f"{total / p['steps'] * 1000:.0f} ms of op self time a step (the two cores run ops side by side). "
            "By the part of the model each op ran for (`forward`/`backward`: under the gradient tape):",
            "",
            "| part | op seconds | share |",
            "|---|---|---|",
        ]
        for scope, sec in sorted(p["by_scope"].items(), key=lambda item: -item[1]):
            if sec / total >= 0.005:
                lines.append(f"| {scope} | {sec:.3f} | {sec / total:.1%} |")
        lines += ["", "By op type (the 12 largest):", "", "| op | op seconds | share |", "|---|---|---|"]
        for kind, sec in sorted(p["by_type"].items(), key=lambda item: -item[1])[:12]:
            lines.append(f"| {kind} | {sec:.3f} | {sec / total:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="grec,mmoe")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--before", help="also time the default step at this git revision (fresh processes)")
    parser.add_argument("--profile-steps", type=int, default=30, help="profile a model's step (0: not)")
    parser.add_argument("--profile-model", help="the model --profile-steps profiles (default: the first of --models)")
    parser.add_argument("--out", help="results path without suffix (default: results/train_step)")
    parser.add_argument(
        "--options", default=",".join(OPTIONS), help=f"compile options, comma-separated, with default: {list(OPTIONS)}"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=MODEL:JSON",
        help="a model with preset overrides, named in --models, e.g. 'grec_k2=grec:{\"top_k\": 2}'",
    )
    args = parser.parse_args(argv)
    options = args.options.split(",")
    if "default" not in options or not set(options) <= set(OPTIONS):
        parser.error(f"--options: some of {list(OPTIONS)}, default among them. Received: {args.options!r}")
    try:
        variants = dict(harness.parse_variant(text) for text in args.variant)
    except ValueError as error:
        parser.error(str(error))
    models = args.models.split(",")
    if args.profile_model and args.profile_model not in models:
        parser.error(f"--profile-model {args.profile_model!r} is not one of --models {models}")
    if args.before and set(models) & set(variants):
        parser.error("--before times each model's own preset at that revision: name no variant in --models")
    per_call = max(OPTIONS[name].get("steps_per_execution", 1) for name in options)
    if args.steps % per_call or args.warmup % per_call:  # Keras runs whole calls: an epoch rounds up
        parser.error(f"--steps and --warmup must be multiples of {per_call} (steps_per_execution)")
    start = time.perf_counter()
    result = run(
        models,
        args.runs,
        args.steps,
        args.warmup,
        args.rows,
        args.before,
        args.profile_steps,
        options,
        variants,
        args.profile_model,
    )
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
