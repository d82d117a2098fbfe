"""The paper's claims on the synthetic data, under the quality protocol of ``benchmarks.real_data``,
reported whichever way they fall.

    python -m benchmarks.paper_claims                # full: 400k task examples, 3 seeds (~80 min alone on 2 cores)
    python -m benchmarks.paper_claims --quick        # minutes: 60k task examples, 1 seed
    python -m benchmarks.paper_claims --costs-only   # re-measure only the wall times, on a quiet machine

One training run (``real_data.run`` on the synthetic set: a 30-day test period
with a few hundred positives in each rarest task, the same data for every
seed, early stopping on validation) trains GRec, MMoE and GRec's variants, and
every variant is compared with GRec on the same test rows, per task, by the
paired difference with its 95 % interval (``components.intervals``):

1. Quality against every baseline (MMoE, PLE, Shared-Bottom, LightGBM) is
   ``python -m benchmarks.real_data synthetic`` (results/real_data_synthetic.md),
   quoted here, not re-run.
2. Routing ablation at E=8, K=4: token, sentence and task routing vs GRec's
   task-sentence routing; quality, analytic and executed FLOPs, wall time.
3. Expert sweep E x K: quality vs executed FLOPs, busiest-expert share.
4. Quality at equal executed FLOPs: each GRec point executing at most 1.1x
   MMoE's FLOPs against MMoE, paired.
5. Serving cost as tasks grow, both request shapes: ``benchmarks.request_shapes``
   (results/request_shapes.md), not re-run here.
6. Training throughput of GRec vs MMoE at their presets.

Executed FLOPs and wall times are for request shape (a), one task sentence x
``REQUEST_ROWS`` items (``models.flops.executed_flops``: with dispatch padding).
Writes results/paper_claims.json, results/paper_claims.md and PNG plots.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from benchmarks import RESULTS, harness, machine, real_data
from benchmarks.forward_cost import time_calls
from models import training

ROUTING_MODES = ("token", "sentence", "task")  # beside GRec's own, task_sentence
BASELINE = "mmoe"  # the best baseline's mean AP on the synthetic set (results/real_data_synthetic.md)
REQUEST_ROWS = 256  # request shape (a): one task sentence x this many items
EQUAL_FLOPS_SLACK = 1.1  # section 4 pairs GRec points executing at most this x the baseline's FLOPs
MODES = {
    # rows, seeds, at most steps, evaluated every, the (E, K) points swept beside the preset's, timed calls
    "smallest": (12_000, 1, 4, 2, ((4, 2), (8, 2)), 2),
    "quick": (60_000, 1, 1_000, training.STEPS_PER_ROUND, ((8, 2), (16, 4)), 30),
    "full": (
        real_data.SYNTHETIC["rows"],
        3,
        training.MAX_STEPS,
        training.STEPS_PER_ROUND,
        ((8, 1), (8, 2), (16, 2), (16, 4), (32, 4)),
        30,
    ),
}


def variants(sweep) -> dict[str, tuple[str, dict]]:
    """{name: ("grec", preset overrides)}: the routing modes, then the swept (E, K) points."""
    found = {f"routing_{mode}": ("grec", {"routing": mode}) for mode in ROUTING_MODES}
    found.update({f"e{e}k{k}": ("grec", {"num_experts": e, "top_k": k}) for e, k in sweep})
    return found


def hyperparameters(name: str, defined: dict) -> tuple[str, dict]:
    """(model, its preset with the variant's overrides) of a trained name."""
    from models import presets

    model, overrides = defined.get(name, (name, None))
    return model, presets.resolve(model, overrides)


def flops(input_config, names, defined) -> dict[str, dict]:
    """Per name: analytic body FLOPs per example and executed ones at request shape (a)."""
    from models.flops import executed_flops, model_flops

    found = {}
    for name in names:
        model, params = hyperparameters(name, defined)
        found[name] = {
            "analytic": model_flops(model, input_config, **params),
            "executed": executed_flops(model, input_config, REQUEST_ROWS, 1, **params) / REQUEST_ROWS,
        }
    return found


def expert_shares(model, x, input_config) -> dict:
    """Each expert's share of the routed slots over the rows ``x`` of a GRec routing by task sentence: each
    distinct sentence routed once (``GRec.route``), weighted by its rows. (The training-time counter,
    ``SparseMoE.utilization``, is a Keras metric that validation resets, so it is empty after ``fit``.)"""
    sentences = np.stack([np.asarray(x[name]).reshape(-1) for name, _ in input_config.task_columns], axis=1)
    distinct, rows = np.unique(sentences, axis=0, return_counts=True)
    shares = np.zeros(model.moe.num_experts)
    for sentence, count in zip(distinct, rows, strict=True):
        shares[model.route(sentence.tolist())[0]] += count
    shares /= shares.sum()
    return {"busiest_expert_share": float(shares.max()), "expert_shares": shares.tolist()}


def _serving_cost(model_name, params, input_config, repeats, batch=REQUEST_ROWS, specialize=False):
    """Compiled forward time per example: the fastest of ``repeats`` timed calls after 5 warm-up calls
    (on a shared 2-core machine the minimum is the stable statistic; medians of 5 calls moved by 1.8x
    between runs). ``specialize``: GRec served for one task sentence (its K experts, no router)."""
    import tensorflow as tf

    from models import build_model
    from models.input_config import example_inputs

    model = build_model(model_name, input_config, **params)
    if specialize:
        model.build_from_config_inputs()
        model = model.specialize([0] * len(input_config.task_columns))
    x = {k: tf.constant(v) for k, v in example_inputs(input_config, batch).items()}
    forward = tf.function(lambda inputs: model(inputs, training=False))
    return time_calls(lambda: forward(x).numpy(), repeats, warmup=5, statistic=min) / batch * 1e6


def measure_costs(result, input_config):
    """The wall-time columns (re-runnable alone with ``--costs-only``): each trained name's forward time per
    example at shape (a), GRec specialised to one task sentence, and training throughput of GRec vs MMoE."""
    defined, args = result["variants"], result["args"]
    for name, row in result["costs"].items():
        row["us_per_example"] = _serving_cost(*hyperparameters(name, defined), input_config, args["repeats"])
        print(f"  cost {name:<18} {row['us_per_example']:.1f} us / example", flush=True)
    result["specialised_us_per_example"] = _serving_cost(
        *hyperparameters("grec", defined), input_config, args["repeats"], specialize=True
    )
    data = harness.prepare_data(num_rows=min(args["rows"], 60_000), seed=0)
    steps = max(args["max_steps"] // 10, 2)
    result["throughput"] = {
        n: harness.train_model(n, data, steps=steps).examples_per_second for n in ("grec", BASELINE)
    }


def sections(result) -> dict:
    """The report's numbers from the training run: per trained name, mean AP over tasks, verdict counts of
    its paired comparison per task, and the equal-FLOPs pairs' verdicts."""
    run = result["run"]
    summary = real_data.summarize(run)
    rows = {}
    for name, row in summary.items():
        if name == "lightgbm":
            continue
        rows[name] = {**row, **result["costs"][name], **result["utilization"].get(name, {})}
    pairs = {}
    for entry in run["tasks"].values():
        for pair, found in entry.get("pairs", {}).items():
            pairs.setdefault(pair, []).append(found["ap"]["verdict"])
    return {"rows": rows, "pairs": {p: {v: found.count(v) for v in real_data.VERDICTS} for p, found in pairs.items()}}


def _verdicts(row) -> str:
    return " / ".join(str(row[v]) for v in real_data.VERDICTS)


def _quality_reference() -> dict | None:
    """Mean AP and GRec's verdicts against every baseline from the committed quality run, when present."""
    path = os.path.join(RESULTS, "real_data_synthetic.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        quality = json.load(f)
    return {"summary": real_data.summarize(quality), "commit": quality["machine"].get("commit", "?")}


def markdown(result) -> str:
    args, run = result["args"], result["run"]
    found = sections(result)
    rows = found["rows"]
    positives = {task: entry["positives"] for task, entry in run["tasks"].items()}
    lines = [
        "# The paper's claims, measured",
        "",
        f"Command: `{result['command']}`; the synthetic set under the quality protocol ({run['data']}), "
        f"{args['seeds']} seed(s) on the same data, early stopping on validation every {args['eval_every']} "
        f"steps (at most {args['max_steps']}); steps kept: {run['steps_or_trees']}.  ",
        f"Test positives per task: {positives}.  ",
        f"{machine.summary(result['machine'])} Training {run['seconds'] / 60:.0f} min. Wall-time columns: "
        f"{result.get('cost_note', 'measured in the same run as the training')}.",
        "",
        "Every variant is GRec's `small` preset with one change; each is compared with GRec (E=8, K=4, "
        "task-sentence routing) on the same test rows, per task, by the paired AP difference and its 95 % "
        "interval (bootstrap over test rows and seeds); the counts say on how many tasks GRec is "
        "better / no difference detected / worse than the variant (or MMoE). Executed FLOPs and wall time: "
        "request shape (a), "
        f"one task sentence x {REQUEST_ROWS} items, after the shared encoders.",
        "",
    ]
    reference = result.get("quality_reference")
    lines += ["## 1. Quality against the baselines", ""]
    if reference:
        lines += [
            f"From [real_data_synthetic.md](real_data_synthetic.md) (commit {reference['commit']}), not "
            "re-run here: mean test AP over the 8 tasks, and GRec against each model (tasks better / no "
            "difference detected / worse):",
            "",
            "| model | mean AP | GRec vs it |",
            "|---|---:|---|",
        ]
        lines += [
            f"| {name} | {row['mean_ap']:.4f} | {_verdicts(row) if name != 'grec' else ''} |"
            for name, row in reference["summary"].items()
        ]
    else:
        lines.append("`python -m benchmarks.real_data synthetic` has not been run here.")

    def table(names, title):
        out = [
            "",
            f"## {title}",
            "",
            "| variant | mean AP | GRec vs it: better / no diff. / worse | analytic MFLOPs | executed MFLOPs | "
            "us / example | busiest expert share |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for name in names:
            row = rows[name]
            busiest = f"{row['busiest_expert_share']:.2f}" if "busiest_expert_share" in row else "-"
            us = f"{row['us_per_example']:.1f}" if "us_per_example" in row else "-"
            out.append(
                f"| {name} | {row['mean_ap']:.4f} | {_verdicts(row) if name != 'grec' else '(reference)'} | "
                f"{row['analytic'] / 1e6:.3f} | {row['executed'] / 1e6:.3f} | {us} | {busiest} |"
            )
        return out

    routing = ["grec", *(f"routing_{m}" for m in ROUTING_MODES)]
    lines += table(routing, "2. Routing ablation (E=8, K=4; `grec` routes by task sentence)")
    if "specialised_us_per_example" in result:
        lines += [
            "",
            f"GRec served specialised to one task sentence (`GRec.specialize`: its K experts, no router, "
            f"the same scores): {result['specialised_us_per_example']:.1f} us / example.",
        ]
    sweep = ["grec", *(n for n in rows if n.startswith("e") and n[1:2].isdigit())]
    lines += table(sweep, "3. Expert sweep (`eEkK`: E experts, K per example; `grec` is E=8, K=4)")
    lines += [
        "",
        "Busiest expert share: of the routed slots of the test rows (seed 0; routing by task sentence "
        "only); 1/E is perfectly balanced.",
        "",
        "![sweep](paper_claims_expert_sweep.png)",
        "",
        "![utilisation](paper_claims_expert_utilization.png)",
        "",
        f"## 4. Quality at equal executed FLOPs (against {BASELINE}, "
        f"{rows[BASELINE]['executed'] / 1e6:.3f} executed MFLOPs / example)",
        "",
    ]
    if found["pairs"]:
        lines += ["| GRec point | executed FLOPs / baseline's | tasks better / no diff. / worse |", "|---|---:|---|"]
        for pair, counts in found["pairs"].items():
            name = pair.split(" - ")[0]
            lines.append(
                f"| {pair} | {rows[name]['executed'] / rows[BASELINE]['executed']:.2f} | {_verdicts(counts)} |"
            )
    else:
        lines.append(f"No GRec point executes at most {EQUAL_FLOPS_SLACK}x the baseline's FLOPs.")
    lines += ["", "Per task (AP, GRec point minus the baseline, 95 % interval):", ""]
    for task, entry in run["tasks"].items():
        for pair, d in entry.get("pairs", {}).items():
            ap = d["ap"]
            lines.append(
                f"- `{task}` ({entry['positives']} positives), {pair}: {ap['difference']:+.4f} "
                f"[{ap['low']:+.4f}, {ap['high']:+.4f}], {ap['verdict']}"
            )
    lines += [
        "",
        "## 5. Serving cost as tasks grow",
        "",
        "Both request shapes, N = 2 -> 64, every model: [request_shapes.md](request_shapes.md) "
        "(`python -m benchmarks.request_shapes`).",
    ]
    if "throughput" in result:
        t = result["throughput"]
        lines += [
            "",
            "## 6. Training throughput",
            "",
            f"At their `small` presets, batch 256: GRec {t['grec']:.0f} "
            f"examples/s, {BASELINE} {t[BASELINE]:.0f} (ratio {t['grec'] / t[BASELINE]:.2f}).",
        ]
    lines += [
        "",
        "## Per task",
        "",
        "GRec's variants against GRec, per task: " "[paper_claims_per_task.md](paper_claims_per_task.md).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smallest", action="store_true", help="the tiniest configuration (unit test)")
    parser.add_argument(
        "--costs-only",
        action="store_true",
        help="re-measure only the wall-time columns of an existing <out>/paper_claims.json "
        "(run on a quiet machine after a long run shared the cores)",
    )
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.costs_only:
        with open(os.path.join(args.out, "paper_claims.json")) as f:
            result = json.load(f)
        data, _, _ = real_data.prepare_synthetic(result["args"]["rows"])  # the run's vocabulary (table) sizes
        measure_costs(result, data.input_config)
        result["cost_note"] = "re-measured with `--costs-only` on a quiet machine"
        result["machine"] = machine.describe()
    else:
        mode = "smallest" if args.smallest else "quick" if args.quick else "full"
        rows, seeds, max_steps, eval_every, sweep, repeats = MODES[mode]
        defined = variants(sweep)
        prepared = real_data.prepare_synthetic(rows)
        data = prepared[0]
        names = ["grec", BASELINE, *defined]
        costs = flops(data.input_config, names, defined)
        limit = EQUAL_FLOPS_SLACK * costs[BASELINE]["executed"]
        pairs = [
            (n, BASELINE)
            for n in names
            if n != BASELINE and not n.startswith("routing_") and costs[n]["executed"] <= limit
        ]
        utilization = {}

        def record(name, seed, model):
            if seed == 0 and getattr(model, "routing", None) == "task_sentence":
                utilization[name] = expert_shares(model, data.eval_x, data.input_config)

        with tempfile.TemporaryDirectory() as work:
            run = real_data.run(
                "synthetic",
                work,
                seeds,
                max_steps,
                eval_every,
                models=tuple(names),
                variants=defined,
                rows=rows,
                pairs=pairs,
                on_trained=record,
                prepared=prepared,
            )
        command = "python -m benchmarks.paper_claims" + {"smallest": " --smallest", "quick": " --quick"}.get(mode, "")
        result = {
            "args": {
                "mode": mode,
                "rows": rows,
                "seeds": seeds,
                "max_steps": max_steps,
                "eval_every": eval_every,
                "sweep": [list(p) for p in sweep],
                "repeats": repeats,
            },
            "command": command,
            "variants": defined,
            "run": run,
            "costs": costs,
            "utilization": utilization,
            "quality_reference": _quality_reference(),
            "machine": machine.describe(),
        }
        measure_costs(result, data.input_config)
        with open(os.path.join(args.out, "paper_claims_per_task.md"), "w") as f:
            f.write(real_data.to_markdown(run, command))
    from benchmarks.paper_claims_plots import plots

    plots(result, args.out)
    machine.write_results(args.out, "paper_claims", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
