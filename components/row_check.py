"""What a valid raw row is: one rule for the pre-flight check, ExampleGen's quarantine and the data tools.

A value fits its column when it parses under the column's dtype, a required
(non-nullable) column is not empty, a label is 0 or 1 (a regression task's, in a
float label column, a finite number), and an image embedding
holds ``dim`` finite numbers. ``value_problem`` says why a value does not fit,
with the fix; ``RowParser`` turns one CSV row into typed values at full speed
and asks ``value_problem`` only when a value fails, so the pre-flight check
(``pipelines/preflight.py``) and the ExampleGen executors
(``components.example_gen``) can never disagree.

Pure Python: the data tools import it without TensorFlow.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Sequence

from components.feature_spec import NULLABLE_ROLES, ROLE_TABLE, Column

# Cells that mean "missing" in exported data. The drafter does not count them when guessing a
# type; the wide-file converter blanks them in numerical columns; ExampleGen wants empty cells.
MISSING_MARKERS = frozenset({"", "?", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "none"})
INT_PATTERN = re.compile(r"^[+-]?\d+$")  # what CsvExampleGen reads as INT
LABEL_VALUES = ("0", "1")
DEFAULT_MAX_BAD_ROWS = 0.001  # bad rows a split may hold before the run stops: 0.1 % of its rows
REPORTED = 5  # bad rows quoted in messages (all are listed in the quarantine)
MAX_RECORD_LINES = 1_000  # a quoted field still open after this many lines is a stray quote
_MISSING_FIX = "marks a missing value; write an empty cell instead (data_tools.wide_to_tasks does this for wide files)"


def is_number(value: str) -> bool:
    """A finite number (what a numerical or vector cell holds)."""
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def vector_problem(text: str, dim: int) -> tuple[int, str | None] | None:
    """None when ``text`` holds ``dim`` finite numbers separated by spaces (an image embedding's cell, or a
    served request's value); else (how many words it holds, the first that is no finite number or None).
    The model server's request checks apply the same rule (``serving.request_checks``)."""
    words = text.split()
    bad = next((w for w in words if not is_number(w)), None)
    if len(words) != dim or bad is not None:
        return len(words), bad
    return None


def value_problem(column: Column, value: str) -> str | None:
    """Why ``value`` (one stripped CSV cell) does not fit ``column``, with the fix; None if it fits."""
    if value == "":
        if column.role in NULLABLE_ROLES:
            return None
        return f"is empty, and a {column.role!r} column needs a value in every row"
    if ROLE_TABLE[column.role].binary and not (value in LABEL_VALUES or is_number(value) and float(value) in (0, 1)):
        return f"{value!r} is not a label; labels are {' or '.join(LABEL_VALUES)}"
    if column.dtype == "int" and not INT_PATTERN.match(value):
        if value in MISSING_MARKERS:
            return f"{value!r} {_MISSING_FIX}"
        try:
            float(value)
            return f"values like {value!r} are decimals; declare `dtype: float`"
        except ValueError:
            return f"{value!r} is not a whole number; declare `dtype: string` if the column holds words"
    if column.dtype == "float" and not is_number(value):
        if value in MISSING_MARKERS:
            return f"{value!r} {_MISSING_FIX}"
        try:
            float(value)
            return f"{value!r} is not a finite number"
        except ValueError:
            return f"{value!r} is not a number; declare `dtype: string` and role categorical if it holds words"
    if ROLE_TABLE[column.role].vector:
        problem = vector_problem(value, column.option("dim"))
        if problem is not None:
            return f"expected {column.option('dim')} space-separated numbers (its `dim`), found {problem[0]} values"
    return None


def limit(max_bad_rows: float, rows: int) -> int:
    """The most bad rows a split of ``rows`` rows may hold: a count (>= 1); a fraction (< 1) of the rows,
    rounded up (one bad row never stops a small split unless the threshold is 0); 0 = none."""
    if max_bad_rows < 0:
        raise ValueError(f"max_bad_rows must be >= 0 (a count, or a fraction below 1), got {max_bad_rows}")
    return int(max_bad_rows) if max_bad_rows >= 1 else math.ceil(max_bad_rows * rows)


def describe(path: str, position, column: str | None, reason: str, unit: str = "line") -> str:
    """One bad row as the pre-flight check and ExampleGen print it: ``file:line: column 'c': reason``
    (``file:record N: ...`` for TFRecord)."""
    where = f"{position}" if unit == "line" else f"{unit} {position}"
    return f"{path}:{where}: " + (f"column {column!r}: " if column else "") + reason


class BadRow(ValueError):
    """A row that does not fit the spec: ``column`` (None for the row's shape) and ``reason``."""

    def __init__(self, column: str | None, reason: str):
        super().__init__(f"column {column!r}: {reason}" if column else reason)
        self.column, self.reason = column, reason


class RowParser:
    """Typed values of one CSV row of ``header`` under the spec's ``columns`` (name -> Column).

    ``parse(cells)`` returns one value per column: None for an empty cell, else
    the cell as ``int``, ``float`` or ``str`` by its dtype (what TFX's CSV
    ExampleGen would have made of it); a row that does not fit raises ``BadRow``.
    """

    def __init__(
        self,
        header: Sequence[str],
        columns: dict[str, Column],
        regression_tasks: Iterable[str] = (),
        nonnegative_tasks: Iterable[str] = (),
    ):
        self.header = list(header)
        # With regression tasks (a float label column), a label is any finite number; a binary task's row's
        # label is then checked against its task (0 or 1) after the row is cast.
        self._regression = frozenset(regression_tasks)
        self._nonnegative = frozenset(nonnegative_tasks)  # `loss: log_mse` tasks: log1p needs a value >= 0
        self._label_at = next((i for i, name in enumerate(self.header) if columns[name].role == "label"), None)
        self._task_at = next((i for i, name in enumerate(self.header) if columns[name].role == "task"), None)
        self._columns = [columns[name] for name in header]
        self._casts = [{"int": int, "float": float}.get(c.dtype) for c in self._columns]
        self._required = [c.role not in NULLABLE_ROLES for c in self._columns]
        # Values that need a check beyond their cast: a label is 0 or 1, a float finite, an embedding `dim` numbers.
        self._checks = [math.isfinite if self._regression and c.role == "label" else _check(c) for c in self._columns]

    def parse(self, cells: Sequence[str]) -> list:
        if len(cells) != len(self._columns):
            raise BadRow(None, f"expected {len(self._columns)} fields, found {len(cells)}")
        values = []
        for column, cast, required, check, cell in zip(
            self._columns, self._casts, self._required, self._checks, cells, strict=False
        ):
            if not cell:
                if required:
                    raise BadRow(column.name, value_problem(column, ""))
                values.append(None)
                continue
            try:
                value = cast(cell) if cast else cell
                ok = check is None or check(value)
            except ValueError:
                ok = False
            if not ok:
                raise BadRow(
                    column.name, value_problem(column, cell.strip()) or f"{cell!r} does not fit dtype {column.dtype}"
                )
            values.append(value)
        if self._regression and self._label_at is not None and self._task_at is not None:
            task, label = values[self._task_at], values[self._label_at]
            if task not in self._regression and label not in (0, 1):
                raise BadRow(
                    self.header[self._label_at],
                    f"{cells[self._label_at]!r} is not a label of binary task {task!r} (0 or 1)",
                )
            if task in self._nonnegative and label < 0:
                raise BadRow(
                    self.header[self._label_at],
                    f"{cells[self._label_at]!r} is negative; task {task!r} has `loss: log_mse` (values >= 0)",
                )
        return values


def _check(column: Column):
    """The test a cast value of ``column`` must pass, or None."""
    if ROLE_TABLE[column.role].binary:
        return lambda value: value in (0, 1)  # 1 or 1.0 (a float label column)
    if ROLE_TABLE[column.role].vector:
        dim = column.option("dim")
        return lambda value: vector_problem(value, dim) is None
    if column.dtype == "float":
        return math.isfinite
    return None


def _structure(text: str, fields: int) -> list[str] | str:
    """The cells of one CSV record, or why it is not a record of ``fields`` fields."""
    if '"' not in text:
        cells = text.rstrip("\r\n").split(",")  # what csv.reader gives for an unquoted line, ~5x faster
    else:
        try:
            rows = list(csv.reader([text]))
        except csv.Error as error:
            return f"not CSV: {error}"
        cells = rows[0] if len(rows) == 1 else []
    if len(cells) != fields:
        return f"expected {fields} fields, found {len(cells)}"
    return cells


class _Lines:
    """A file's lines after the header, numbered from 2; lines given back are read again. Streams."""

    def __init__(self, lines: Iterable[bytes]):
        self._lines = iter(lines)
        next(self._lines, None)  # the header
        self._number = 1
        self._back: list[tuple[int, bytes]] = []

    def take(self) -> tuple[int, bytes | None]:
        if self._back:
            return self._back.pop()
        line = next(self._lines, None)
        if line is None:
            return self._number, None
        self._number += 1
        return self._number, line

    def give_back(self, first: int, lines: list[bytes]):
        self._back.extend(reversed(list(enumerate(lines, first))))


def read_rows(lines: Iterable[bytes], parser: RowParser) -> Iterator[tuple[int, str, list | None, str | None, str]]:
    """Per record of a CSV file's ``lines`` (bytes, header first): (line, text, values, column, reason).

    ``values`` are ``parser``'s typed values, or None for a bad row, with
    ``column`` (None for the row's shape) and ``reason``. Records are split as
    TFX's CSV reader splits them (a quoted field may span lines; blank lines are
    skipped), except that a record that runs over several lines and still does
    not parse (a stray quote) costs only its first line: the lines after it are
    read again as rows of their own.
    """
    fields, source = len(parser.header), _Lines(lines)
    while True:
        start, raw = source.take()
        if raw is None:
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield start, repr(raw), None, None, f"not UTF-8 text: {error}"
            continue
        if not text.strip("\r\n"):
            continue
        taken = [raw]
        while text.count('"') % 2 and len(taken) < MAX_RECORD_LINES:
            _, more = source.take()
            if more is None:
                break
            taken.append(more)
            text += more.decode("utf-8", errors="replace")
        cells = _structure(text, fields) if text.count('"') % 2 == 0 else "a quoted field is never closed"
        if isinstance(cells, str):
            if len(taken) > 1:
                source.give_back(start + 1, taken[1:])
                cells += f" (a quote opened on this line runs on over {len(taken) - 1} more lines)"
                text = taken[0].decode("utf-8")
            yield start, text.rstrip("\r\n"), None, None, cells
            continue
        try:
            yield start, text.rstrip("\r\n"), parser.parse(cells), None, ""
        except BadRow as error:
            yield start, text.rstrip("\r\n"), None, error.column, error.reason
