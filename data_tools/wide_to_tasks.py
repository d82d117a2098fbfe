"""Converts a wide file (one row, several label columns) into task examples.

A wide row ``context..., click, conversion`` becomes one task example per label
column named under ``wide_labels`` in the feature spec::

    context..., task=ctr,   label=click
    context..., task=ctcvr, label=conversion

The output has the feature spec's columns in its order, so the same pipeline
trains on it. The converter streams (one row in memory at a time), so a
multi-GB file converts in constant memory.

Missing-value markers (``?``, ``NA``, ``null``... see
``components.row_check.MISSING_MARKERS``) in numerical columns become empty
cells, which the pipeline treats as missing. A line break inside a text or
history cell (a review written in paragraphs) is written as a space: the
pipeline reads one line per row, and its tokenizer splits on any whitespace,
so no token changes; the summary counts those cells.

A column the spec's ``wide_names`` renames (a file column whose name a served
model cannot take, ``Class Name``) is written under its name in the spec
(``Class_Name``); the summary lists each.

A task's sample space: an empty label cell means the row is outside that task's
sample space (a conversion cell left empty where no click happened): the row gives
no example of that task and is no bad row; and a task the spec's `tasks:` section
declares ``given: other`` (conversion given click) gets an example only from a row
whose ``other`` label is 1 (and in ``other``'s own sample space). A task that is
also ``chain: entire_space`` gets an example from every row of ``other``'s sample
space instead, labelled 1 where both labels are 1 (click and convert: ESMM). The
summary counts the examples not written, per task and reason.

Bad rows (wrong column count, a numerical value that is not a number, a
decimal in a column declared ``dtype: int``, a label outside the allowed
values) are never dropped silently: each is counted, reported with its line
number and reason, and written to ``<folder>.rejected/<output name>`` beside
the output's folder (``my_data/train/data.csv`` -> ``my_data/train.rejected/data.csv``),
which no ExampleGen input pattern reads; the file exists only when some row was
rejected. With ``strict=True`` the first bad row is fatal.

    python -m data_tools.wide_to_tasks --spec schemas/aliexpress/feature_spec.yaml \
        --input wide.csv --output tasks.csv --set country=NL
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import math
import os
import sys
from collections.abc import Iterable, Mapping

from components.feature_spec import ROLE_TABLE, FeatureSpec, FeatureSpecError, load_feature_spec
from components.row_check import INT_PATTERN, MISSING_MARKERS, is_number

MAX_REPORTED = 20  # bad rows listed in the report; all are counted and written


class BadRowError(ValueError):
    """A bad row under strict conversion; the message names file, line and column."""


@dataclasses.dataclass
class ConversionReport:
    """What a conversion read, wrote and rejected."""

    input_rows: int = 0
    output_rows: int = 0
    bad_rows: int = 0
    bad_examples: list[str] = dataclasses.field(default_factory=list)
    rejected_path: str = ""
    line_breaks: int = 0  # text / history cells whose line breaks were written as spaces
    renamed: dict[str, str] = dataclasses.field(default_factory=dict)  # the spec's wide_names
    # task -> {reason: rows}: rows that gave no example of the task (outside its sample space)
    outside: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"read {self.input_rows} rows, wrote {self.output_rows} task examples, rejected {self.bad_rows} rows"]
        if self.renamed:
            lines.append(
                "columns written under the spec's names: "
                + ", ".join(f"{source!r} -> {name}" for source, name in self.renamed.items())
            )
        if self.outside:
            lines.append(
                "examples not written, outside a task's sample space: "
                + "; ".join(
                    f"{task} {sum(reasons.values())} ({', '.join(f'{why}: {n}' for why, n in sorted(reasons.items()))})"
                    for task, reasons in sorted(self.outside.items())
                )
            )
        if self.line_breaks:
            lines.append(f"{self.line_breaks} text cells held line breaks, written as spaces (same tokens)")
        lines += [f"  {example}" for example in self.bad_examples]
        if self.bad_rows > len(self.bad_examples):
            lines.append(f"  ... and {self.bad_rows - len(self.bad_examples)} more")
        if self.bad_rows:
            lines.append(f"rejected rows (with line number and reason): {self.rejected_path}")
        return "\n".join(lines)


def default_rejected_path(output_path: str) -> str:
    """``<folder>.rejected/<name>`` beside the output's folder: never inside a folder ExampleGen reads."""
    folder, name = os.path.split(os.path.abspath(output_path))
    return os.path.join(folder + ".rejected", name)


def _check_row(
    row: list[str],
    header: list[str],
    line: int,
    path: str,
    numeric: set[str],
    integers: set[str],
    labels: Iterable[str],
    allowed: set[str],
    regression: set[str] = frozenset(),
) -> str | None:
    """Returns why the row is bad, or None; blanks missing-value markers of numerical columns in ``row``."""
    if len(row) != len(header):
        return f"{path}:{line}: expected {len(header)} columns, found {len(row)}"
    values = dict(zip(header, row, strict=False))
    for name in numeric | integers:
        value = values[name].strip()
        if value in MISSING_MARKERS:
            row[header.index(name)] = ""  # missing; Transform fills it
            continue
        try:
            if math.isnan(float(value)):
                continue
        except ValueError:
            return f"{path}:{line}: column {name!r}: {value!r} is not a number"
        if name in integers and not INT_PATTERN.match(value):
            return f"{path}:{line}: column {name!r}: {value!r} is not a whole number (the spec says dtype int)"
    for name in labels:
        value = values[name].strip()
        if not value:  # outside the task's sample space
            continue
        if name in regression:
            if not is_number(value):
                return f"{path}:{line}: label column {name!r} (a regression task): {value!r} is not a finite number"
        elif value not in allowed:
            return f"{path}:{line}: label column {name!r}: {values[name]!r} is not one of {sorted(allowed)}"
    return None


def _outside(spec: FeatureSpec, task: str, row: list[str], index: Mapping[str, int], label_of: Mapping[str, str]):
    """Why ``row`` gives no example of ``task`` (outside its sample space), or None: its label cell is empty, or
    the task it is ``given`` is outside its own sample space or not 1 in this row. A chained task's space is its
    given task's: every such row, its own cell read only where the given task's label is 1."""
    empty = not row[index[label_of[task]]].strip()
    given = spec.given(task)
    if given is not None and spec.chain(task):
        if _outside(spec, given, row, index, label_of):
            return f"{given} outside its sample space"
        return "empty label cell" if empty and _positive(row, index, label_of, given) else None
    if empty:
        return "empty label cell"
    if given is None:
        return None
    if _outside(spec, given, row, index, label_of) or not _positive(row, index, label_of, given):
        return f"{given} not 1"
    return None


def _positive(row: list[str], index: Mapping[str, int], label_of: Mapping[str, str], task: str) -> bool:
    cell = row[index[label_of[task]]].strip()
    return bool(cell) and float(cell) > 0


def _binary_label(spec: FeatureSpec, task: str, row: list[str], index, label_of) -> str:
    """A binary task's label as written: 1 for a positive cell; a chained task's only where its given task's is
    1 too (p(given and task), ESMM's entire-space label)."""
    positive = _positive(row, index, label_of, task)
    if spec.chain(task):
        positive = positive and _positive(row, index, label_of, spec.given(task))
    return "1" if positive else "0"


def convert(
    spec: FeatureSpec,
    input_path: str,
    output_path: str,
    constants: Mapping[str, str] | None = None,
    allowed_labels: Iterable[str] = ("0", "1"),
    strict: bool = False,
    rejected_path: str | None = None,
) -> ConversionReport:
    """Streams ``input_path`` (wide CSV) into ``output_path`` (task-example CSV).

    Args:
        spec: the feature spec of the task examples; ``spec.wide_labels`` maps
            each label column of the wide file to its task name.
        input_path: wide CSV with a header row.
        output_path: where the task examples go (CSV with header).
        constants: columns the wide file lacks, set for every row (the
            AliExpress country, which is in the file name, not in the rows).
        allowed_labels: binary tasks' label values accepted; a value > 0 is a positive (a regression task's
            label, `type: regression` under `tasks:`, is any finite number, written as read); an empty cell
            is outside the task's sample space (no example of it).
        strict: raise BadRowError at the first bad row instead of rejecting it.
        rejected_path: where rejected rows go (default ``default_rejected_path``),
            written only when a row is rejected; keep it out of folders an ExampleGen reads.

    Returns:
        A ConversionReport.

    Raises:
        FeatureSpecError: the spec has no ``wide_labels``, or the input lacks a
            column the spec needs (named).
        BadRowError: with ``strict``, the first bad row (file, line, column).
    """
    constants = dict(constants or {})
    if not spec.wide_labels:
        raise FeatureSpecError(f"{spec.path}: `wide_labels`: needed to convert a wide file; none declared")
    task_col, label_col = spec.task_column.name, spec.label_column.name
    for name in constants:
        if name not in spec.names:
            raise FeatureSpecError(
                f"{spec.path}: constant column {name!r} (from --set) is not declared under `columns`"
            )
    allowed = {str(v) for v in allowed_labels}
    # checked under the file's own column names (the rejected rows' reasons name the user's columns)
    numeric = {spec.file_column(c.name) for c in spec.columns if c.role == "numerical" and c.name not in constants}
    integers = {
        spec.file_column(c.name)
        for c in spec.columns
        if c.dtype == "int" and c.role in ("numerical", "categorical") and c.name not in constants
    }
    regression = {column for column, task in spec.wide_labels.items() if spec.task_type(task) == "regression"}
    words = [c.name for c in spec.columns if ROLE_TABLE[c.role].words and c.name not in constants]
    report = ConversionReport(
        rejected_path=rejected_path or default_rejected_path(output_path), renamed=dict(spec.wide_names)
    )
    with open(input_path, newline="") as src:
        reader = csv.reader(src)
        header = next(reader, None)
        if header is None:
            raise FeatureSpecError(f"{input_path}: empty file, expected a header row")
        needed = [n for n in spec.names if n not in (task_col, label_col) and n not in constants] + list(
            spec.wide_labels
        )
        missing = [spec.file_column(n) for n in needed if spec.file_column(n) not in header]
        if missing:
            raise FeatureSpecError(
                f"{input_path}: column(s) {missing} needed by {spec.path} are missing from the header"
            )
        index = {name: header.index(spec.file_column(name)) for name in needed}
        label_of = {task: column for column, task in spec.wide_labels.items()}  # task -> its wide label column
        rejected = None
        os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
        with contextlib.ExitStack() as files:
            writer = csv.writer(files.enter_context(open(output_path, "w", newline="")))
            writer.writerow(spec.names)
            for line, row in enumerate(reader, start=2):
                report.input_rows += 1
                original = list(row)
                problem = _check_row(
                    row, header, line, input_path, numeric, integers, spec.wide_labels, allowed, regression
                )
                if problem:
                    if strict:
                        raise BadRowError(problem)
                    report.bad_rows += 1
                    if len(report.bad_examples) < MAX_REPORTED:
                        report.bad_examples.append(problem)
                    if rejected is None:  # the file exists only when a row is rejected
                        os.makedirs(os.path.dirname(report.rejected_path), exist_ok=True)
                        rejected = csv.writer(files.enter_context(open(report.rejected_path, "w", newline="")))
                        rejected.writerow(["line", "reason", *header])
                    rejected.writerow([line, problem, *original])
                    continue
                for name in words:
                    cell = row[index[name]]
                    if "\n" in cell or "\r" in cell:
                        row[index[name]] = " ".join(cell.splitlines())
                        report.line_breaks += 1
                for wide_label, task in spec.wide_labels.items():
                    reason = _outside(spec, task, row, index, label_of)
                    if reason:
                        counts = report.outside.setdefault(task, {})
                        counts[reason] = counts.get(reason, 0) + 1
                        continue
                    out = []
                    for name in spec.names:
                        if name == task_col:
                            out.append(task)
                        elif name == label_col and wide_label in regression:
                            out.append(row[index[wide_label]].strip())  # a regression task's value, as read
                        elif name == label_col:
                            out.append(_binary_label(spec, task, row, index, label_of))
                        elif name in constants:
                            out.append(constants[name])
                        else:
                            out.append(row[index[name]])
                    writer.writerow(out)
                    report.output_rows += 1
    return report


def parse_constants(pairs: Iterable[str]) -> dict[str, str]:
    constants = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set takes COLUMN=VALUE. Received: `{pair}`")
        name, value = pair.split("=", 1)
        constants[name] = value
    return constants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, help="feature spec with wide_labels")
    parser.add_argument("--input", required=True, help="wide CSV file")
    parser.add_argument("--output", required=True, help="task-example CSV to write")
    parser.add_argument("--set", action="append", default=[], metavar="COLUMN=VALUE", help="constant column value")
    parser.add_argument("--allowed-labels", default="0,1", help="accepted label values (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad row")
    args = parser.parse_args(argv)
    try:
        report = convert(
            load_feature_spec(args.spec),
            args.input,
            args.output,
            parse_constants(args.set),
            args.allowed_labels.split(","),
            args.strict,
        )
    except (FeatureSpecError, BadRowError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
