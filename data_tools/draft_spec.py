"""Drafts a feature spec and a TFMD schema from a sample of a CSV file, wide or long.

    python -m data_tools.draft_spec --input wide.csv --labels click,conversion --out my_spec/
    python -m data_tools.draft_spec --input tasks.csv --out my_spec/     # long: has `task` and `label`

Writes ``feature_spec.yaml`` (one line per column, each with the reason for its
guess) and ``schema.pbtxt`` (``components.schema_draft``) into ``--out``, and
prints what it guessed and why. The guesses, on the first ``--rows`` rows:

* ``--labels a,b``: a wide file; each named 0/1 column becomes a task under
  ``wide_labels`` (task name = column name), and the spec gains the ``task``
  and ``label`` columns that ``data_tools.wide_to_tasks`` writes; an empty
  label cell is a row outside that task's sample space (counted in the
  ``label`` line; a conditional task is declared with ``given:`` under
  ``tasks:``, docs/your_data.md);
* without it, the file must already have ``task`` and ``label`` columns;
* whole numbers: categorical (``dtype: int``) when the name says code
  (``CODE_WORDS``: ``*_code``, ``*_recode``, ``*_type``...) or, unless the
  name says count or amount (``COUNT_WORDS``: age, hours, income...), up to
  ``MAX_INT_LEVELS`` distinct values; numerical (``dtype: int``) otherwise;
  decimals: numerical (``float``);
  numerical columns with more than ``DRAFT_BUCKETS`` values get ``buckets: 32``
  (their quantile-bucket ids feed the model beside the z-score), those with at
  most ``DRAFT_VALUE_IDS`` values get ``value_ids`` (an id per frequent exact
  value: amounts whose single values carry meaning); a heavy right tail is
  pointed out (``transform: log1p`` is an option, measured no better);
* strings whose values repeat (``repeats``: few distinct values for the
  rows, or a head of frequent values covering most rows) are categorical,
  whatever their words (``Not applicable``, ``Married, spouse present``);
  phrases that do not repeat are ``text`` (``history`` when named so), every
  such column its own token; a column of space-separated numbers of one
  length: ``image_embedding``;
* a column named ``weight`` is the weight, ``ts``/``timestamp`` of whole
  numbers the time; ``*_id`` columns are flagged for review;
* a column whose name a served model cannot take (``Class Name``: a space)
  is drafted under a name it can (``Class_Name``), recorded under
  ``wide_names`` so the converter writes it so; in a long file (no
  converter) it is marked REVIEW: rename it in the header.

``ignore`` is drafted only for a row key (a different value in every row), a
constant, an empty column, a column named in ``--ignore`` and a second image
column (the model has one image token); the summary line names each with its
reason, and ``--strict`` exits 3 when any but a constant, an empty or a named
column is ignored. Each guess records the rule that decided it (``RULES``).

Missing values: empty cells and the usual markers (``MISSING_MARKERS``: ``?``,
``NA``, ``null``...) are not counted when guessing a type. The converter turns
them into empty cells in numerical columns; in a long file fed to the pipeline
directly, a numerical column must use empty cells (the pre-flight check says so).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence

from components.feature_spec import (
    SINGLE_ROLES,
    FeatureSpec,
    FeatureSpecError,
    parse_feature_spec,
    role_summary,
)
from components.serving_names import SERVING_NAME, serving_name
from components.serving_names import SERVING_NAME_RULE as RULE
from data_tools.column_rules import RULES, UNINFORMATIVE, Guess, guess_column  # noqa: F401 (RULES: the table's key)

DEFAULT_ROWS = 20_000  # sample rows read

MAX_BAD_LABELS = 0.01  # rationale: a few bad rows are the converter's to reject; more means a column to recode


def _check_labels(path: str, name: str, values: Sequence[str], wide: bool = False) -> int:
    """Raises FeatureSpecError when more than MAX_BAD_LABELS of ``values`` are not 0/1; returns how many are empty
    (in a wide file, rows outside that task's sample space: ``data_tools.wide_to_tasks`` writes no example)."""
    empty = sum(not v for v in values) if wide else 0
    bad = [v for v in values if v not in ("0", "1") and (v or not wide)]
    if len(bad) > MAX_BAD_LABELS * len(values):
        raise FeatureSpecError(
            f"{path}: label column {name!r} has values like {sorted(set(bad))[:3]}; labels must be "
            "0/1 (recode it, e.g. 1 for the outcome you predict)"
        )
    return empty


def csv_header(reader) -> list[str] | None:
    """The next row of a ``csv.reader`` as column names (stripped), or None at the end of the file."""
    row = next(reader, None)
    return [name.strip() for name in row] if row else None


def read_sample(path: str, rows: int) -> tuple[list[str], list[list[str]]]:
    """(header, the first ``rows`` rows with the header's field count); others are the converter's to reject."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = csv_header(reader)
        if not header:
            raise FeatureSpecError(f"{path}: empty file, expected a header row")
        kept = []
        for row in reader:
            if len(kept) >= rows:
                break
            if len(row) == len(header):
                kept.append([v.strip() for v in row])
    return header, kept


def draft(
    path: str, labels: Sequence[str] = (), rows: int = DEFAULT_ROWS, name: str | None = None, ignore: Sequence[str] = ()
):
    """Returns (spec mapping, guesses) for the CSV at ``path``; ``ignore``: columns the user leaves out.

    Raises:
        FeatureSpecError: a named label column is missing or not 0/1, or a long
            file lacks its ``task`` / ``label`` column; the message says what to pass.
    """
    header, sample = read_sample(path, rows)
    if not sample:
        raise FeatureSpecError(f"{path}: no data rows after the header")
    columns = {h: [r[i] for r in sample] for i, h in enumerate(header)}
    unknown = [c for c in ignore if c not in columns]
    if unknown:
        raise FeatureSpecError(f"{path}: --ignore column(s) {unknown} are not in the header {header}")
    guesses: list[Guess] = []
    if labels:
        missing = [c for c in labels if c not in columns]
        if missing:
            raise FeatureSpecError(f"{path}: --labels column(s) {missing} are not in the header {header}")
        empty = {label: _check_labels(path, label, columns[label], wide=True) for label in labels}
        for reserved in ("task", "label"):
            if reserved in columns:
                raise FeatureSpecError(
                    f"{path}: column {reserved!r} exists; in a wide file it would clash with the "
                    f"{reserved!r} column the converter writes (rename it)"
                )
        guesses.append(
            Guess("task", {"role": "task"}, f"written by wide_to_tasks: one of {list(labels)}", rule="given")
        )
        guesses.append(
            Guess(
                "label",
                {"role": "label"},
                "written by wide_to_tasks from the label columns"
                + (
                    "; empty cells (outside that task's sample space, no example): "
                    + ", ".join(f"{label} {n} of {len(sample)} rows" for label, n in empty.items() if n)
                    if any(empty.values())
                    else ""
                ),
                rule="given",
            )
        )
    else:
        for required in ("task", "label"):
            if required not in columns:
                raise FeatureSpecError(
                    f"{path}: no {required!r} column; for a wide file name its 0/1 label columns "
                    "with --labels a,b, for a long file add `task` and `label` columns"
                )
        _check_labels(path, "label", columns["label"])
    taken: set[str] = set()
    renamed: dict[str, str] = {}  # wide file column -> its name in the spec
    for column, values in columns.items():
        if column in labels:
            continue
        if not labels and column == "task":
            guesses.append(Guess(column, {"role": "task"}, f"{len(set(values))} tasks in the sample", rule="given"))
        elif not labels and column == "label":
            guesses.append(Guess(column, {"role": "label"}, "0/1", rule="given"))
        elif column in ignore:
            guesses.append(Guess(column, {"role": "ignore", "dtype": "string"}, "named in --ignore", rule="named"))
        else:
            guess = guess_column(column, values)
            role = guess.entry["role"]
            if role in SINGLE_ROLES and role in taken:  # the model has one image token
                guess = Guess(
                    column,
                    {"role": "ignore", "dtype": "string"},
                    f"a second {role} column ({guess.why}); the model reads one: ignored",
                    True,
                    "single role",
                )
            taken.add(guess.entry["role"])
            if guess.entry["role"] != "ignore" and not SERVING_NAME.match(column):
                if labels:  # the converter writes it under a name a served model can take
                    guess.name = renamed[column] = serving_name(column, set(columns) | set(renamed.values()))
                    guess.why += f"; read from the file's column {column!r} (a served model's input names {RULE})"
                else:
                    guess.review = True
                    guess.why += f"; rename it before the pipeline (a served model's input names {RULE})"
            guesses.append(guess)
    spec = {"name": name or "mydata", "columns": {g.name: g.entry for g in guesses}}
    if labels:
        spec["wide_labels"] = {label: label for label in labels}
    if renamed:
        spec["wide_names"] = renamed
    return spec, guesses


def spec_yaml(spec: dict, guesses: Sequence[Guess], source: str) -> str:
    """The spec as YAML, one line per column with the reason for its guess (a comment)."""
    width = max(len(g.name) for g in guesses) + 2
    lines = [
        f"# Drafted by data_tools.draft_spec from {source}: check every line marked REVIEW.",
        f"name: {spec['name']}",
        "columns:",
    ]
    for g in guesses:
        entry = ", ".join(f"{k}: {v}" for k, v in g.entry.items())
        lines.append(f"  {g.name + ':':<{width}} {{{entry}}}  # {'REVIEW: ' if g.review else ''}{g.why}")
    if "wide_labels" in spec:
        lines.append("wide_labels:  # label column of the wide file -> task name")
        lines += [f"  {label}: {task}" for label, task in spec["wide_labels"].items()]
    if "wide_names" in spec:
        lines.append("wide_names:  # column of the wide file -> its name above (one a served model can take)")
        lines += [f"  {json.dumps(source)}: {name}" for source, name in spec["wide_names"].items()]
    if spec.get("tasks"):  # set by a caller (the drafter itself writes none)
        lines.append("tasks:")
        lines += [f"  {task}: {json.dumps(entry)}" for task, entry in spec["tasks"].items()]
    return "\n".join(lines) + "\n"


def write_draft(spec: dict, guesses: Sequence[Guess], out_dir: str, source: str) -> FeatureSpec:
    """Writes feature_spec.yaml and schema.pbtxt into ``out_dir``; returns the parsed spec."""
    from google.protobuf import text_format

    from components.schema_draft import draft_schema

    os.makedirs(out_dir, exist_ok=True)
    spec_path = os.path.join(out_dir, "feature_spec.yaml")
    parsed = parse_feature_spec(spec, spec_path)  # what we write must load back
    with open(spec_path, "w") as f:
        f.write(spec_yaml(spec, guesses, source))
    with open(os.path.join(out_dir, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(draft_schema(parsed)))
    return parsed


def format_guesses(guesses: Sequence[Guess]) -> str:
    """The drafter's table: one line per column with its role, dtype, options, rule (``RULES``) and why."""
    width = max(len(g.name) for g in guesses) + 2
    lines = [f"{'column':<{width}}{'role':<17}{'dtype':<8}{'options':<32}{'rule':<13}why"]
    for g in guesses:
        options = ", ".join(f"{k}={v}" for k, v in g.entry.items() if k not in ("role", "dtype"))
        dtype = g.entry.get("dtype", "")
        why = ("REVIEW: " if g.review else "") + g.why
        lines.append(f"{g.name:<{width}}{g.entry['role']:<17}{dtype:<8}{options:<32}{g.rule:<13}{why}")
    return "\n".join(lines)


def lost_columns(guesses: Sequence[Guess]) -> list[Guess]:
    """Ignored columns that may carry information (a row key, a second image column): ``--strict`` fails on them."""
    return [g for g in guesses if g.entry["role"] == "ignore" and g.rule not in UNINFORMATIVE]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="CSV file with a header row")
    parser.add_argument("--labels", default="", help="wide file: its 0/1 label columns, comma-separated")
    parser.add_argument("--out", required=True, help="folder for feature_spec.yaml and schema.pbtxt")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows read (default: %(default)s)")
    parser.add_argument("--name", help="data set name (default: the --out folder's name)")
    parser.add_argument("--ignore", default="", help="columns to leave out, comma-separated (said in the summary)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when a column that may carry information "
        "is ignored (a row key, a second image column); constants, empty and --ignore columns pass",
    )
    args = parser.parse_args(argv)
    labels = [c.strip() for c in args.labels.split(",") if c.strip()]
    ignore = [c.strip() for c in args.ignore.split(",") if c.strip()]
    name = args.name or os.path.basename(os.path.normpath(args.out)) or "mydata"
    try:
        spec, guesses = draft(args.input, labels, args.rows, name, ignore)
        parsed = write_draft(spec, guesses, args.out, args.input)
    except (FeatureSpecError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_guesses(guesses))
    print("\n" + role_summary(parsed, {g.name: g.why for g in guesses}))
    review = sum(g.review for g in guesses)
    print(
        f"wrote {os.path.join(args.out, 'feature_spec.yaml')} and schema.pbtxt"
        + (f"; {review} column(s) marked REVIEW" if review else "")
    )
    lost = lost_columns(guesses)
    if args.strict and lost:
        print(
            f"error: --strict: {len(lost)} column(s) that may carry information are ignored: "
            + ", ".join(f"{g.name} ({g.why})" for g in lost)
            + "; give them a role in the spec, or name them in --ignore",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
