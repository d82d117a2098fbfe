"""The quality protocol: every model tuned with the same budget (or none), trained with each seed on the
same rows, early-stopped on the same validation rows, scored on the same test rows, and compared with GRec
per task by paired intervals."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from benchmarks import machine
from benchmarks.quality.compare import log_loss, metrics, paired, paired_loss
from benchmarks.quality.datasets import SYNTHETIC, describe, prepare
from benchmarks.quality.learners import Budget, DeepLearner, LightGBMLearner
from models import training

DEEP_MODELS = ("grec", "mmoe", "ple", "shared_bottom")


def run(
    dataset: str,
    work: str,
    seeds: int,
    max_steps: int,
    eval_every: int,
    numerical: str | None = None,
    num_buckets: int | None = None,
    drop_options=(),
    tune_trials: int = 0,
    models=DEEP_MODELS,
    variants: dict | None = None,
    rows: int = SYNTHETIC["rows"],
    pairs=(),
    on_trained=None,
    prepared=None,
    batch_size: int = training.BATCH_SIZE,
    learning_rate: float | None = None,
) -> dict:
    """``models``: the deep models to train (``grec`` first: every other is compared with it), each a model name
    or a name of ``variants`` ({name: (model, preset overrides)}, e.g. GRec with two blocks). ``pairs``: more
    (A, B) names to compare the same way (``result["tasks"][task]["pairs"]["A - B"]``); ``on_trained(name,
    seed, model)`` is called after each deep model's training (e.g. to read its expert utilisation).
    ``batch_size`` and ``learning_rate`` (None: the recipe's) train every deep model.
    ``prepared``: what ``prepare`` returns, when the caller already made it."""

    variants = variants or {}
    if models[0] != "grec":
        raise ValueError(f"the first model is the one compared with the others and must be grec, got {models[0]!r}")
    if tune_trials and variants:
        raise ValueError("variants are fixed overrides of a preset; tune the model itself instead")
    if tune_trials and learning_rate:
        raise ValueError("the tuner searches the learning rate; give either tune_trials or learning_rate")
    start = time.perf_counter()
    prepared = prepared or prepare(dataset, work, numerical, num_buckets, drop_options, rows)
    data, lightgbm_sets, _ = prepared
    budget = Budget(max_steps, eval_every, batch_size, learning_rate)
    learners = [DeepLearner(name, *variants.get(name, (name, None))) for name in models]
    learners += [LightGBMLearner(name) for name in lightgbm_sets]
    tasks = list(lightgbm_sets["lightgbm"])
    test_tasks = data.eval_tasks
    scores: dict[str, np.ndarray] = {}  # model -> [seeds, test rows]
    valid_scores: dict[str, list] = {}  # deep model -> [seeds][validation rows]
    steps: dict[str, list[int]] = {}
    tuned: dict[str, object] = {}
    for learner in learners if tune_trials else ():
        tuned[learner.name] = learner.tune(prepared, tune_trials, budget, os.path.join(work, "tuner"))
        print(f"  {learner.name:<14} tuned ({tune_trials} trials): {tuned[learner.name]}", flush=True)
    for learner in learners:
        runs = []
        for seed in range(seeds) if learner.seeded else (0,):
            run_scores, trained, model = learner.fit_score(prepared, seed, budget, tuned.get(learner.name))
            runs.append(run_scores)
            if not learner.seeded:
                steps[learner.name] = trained
                continue
            steps.setdefault(learner.name, []).append(trained)
            if data.valid_x is not None:  # the rows early stopping chose the step on
                valid_scores.setdefault(learner.name, []).append(
                    np.asarray(model.predict(data.valid_x, batch_size=4096, verbose=0), dtype="float64").ravel()
                )
            if on_trained:
                on_trained(learner.name, seed, model)
            mean_ap = np.mean([metrics(data.eval_y[test_tasks == t], run_scores[test_tasks == t])["ap"] for t in tasks])
            print(f"  {learner.name:<14} seed {seed}: {trained} steps, test mean AP {mean_ap:.4f}", flush=True)
        scores[learner.name] = np.stack(runs)

    result = {
        "data": describe(dataset, rows),
        "variants": {name: f"{model} {json.dumps(overrides)}" for name, (model, overrides) in variants.items()},
        "rows": {"train": int(len(data.train_y)), "valid": int(len(data.valid_y)), "test": int(len(data.eval_y))},
        "numerical": (numerical or "as drafted") + "".join(f", without {o}" for o in drop_options),
        "seeds": seeds,
        "max_steps": max_steps,
        "eval_every": eval_every,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "steps_or_trees": steps,
        "tune_trials": tune_trials,
        "tuned": {k: repr(v) for k, v in tuned.items()},
        "tasks": {},
        "machine": machine.describe(),
        "seconds": 0.0,
    }
    if valid_scores:  # every deep model's validation log loss, GRec's against each on the same rows
        found = {name: np.stack(runs) for name, runs in valid_scores.items()}
        losses = {name: [log_loss(data.valid_y, run) for run in runs] for name, runs in found.items()}
        result["validation"] = {
            "rows": int(len(data.valid_y)),
            "models": {name: {"mean": float(np.mean(v)), "std": float(np.std(v))} for name, v in losses.items()},
            "grec_vs": {
                name: paired_loss(data.valid_y, found["grec"], f) for name, f in found.items() if name != "grec"
            },
        }
        if pairs:
            result["validation"]["pairs"] = {
                f"{a} - {b}": paired_loss(data.valid_y, found[a], found[b]) for a, b in pairs
            }
    oracle = data.eval_oracle if not np.isnan(data.eval_oracle).all() else None
    for task in tasks:
        rows = test_tasks == task
        y = data.eval_y[rows]
        entry = {"test_rows": int(rows.sum()), "positives": int(y.sum()), "models": {}, "grec_vs": {}}
        for name, s in scores.items():
            per_seed = [metrics(y, run_scores[rows]) for run_scores in s]
            entry["models"][name] = {
                m: {"mean": float(np.mean([p[m] for p in per_seed])), "std": float(np.std([p[m] for p in per_seed]))}
                for m in per_seed[0]
            }
        if oracle is not None:  # the generator's true probability: the ceiling of every model
            entry["oracle"] = metrics(y, oracle[rows])
        for name in scores:
            if name != "grec":
                entry["grec_vs"][name] = paired(y, scores["grec"][:, rows], scores[name][:, rows])
        if pairs:
            entry["pairs"] = {f"{a} - {b}": paired(y, scores[a][:, rows], scores[b][:, rows]) for a, b in pairs}
        result["tasks"][task] = entry
    result["seconds"] = time.perf_counter() - start
    return result
