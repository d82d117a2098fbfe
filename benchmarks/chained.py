"""Chained (ESMM) against plain training of a conditional task, on the synthetic funnel and UCI Adult, paired.

    python -m benchmarks.chained synthetic [--rows 200000] [--seeds 2] [--steps 1500]
    python -m benchmarks.chained adult [--seeds 2] [--steps 1500]
    python -m benchmarks.chained synthetic --rows 20000 --seeds 1 --steps 60 --out /tmp/c   # a test

The synthetic data: the generator's funnel (``SyntheticConfig(funnel=True)``: a conversion only after a click),
the spec's tasks ``ctr``, ``atc``, ``churn`` and ``cvr: {given: ctr}``. Adult: its two labels as a funnel,
``income: {given: married}`` (p(married and rich) = p(married) x p(rich | married)). Two GRec models, the same
recipe, steps and seeds, differ only in the conditional task (said for the synthetic names):

* ``plain``: ``cvr`` trained on its sample space, the clicked impressions (label: converted), as the wide
  converter writes a `given:` task; its p(click and convert) is p(ctr row) x p(cvr row);
* ``chained``: ``chain: entire_space`` (ESMM, ``models.task_types``): a ``cvr`` row on every impression, labelled
  click and convert (what the converter writes for a chained task), the model answering p(ctr) x p(cvr | ctr)
  on it; its p(convert | click) is its answer over its ctr row's.

Both are scored on the same eval impressions (one Transform, fitted on the chained training rows, a superset of
the plain ones): click and convert over every impression (ESMM's target), convert given click over the clicked
ones (the plain model's own), and click (the shared task). ``components.intervals.paired_difference`` gives
chained - plain per metric (bootstrap over rows, mean over seeds).

Writes results/chained_<dataset>.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import RESULTS, machine
from models import training

CONDITION = ("ctr", "cvr")  # the synthetic funnel's (given task, conditional task)
DATASETS = ("synthetic", "adult")


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


@dataclasses.dataclass
class Funnel:
    """What both variants train on and are scored on: the entire-space training rows, those the plain variant
    keeps, and on the eval rows, each conditional-task row's given-task row and whether it is in the sample
    space (the given task's label 1)."""

    names: tuple  # (given task, conditional task)
    input_config: object
    chain: list  # the model's task_chain for the chained variant
    train_x: dict
    train_y: np.ndarray
    plain: np.ndarray  # <bool>[train rows]: the plain variant's rows
    eval_x: dict
    eval_y: np.ndarray
    task_rows: np.ndarray  # eval rows of the conditional task (every row of the given task's space)
    given_rows: np.ndarray  # eval rows of the given task, in the same order
    in_space: np.ndarray  # <bool>[len(task_rows)]: the given task's label is 1


def synthetic_funnel(rows: int, work: str) -> Funnel:
    """The generator's funnel: ctr, atc, churn and cvr given ctr; one Transform, fitted on the entire-space rows."""
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
    evals = splits["eval"]
    first = np.flatnonzero(evals["task"] == "ctr")
    ctr_row = dict(zip(evals["impression_id"][first].tolist(), first.tolist(), strict=True))
    cvr = np.flatnonzero(evals["task"] == "cvr")
    return Funnel(
        names=("ctr", "cvr"),
        input_config=input_config_from_transform(spec, tft_output),
        chain=chain,
        train_x=x["train"],
        train_y=splits["train"]["label"],
        plain=~added["train"],
        eval_x=x["eval"],
        eval_y=evals["label"],
        task_rows=cvr,
        given_rows=np.array([ctr_row[i] for i in evals["impression_id"][cvr].tolist()]),
        in_space=~added["eval"][cvr],
    )


def adult_funnel(work: str) -> Funnel:
    """UCI Adult, its two labels as a funnel: income (> 50K) given married, chained. The wide converter writes,
    per person, an income row (on every person: married and rich) then a married row; the plain variant keeps
    the income rows of married people only (where married and rich is rich)."""
    from benchmarks.quality.datasets import prepare

    tasks = {"married": {}, "income": {"given": "married", "chain": "entire_space"}}
    data = prepare("adult", work, tasks=tasks)[0]
    main = data.input_config.main_task

    def pairs(names):  # the converter's order: income, married, for every person
        if not (np.all(names[0::2] == "income") and np.all(names[1::2] == "married")):
            raise ValueError("adult: expected an income row then a married row per person")
        return np.arange(0, len(names), 2), np.arange(1, len(names), 2)

    income, married = pairs(data.train_tasks)
    ids = np.asarray(data.train_x[main]).reshape(-1)
    chain = [-1] * data.input_config.num_tasks
    chain[int(ids[income[0]])] = int(ids[married[0]])
    plain = np.ones(len(data.train_y), bool)
    plain[income] = data.train_y[married] == 1
    task_rows, given_rows = pairs(data.eval_tasks)
    return Funnel(
        names=("married", "income"),
        input_config=data.input_config,
        chain=chain,
        train_x=data.train_x,
        train_y=np.asarray(data.train_y),
        plain=plain,
        eval_x=data.eval_x,
        eval_y=np.asarray(data.eval_y),
        task_rows=task_rows,
        given_rows=given_rows,
        in_space=np.asarray(data.eval_y)[given_rows] == 1,
    )


def _rows(x: dict, keep: np.ndarray) -> dict:
    return {k: v[keep] for k, v in x.items()}


def run(funnel: Funnel, seeds: int, steps: int) -> dict:
    import keras

    from benchmarks.harness import default_hyperparameters, fit_model
    from benchmarks.quality.compare import paired

    given, task = funnel.names
    labels = funnel.eval_y[funnel.task_rows]
    views = {
        f"{given} and {task}, every row": labels,
        f"{task} given {given}, {given} rows": labels[funnel.in_space],
        f"{given}, every row": funnel.eval_y[funnel.given_rows],
    }
    variants = {"plain": ({}, funnel.plain), "chained": ({"task_chain": funnel.chain}, np.ones_like(funnel.plain))}
    scores = {name: {view: [] for view in views} for name in variants}
    seconds = {}
    for name, (extra, keep) in variants.items():
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            model, _, spent = fit_model(
                "grec",
                funnel.input_config,
                {**default_hyperparameters("grec"), **extra},
                _rows(funnel.train_x, keep),
                funnel.train_y[keep].astype("float32"),
                steps,
                training.BATCH_SIZE,
                None,
                seed,
                training.STEPS_PER_ROUND,
            )
            seconds.setdefault(name, []).append(spent)
            p = np.asarray(model.predict(funnel.eval_x, batch_size=4096, verbose=0), dtype="float64").reshape(-1)
            p_given, p_task = p[funnel.given_rows], p[funnel.task_rows]
            if name == "plain":  # the task's row answers p(task | given)
                joint, conditional = p_given * p_task, p_task
            else:  # the task's row answers p(given and task)
                joint, conditional = p_task, p_task / np.maximum(p_given, 1e-12)
            for view, value in zip(views, (joint, conditional[funnel.in_space], p_given), strict=True):
                scores[name][view].append(value)
            print(f"  {name:<8} seed {seed}: {spent:.0f} s")
    result = {
        "training_seconds": seconds,
        "train_rows": {"plain": int(funnel.plain.sum()), "chained": len(funnel.plain)},
    }
    result["views"] = {
        view: {
            "rows": int(len(y)),
            "positives": int(y.sum()),
            "chained_minus_plain": paired(y, np.stack(scores["chained"][view]), np.stack(scores["plain"][view])),
        }
        for view, y in views.items()
    }
    return result


def markdown(result: dict) -> str:
    from benchmarks.quality.compare import difference_cell

    a = result["args"]
    lines = [
        f"# Chained (ESMM) against plain training of a conditional task: {a['dataset']}",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]) + f" {result['seconds'] / 60:.0f} min.",
        "",
        f"GRec, small preset, {a['steps']} steps of {training.BATCH_SIZE}, {a['seeds']} seeds; "
        + (
            f"the generator's funnel at {a['rows']:,} rows (cvr given ctr; 60 days of training, the next 30 eval)"
            if a["dataset"] == "synthetic"
            else "UCI Adult, income given married"
        )
        + f"; training rows plain {result['train_rows']['plain']:,}, chained {result['train_rows']['chained']:,}. "
        "`benchmarks/chained.py` says how each variant is trained and scored. Training seconds per seed: "
        + "; ".join(f"{k} {', '.join(f'{s:.0f}' for s in v)}" for k, v in result["training_seconds"].items())
        + " (the chained model runs every row twice).",
        "",
        "| eval rows | positives / rows | chained - plain: AP [95 % CI] | AUC [95 % CI] |",
        "|---|---:|---|---|",
    ]
    for view, e in result["views"].items():
        d = e["chained_minus_plain"]
        lines.append(
            f"| {view} | {e['positives']:,} / {e['rows']:,} | "
            f"{difference_cell(d['ap'])} | {difference_cell(d['auc'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic rows")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", help="output path without suffix (default: results/chained_<dataset>)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or scratch
        funnel = synthetic_funnel(args.rows, work) if args.dataset == "synthetic" else adult_funnel(work)
        result = run(funnel, args.seeds, args.steps)
    default_out = os.path.join(RESULTS, f"chained_{args.dataset}")
    machine.finish(result, args, argv, "benchmarks.chained", time.perf_counter() - start, default_out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
