"""Checks a data folder against the feature spec before any component runs (seconds, not minutes).

What a run would otherwise find after ExampleGen and StatisticsGen, or not at all:

* the layout: ``train/`` and ``eval/`` folders, or one folder of files
  (``train/`` alone, or files directly in the data root) that ExampleGen splits;
* every file in a split is data with the same header (a stray file, e.g. a
  converter's rejected rows, is named), and that header is the spec's columns;
* the spec and the schema beside it agree (``check_against_schema``);
* the first ``SAMPLE_ROWS`` rows of each CSV file parse under the declared
  dtypes: a value that does not is named with its file, line and column, and
  the fix.

Reads only the head of each file, so it takes well under a second for any size.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os

from components.feature_spec import NULLABLE_ROLES, FeatureSpec
from data_tools.draft_spec import INT_PATTERN, MISSING_MARKERS, csv_header, is_number

SAMPLE_ROWS = 1_000
SPLITS = ("train", "eval")


class DataRootError(FileNotFoundError):
    """The data folder cannot feed the pipeline; the message names the folder, file, line or column."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where ExampleGen reads: ``pattern`` None means the ``train/`` and ``eval/`` folders,
    else one input (files matching ``pattern`` under the data root) that ExampleGen splits."""

    folders: tuple[tuple[str, str], ...]  # (split or "input", folder)
    pattern: str | None


def layout(data_root: str, one_input: bool = False) -> Layout:
    """The data root's layout; with ``one_input`` (a time split), never the two-folder one.

    Raises:
        DataRootError: no data root, or an ``eval/`` folder without ``train/``.
    """
    train, evaluation = (os.path.join(data_root, split) for split in SPLITS)
    if not os.path.isdir(data_root):
        raise DataRootError(f"{train}: missing; the pipeline reads {data_root}/train/* and {data_root}/eval/*, "
                            "or one folder of files that ExampleGen splits")  # fmt: skip
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
        raise DataRootError(f"{folder}: holds folder(s) {folders}; ExampleGen reads every entry of {folder}/*, "
                            "so move them out")  # fmt: skip
    if not entries:
        raise DataRootError(f"{folder}: no files in the {split!r} split")
    return [os.path.join(folder, e) for e in entries]


def _problem(column, value: str) -> str | None:
    """Why ``value`` does not fit ``column``'s declared dtype (with the fix), or None."""
    if value == "":
        if column.role in NULLABLE_ROLES:
            return None
        return f"is empty, and a {column.role!r} column needs a value in every row"
    if column.role == "label" and value not in ("0", "1"):
        return f"{value!r} is not a label; labels are 0 or 1"
    if column.dtype == "int" and not INT_PATTERN.match(value):
        if value in MISSING_MARKERS:
            return (f"{value!r} marks a missing value; write an empty cell instead "
                    "(data_tools.wide_to_tasks does this for wide files)")  # fmt: skip
        try:
            float(value)
            return f"values like {value!r} are decimals; declare `dtype: float`"
        except ValueError:
            return f"{value!r} is not a whole number; declare `dtype: string` if the column holds words"
    if column.dtype == "float":
        try:
            float(value)
        except ValueError:
            if value in MISSING_MARKERS:
                return (f"{value!r} marks a missing value; write an empty cell instead "
                        "(data_tools.wide_to_tasks does this for wide files)")  # fmt: skip
            return f"{value!r} is not a number; declare `dtype: string` and role categorical if it holds words"
    if column.role == "image_embedding":
        parts = value.split()
        if len(parts) != column.option("dim") or not all(is_number(p) for p in parts):
            return f"expected {column.option('dim')} space-separated numbers (its `dim`), found {len(parts)} values"
    return None


def check_csv_file(path: str, spec: FeatureSpec, header: list[str] | None = None) -> tuple[list[str], int]:
    """Checks one CSV file's header (against ``header`` too, if given) and first rows; returns (header, rows read).

    Raises:
        DataRootError: naming the file, and the line and column where a value is wrong.
    """
    columns = {c.name: c for c in spec.columns}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        found = csv_header(reader)
        if not found:
            raise DataRootError(f"{path}: empty file, expected a header row and data")
        if header is not None and found != header:
            raise DataRootError(f"{path}: header differs from the split's other files; every file ExampleGen "
                                f"reads must be data with the same columns. Found {found[:8]}...")  # fmt: skip
        missing = [name for name in columns if name not in found]
        if missing:
            raise DataRootError(f"{path}: column(s) {missing} of the feature spec {spec.path} are missing "
                                f"from the header {found}")  # fmt: skip
        extra = [name for name in found if name not in columns]
        if extra:
            raise DataRootError(f"{path}: column(s) {extra} are not in the feature spec {spec.path}; declare them "
                                "(`role: ignore` keeps a column out of the model)")  # fmt: skip
        rows = 0
        for line, row in zip(itertools.count(2), itertools.islice(reader, SAMPLE_ROWS)):
            if not row:
                continue
            rows += 1
            if len(row) != len(found):
                raise DataRootError(f"{path}:{line}: expected {len(found)} fields, found {len(row)}")
            for name, value in zip(found, row, strict=True):
                problem = _problem(columns[name], value.strip())
                if problem:
                    raise DataRootError(f"{path}:{line}: column {name!r}: {problem}")
    return found, rows


def check_data_root(data_root: str, spec: FeatureSpec | None = None, data_format: str = "csv",
                    one_input: bool = False) -> Layout:  # fmt: skip
    """Fails fast, naming what is wrong, before any component runs; returns where ExampleGen reads.

    Without ``spec`` only the layout and emptiness are checked.
    """
    found = layout(data_root, one_input)
    header = None
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
            header, file_rows = check_csv_file(path, spec, header)
            rows += file_rows
        if rows < 1:
            raise DataRootError(f"{folder}: the {split!r} split is empty (a header and no rows)")
    return found
