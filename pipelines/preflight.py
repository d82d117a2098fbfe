"""Checks a data folder against the feature spec before any component runs (seconds, not minutes).

What a run would otherwise find after ExampleGen and StatisticsGen, or not at all:

* the layout: ``train/`` and ``eval/`` folders, or one folder of files
  (``train/`` alone, or files directly in the data root) that ExampleGen splits;
* every file in a split is data with the same header (a stray file, e.g. a
  converter's rejected rows, is named), and that header is the spec's columns;
* the spec and the schema beside it agree (``check_against_schema``);
* the first ``SAMPLE_ROWS`` rows of each CSV file fit the spec
  (``components/row_check.py``, the rule ExampleGen applies to every row): when
  they alone hold more bad rows than ``max_bad_rows`` allows (a wrong dtype in
  the spec makes every row bad), the check fails naming file, line, column and
  the fix; fewer are reported, and ExampleGen quarantines them.

Reads only the head of each file, so it takes well under a second for any size.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os

from components.feature_spec import FeatureSpec
from components.row_check import DEFAULT_MAX_BAD_ROWS, REPORTED, RowParser, describe, limit, read_rows
from data_tools.draft_spec import csv_header

SAMPLE_ROWS = 1_000
CLEAR_BAD_ROWS = 10  # bad rows in the sample that show a fraction threshold is exceeded, not noise
SPLITS = ("train", "eval")


class DataRootError(FileNotFoundError):
    """The data folder cannot feed the pipeline; the message names the folder, file, line or column."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where ExampleGen reads: ``pattern`` None means the ``train/`` and ``eval/`` folders,
    else one input (files matching ``pattern`` under the data root) that ExampleGen splits."""

    folders: tuple[tuple[str, str], ...]  # (split or "input", folder)
    pattern: str | None
    bad_rows: tuple[str, ...] = ()  # rows of the checked sample that ExampleGen will quarantine
    span_pattern: str | None = None  # a data root of spans: TFX's folder pattern (pipelines/spans.py)
    span: int | None = None  # the span asked for (None: the newest, which ExampleGen's driver picks)
    spans: tuple[int, ...] = ()  # the spans there


def layout(data_root: str, one_input: bool = False) -> Layout:
    """The data root's layout; with ``one_input`` (a time split), never the two-folder one.

    Raises:
        DataRootError: no data root, or an ``eval/`` folder without ``train/``.
    """
    train, evaluation = (os.path.join(data_root, split) for split in SPLITS)
    if not os.path.isdir(data_root):
        raise DataRootError(
            f"{train}: missing; the pipeline reads {data_root}/train/* and {data_root}/eval/*, "
            "or one folder of files that ExampleGen splits"
        )
    if os.path.isdir(train) and os.path.isdir(evaluation) and not one_input:
        return Layout((("train", train), ("eval", evaluation)), None)
    if os.path.isdir(evaluation) and not os.path.isdir(train):
        raise DataRootError(f"{train}: missing; {evaluation} needs a train/ folder beside it")
    if os.path.isdir(train):
        return Layout((("input", train),), "train/*")
    return Layout((("input", data_root),), "*")


def _files(split: str, folder: str) -> list[str]:
    entries = sorted(os.listdir(folder))
    folders = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
    if folders:
        raise DataRootError(
            f"{folder}: holds folder(s) {folders}; ExampleGen reads every entry of {folder}/*, " "so move them out"
        )
    if not entries:
        raise DataRootError(f"{folder}: no files in the {split!r} split")
    return [os.path.join(folder, e) for e in entries]


def sample_fails(bad: int, rows: int, max_bad_rows: float) -> bool:
    """Whether ``bad`` bad rows among the first ``rows`` already doom the run at ExampleGen: more than a
    count threshold (0 = strict), or at least ``CLEAR_BAD_ROWS`` and more than a fraction threshold."""
    if max_bad_rows == 0 or max_bad_rows >= 1:
        return bad > limit(max_bad_rows, rows)
    return bad >= CLEAR_BAD_ROWS and bad > max_bad_rows * rows


def check_csv_file(
    path: str, spec: FeatureSpec, header: list[str] | None = None, max_bad_rows: float = DEFAULT_MAX_BAD_ROWS
) -> tuple[list[str], int, list[str]]:
    """Checks one CSV file's header (against ``header`` too, if given) and first rows.

    Returns (header, rows read, bad rows as ``file:line: column: reason``): bad rows
    that ExampleGen will quarantine. Raises ``DataRootError`` naming the file and
    the first bad rows when the sample alone exceeds ``max_bad_rows`` (``sample_fails``).
    """
    columns = {c.name: c for c in spec.columns}
    with open(path, newline="") as f:
        found = csv_header(csv.reader(f))
    if not found:
        raise DataRootError(f"{path}: empty file, expected a header row and data")
    if header is not None and found != header:
        raise DataRootError(
            f"{path}: header differs from the split's other files; every file ExampleGen "
            f"reads must be data with the same columns. Found {found[:8]}..."
        )
    missing = [name for name in columns if name not in found]
    if missing:
        raise DataRootError(
            f"{path}: column(s) {missing} of the feature spec {spec.path} are missing " f"from the header {found}"
        )
    extra = [name for name in found if name not in columns]
    if extra:
        raise DataRootError(
            f"{path}: column(s) {extra} are not in the feature spec {spec.path}; declare them "
            "(`role: ignore` keeps a column out of the model)"
        )
    rows, bad = 0, []
    task_at = found.index(spec.task_column.name)
    with open(path, "rb") as f:
        for line, _, values, column, reason in itertools.islice(
            read_rows(f, RowParser(found, columns, spec.regression_tasks, spec.nonnegative_tasks)), SAMPLE_ROWS
        ):
            rows += 1
            if values is None:
                bad.append(describe(path, line, column, reason))
            elif spec.tasks and values[task_at] not in spec.tasks:
                raise DataRootError(
                    f"{path}:{line}: task {values[task_at]!r} is not named under `tasks:` in {spec.path} "
                    f"(it names {sorted(spec.tasks)}); add it there, or leave its rows out"
                )
    if sample_fails(len(bad), rows, max_bad_rows):
        listed = "\n".join(f"  {b}" for b in bad[:REPORTED])
        raise DataRootError(
            f"{path}: {len(bad)} of the first {rows} rows do not fit the feature spec "
            f"{spec.path} (max_bad_rows {max_bad_rows:g}):\n{listed}"
        )
    return found, rows, bad


def check_data_root(
    data_root: str,
    spec: FeatureSpec | None = None,
    data_format: str = "csv",
    one_input: bool = False,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
) -> Layout:
    """Fails fast, naming what is wrong, before any component runs; returns where ExampleGen reads
    (with the sample's bad rows, which ExampleGen will quarantine).

    Without ``spec`` only the layout and emptiness are checked.
    """
    found = layout(data_root, one_input)
    header, bad = None, []
    for split, folder in found.folders:
        files = _files(split, folder)
        if data_format != "csv":
            if all(os.path.getsize(path) == 0 for path in files):
                raise DataRootError(f"{folder}: the {split!r} split is empty")
            continue
        rows = 0
        for path in files:
            if spec is None:
                with open(path) as f:
                    rows += sum(1 for _ in itertools.islice(f, 2)) - 1
                continue
            header, file_rows, file_bad = check_csv_file(path, spec, header, max_bad_rows)
            rows, bad = rows + file_rows, bad + file_bad
        if rows < 1:
            raise DataRootError(f"{folder}: the {split!r} split is empty (a header and no rows)")
    return dataclasses.replace(found, bad_rows=tuple(bad))


def check_tuning(tune_trials: int, validation_fraction: float) -> None:
    """Raises ValueError unless ``tune_trials`` is 0, or positive with a validation split to tune on."""
    if tune_trials < 0 or (tune_trials and not validation_fraction):
        raise ValueError(
            "tuning needs a validation split (tuning on eval would pick the model on the rows that "
            "judge it): --tune-trials N > 0 with --validation-fraction > 0. "
            f"Received: `tune_trials={tune_trials}, validation_fraction={validation_fraction}`"
        )
