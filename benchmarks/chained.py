"""Chained (ESMM) against plain training of a conditional task, on the synthetic funnel, paired per metric.

    python -m benchmarks.chained [--rows 200000] [--seeds 2] [--steps 1500]
    python -m benchmarks.chained --rows 20000 --seeds 1 --steps 100 --out /tmp/c   # a test

The data: the generator's funnel (``SyntheticConfig(funnel=True)``: a conversion only after a click), the
spec's tasks ``ctr``, ``atc``, ``churn`` and ``cvr: {given: ctr}``. Two GRec models, the same recipe, steps and
seeds, differ only in the ``cvr`` task:

* ``plain``: ``cvr`` trained on its sample space, the clicked impressions (label: converted), as the wide
  converter writes a `given:` task; its p(click and convert) is p(ctr row) x p(cvr row);
* ``chained``: ``chain: entire_space`` (ESMM, ``models.task_types``): a ``cvr`` row on every impression, labelled
  click and convert (what the converter writes for a chained task), the model answering p(ctr) x p(cvr | ctr)
  on it; its p(convert | click) is its answer over its ctr row's.

Both are scored on the same eval impressions (one Transform, fitted on the chained training rows, a superset of
the plain ones): click and convert over every impression (ESMM's target), convert given click over the clicked
ones (the plain model's own), and click (the shared task). ``components.intervals.paired_difference`` gives
chained - plain per metric (bootstrap over rows, mean over seeds).

Writes results/chained_synthetic.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from benchmarks import RESULTS, machine
from models import training

CONDITION = ("ctr", "cvr")  # (given task, conditional task)


def entire_space(columns: dict) -> tuple[dict, np.ndarray]:
    """The funnel's rows plus a ``cvr`` row (label 0) for every impression without one, copied from its ctr row;
    and <bool>[rows] which rows were added. A clicked impression's cvr label is already click and convert."""
    given, task = CONDITION
    has = set(columns["impression_id"][columns["task"] == task].tolist())
    add = (columns["task"] == given) & ~np.isin(columns["impression_id"], list(has))
    extra = {k: v[add].copy() for k, v in columns.items()}
    extra["task"][:] = task
    extra["label"] = np.zeros(int(add.sum()), dtype=columns["label"].dtype)
    extra["oracle_p"] = np.full(int(add.sum()), np.nan)
    out = {k: np.concatenate([v, extra[k]]) for k, v in columns.items()}
    return out, np.concatenate([np.zeros(len(columns["task"]), bool), np.ones(int(add.sum()), bool)])


def prepare(rows: int):
    """(input config, task chain, {split: features}, {split: columns}, {split: added rows}) of the funnel data."""
    import dataclasses

    from benchmarks import features, harness
    from components.feature_spec import load_feature_spec, parse_feature_spec
    from components.model_inputs import input_config_from_transform, task_loss
    from data_tools import synthetic, writers

    # A month of eval impressions after two of training: enough conversions to measure (about 2 % of impressions).
    config = synthetic.SyntheticConfig(num_rows=rows, funnel=True, train_days=60, eval_days=30)
    splits, added = {}, {}
    for name, columns in harness.synthetic_splits(config).items():
        splits[name], added[name] = entire_space(columns)
    key = features.cache_key(
        {"chained": dataclasses.asdict(config)}, harness.SPEC_PATH, harness.SCHEMA_PATH, ("data_tools.synthetic",)
    )
    tft_output, x = features.cached(
        key,
        harness.SPEC_PATH,
        harness.SCHEMA_PATH,
        fit_csv=lambda folder: harness._write_csv(splits["train"], os.path.join(folder, "train.csv")),
        splits=lambda: {name: writers.serialize_examples(columns) for name, columns in splits.items()},
    )
    spec = load_feature_spec(harness.SPEC_PATH)
    raw = spec.to_dict()
    raw["tasks"] = {"ctr": {}, "atc": {}, "churn": {}, "cvr": {"given": "ctr", "chain": "entire_space"}}
    chain = task_loss(parse_feature_spec(raw, harness.SPEC_PATH), tft_output)["task_chain"]
    return input_config_from_transform(spec, tft_output), chain, x, splits, added


def _rows(x: dict, keep: np.ndarray) -> dict:
    return {k: v[keep] for k, v in x.items()}


def run(rows: int, seeds: int, steps: int) -> dict:
    import keras

    from benchmarks.harness import default_hyperparameters, fit_model
    from benchmarks.quality.compare import paired

    input_config, chain, x, splits, added = prepare(rows)
    train, evals = splits["train"], splits["eval"]
    variants = {
        # plain: the funnel's rows only (the added cvr rows left out), no chain
        "plain": ({}, ~added["train"]),
        "chained": ({"task_chain": chain}, np.ones(len(train["task"]), bool)),
    }
    given, task = CONDITION
    first = np.flatnonzero(evals["task"] == given)
    ctr_row = dict(zip(evals["impression_id"][first].tolist(), first.tolist(), strict=True))
    cvr = np.flatnonzero(evals["task"] == task)
    pair = np.array([ctr_row[i] for i in evals["impression_id"][cvr].tolist()])  # each cvr row's ctr row
    clicked = ~added["eval"][cvr]
    views = {
        "click and convert, every impression": (evals["label"][cvr], slice(None)),
        "convert given click, clicked impressions": (evals["label"][cvr][clicked], clicked),
        "click, every impression": (evals["label"][first], None),
    }
    scores = {name: {view: [] for view in views} for name in variants}
    seconds = {}
    for name, (extra, keep) in variants.items():
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            params = {**default_hyperparameters("grec"), **extra}
            model, _, spent = fit_model(
                "grec",
                input_config,
                params,
                _rows(x["train"], keep),
                train["label"][keep].astype("float32"),
                steps,
                training.BATCH_SIZE,
                None,
                seed,
                training.STEPS_PER_ROUND,
            )
            seconds.setdefault(name, []).append(spent)
            p = np.asarray(model.predict(x["eval"], batch_size=4096, verbose=0), dtype="float64").reshape(-1)
            p_click, p_cvr = p[pair], p[cvr]
            if name == "plain":  # p(cvr row) is p(convert | click)
                joint, conditional = p_click * p_cvr, p_cvr
            else:  # p(cvr row) is p(click and convert)
                joint, conditional = p_cvr, p_cvr / np.maximum(p_click, 1e-12)
            scores[name]["click and convert, every impression"].append(joint)
            scores[name]["convert given click, clicked impressions"].append(conditional[clicked])
            scores[name]["click, every impression"].append(p[first])
            print(f"  {name:<8} seed {seed}: {spent:.0f} s")
    result = {"rows": {k: int(len(v["task"])) for k, v in splits.items()}, "training_seconds": seconds, "views": {}}
    for view, (labels, _) in views.items():
        a, b = np.stack(scores["chained"][view]), np.stack(scores["plain"][view])
        result["views"][view] = {
            "rows": int(len(labels)),
            "positives": int(labels.sum()),
            "chained_minus_plain": paired(labels, a, b),
        }
    return result


def _cell(d: dict) -> str:
    return f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] {d['verdict']}"


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Chained (ESMM) against plain training of a conditional task: synthetic funnel",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]) + f" {result['seconds'] / 60:.0f} min.",
        "",
        f"GRec, small preset, {a['steps']} steps of {training.BATCH_SIZE}, {a['seeds']} seeds, the generator's "
        f"funnel at {a['rows']:,} rows (cvr given ctr; 60 days of training, the next 30 eval); "
        "`benchmarks/chained.py` says how each variant is trained and scored. Training seconds per seed: "
        + "; ".join(f"{k} {', '.join(f'{s:.0f}' for s in v)}" for k, v in result["training_seconds"].items())
        + " (the chained model runs every row twice).",
        "",
        "| eval rows | positives / rows | chained - plain: AP [95 % CI] | AUC [95 % CI] |",
        "|---|---:|---|---|",
    ]
    for view, e in result["views"].items():
        d = e["chained_minus_plain"]
        lines.append(f"| {view} | {e['positives']:,} / {e['rows']:,} | {_cell(d['ap'])} | {_cell(d['auc'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", help="output path without suffix (default: results/chained_synthetic)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = run(args.rows, args.seeds, args.steps)
    default_out = os.path.join(RESULTS, "chained_synthetic")
    machine.finish(result, args, argv, "benchmarks.chained", time.perf_counter() - start, default_out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
