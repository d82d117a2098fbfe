"""The feature contract: one declarative file per data set says what each column is.

A feature spec (YAML or JSON, under ``schemas/<dataset>/feature_spec.yaml``) is
the only thing a user writes to train GRec on their own data. It is shared by the
data tools, Transform (``preprocessing_fn``) and the Trainer, and checked against
the curated TFMD ``schema.pbtxt`` that ImportSchemaGen and ExampleValidator use.

Example::

    name: synthetic
    columns:
      task:      {role: task}                 # main task, string
      flow:      {role: aux_task}             # auxiliary task descriptor
      user_id:   {role: categorical}          # string ids
      device:    {role: categorical, dtype: int}
      price:     {role: numerical}
      query:     {role: text}
      hist_items: {role: history, max_length: 20}
      image_emb: {role: image_embedding, dim: 16}
      label:     {role: label}
      ts:        {role: time}
      oracle_p:  {role: ignore}               # never a feature
    # Only for wide files (one row, several labels): label column -> task name.
    wide_labels: {click: ctr, conversion: cvr}
    # Only for wide files: a file column read under another name (one a served model can take).
    wide_names: {"Class Name": Class_Name}
    # Optional: every main task by name, with its options (components.roles.TASK_OPTIONS); without it every
    # task weighs 1. With it, a task of the data missing here is an error.
    tasks: {ctr: {weight: 1}, cvr: {weight: 2, given: ctr}}  # cvr: only on clicked rows
    loss_weighting: uncertainty               # static (default) or learned per task (models.task_types)

List-valued columns (history, image embedding) travel as one string of
space-separated values in CSV and TFRecord alike, so the raw schema is the same
for both formats and CsvExampleGen can read them.

This module is pure Python (plus PyYAML and, for the schema check, the
tensorflow-metadata protos): no TensorFlow import, so data tools stay light.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from components.roles import (  # noqa: F401 (re-exported: the spec's readers import them from here)
    BUCKET_FEATURE_SUFFIX,
    CHAINS,
    DEFAULT_NUM_BUCKETS,
    DEFAULT_TASK_WEIGHT,
    HASH_EXCLUDES,
    HASH_OPTION,
    ID_ROLES,
    LOSS_WEIGHTINGS,
    LOSSES,
    NOT_FEATURE_ROLES,
    NULLABLE_ROLES,
    NUMERICAL_TRANSFORMS,
    PER_TASK_ROLES,
    ROLE_OPTIONS,
    ROLE_TABLE,
    ROLES,
    SCHEMA_TYPES,
    SINGLE_ROLES,
    TARGET_SCALES,
    TASK_OPTIONS,
    TASK_TYPES,
    VALUE_FEATURE_SUFFIX,
    VALUE_MIN_COUNT,
    WORD_OPTIONS,
)
from models.task_types import is_log_target


class FeatureSpecError(ValueError):
    """A feature spec that cannot be used; the message names file, key and column."""


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the raw data and the role it plays.

    Attributes:
        name: column name in the raw data.
        role: one of ``ROLES``.
        dtype: ``string``, ``int`` or ``float`` (raw type).
        options: role-specific options (``max_length``, ``dim``, ...).
    """

    name: str
    role: str
    dtype: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def bucketized(self) -> bool:
        """A numerical column fed to the model as quantile-bucket ids (a categorical embedding)."""
        return self.role == "numerical" and self.option("transform") == "bucketize"

    @property
    def num_buckets(self) -> int:
        return self.option("num_buckets", DEFAULT_NUM_BUCKETS)

    @property
    def bucket_feature(self) -> str | None:
        """The extra transformed feature of a numerical column with ``buckets``: its bucket ids."""
        return self.name + BUCKET_FEATURE_SUFFIX if self.option("buckets") else None

    @property
    def value_feature(self) -> str | None:
        """The extra transformed feature of a numerical column with ``value_ids``: its exact-value ids."""
        return self.name + VALUE_FEATURE_SUFFIX if self.option("value_ids") else None

    def to_dict(self) -> dict[str, Any]:
        """The column's entry under ``columns`` (what ``parse_feature_spec`` reads back)."""
        return {"role": self.role, "dtype": self.dtype, **self.options}


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """A parsed, validated feature spec.

    Attributes:
        name: data set name.
        columns: columns in file order.
        wide_labels: for wide files, label column -> task name (empty otherwise).
        wide_names: for wide files, file column -> the column name it has here (``data_tools.wide_to_tasks``
            writes it so), where the file's name cannot name a served model's input.
        tasks: the `tasks:` section, main task -> its options (``TASK_OPTIONS``); empty when the spec has none
            (every task of the data, weight 1).
        loss_weighting: one of ``LOSS_WEIGHTINGS``.
        path: the file it was read from ('' when built in code).
    """

    name: str
    columns: tuple[Column, ...]
    wide_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    wide_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tasks: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    loss_weighting: str = LOSS_WEIGHTINGS[0]
    path: str = ""

    def by_role(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.path or self.name}: no column named {name!r}")

    def _single(self, role: str) -> Column | None:
        found = self.by_role(role)
        return found[0] if found else None

    @property
    def task_column(self) -> Column:
        return self.by_role("task")[0]

    @property
    def task_columns(self) -> list[Column]:
        """Main task first, then the auxiliary task descriptors: the task sentence."""
        return [self.task_column, *self.by_role("aux_task")]

    @property
    def label_column(self) -> Column:
        return self.by_role("label")[0]

    @property
    def weight_column(self) -> Column | None:
        return self._single("weight")

    @property
    def time_column(self) -> Column | None:
        return self._single("time")

    def task_weight(self, task: str) -> float:
        """The static loss weight of main task ``task`` (``DEFAULT_TASK_WEIGHT`` when the spec says none)."""
        return float((self.tasks.get(task) or {}).get("weight", DEFAULT_TASK_WEIGHT))

    def task_type(self, task: str) -> str:
        """``binary`` or ``regression`` (``TASK_TYPES``; binary unless the `tasks:` section says otherwise)."""
        return (self.tasks.get(task) or {}).get("type", TASK_TYPES[0])

    def task_loss(self, task: str) -> str:
        """The loss of main task ``task`` (``LOSSES``; its type's first unless the section names one)."""
        return (self.tasks.get(task) or {}).get("loss", LOSSES[self.task_type(task)][0])

    def target_scale(self, task: str) -> str | None:
        """How Transform scales the task's target (``TARGET_SCALES``), or None."""
        return (self.tasks.get(task) or {}).get("scale")

    @property
    def regression_tasks(self) -> list[str]:
        """The `tasks:` section's regression tasks, in its order."""
        return [task for task in self.tasks if self.task_type(task) == "regression"]

    @property
    def nonnegative_tasks(self) -> list[str]:
        """The regression tasks whose loss takes log1p of the target (``log_mse``): their values are >= 0."""
        return [task for task in self.regression_tasks if is_log_target(self.task_loss(task))]

    def given(self, task: str) -> str | None:
        """The main task whose positives are ``task``'s sample space (its `given:`), or None."""
        return (self.tasks.get(task) or {}).get("given")

    def chain(self, task: str) -> str | None:
        """``entire_space`` when the task is trained and served as p(given) x p(task | given) (`chain:`), or None."""
        return (self.tasks.get(task) or {}).get("chain")

    def check_tasks(self, found: Iterable[str], source: str) -> None:
        """With a `tasks:` section: raises FeatureSpecError naming every task of ``found`` (the data's, read from
        ``source``) that the section does not name, and every task it names that ``found`` lacks."""
        if not self.tasks:
            return
        found = set(found)
        unnamed, absent = sorted(found - set(self.tasks)), sorted(set(self.tasks) - found)
        if unnamed:
            raise FeatureSpecError(
                f"{self.path or self.name}: `tasks`: the data in {source} holds task(s) {unnamed} that the "
                f"section does not name (it names {sorted(self.tasks)}); add them, or leave the rows out"
            )
        if absent:
            raise FeatureSpecError(
                f"{self.path or self.name}: `tasks`: task(s) {absent} are named but {source} holds none of "
                f"their examples (it holds {sorted(found)}); a misspelt name?"
            )

    @property
    def feature_columns(self) -> list[Column]:
        """Every column the model may read: no label, weight, time or ignored column."""
        return [c for c in self.columns if c.role not in NOT_FEATURE_ROLES]

    def to_dict(self) -> dict[str, Any]:
        """The spec as the mapping ``parse_feature_spec`` reads (what travels in ``custom_config``)."""
        out: dict[str, Any] = {"name": self.name, "columns": {c.name: c.to_dict() for c in self.columns}}
        if self.wide_labels:
            out["wide_labels"] = dict(self.wide_labels)
        if self.wide_names:
            out["wide_names"] = dict(self.wide_names)
        if self.tasks:
            out["tasks"] = {task: dict(options) for task, options in self.tasks.items()}
        if self.loss_weighting != LOSS_WEIGHTINGS[0]:
            out["loss_weighting"] = self.loss_weighting
        return out

    def file_column(self, name: str) -> str:
        """The wide file's name of column ``name`` (``wide_names`` reversed; the same name otherwise)."""
        return next((src for src, dst in self.wide_names.items() if dst == name), name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def check_columns_present(self, header: Iterable[str], source: str) -> None:
        """Raises FeatureSpecError naming every spec column missing from ``header``."""
        present = set(header)
        missing = [c.name for c in self.columns if c.name not in present]
        if missing:
            raise FeatureSpecError(
                f"{self.path or self.name}: column(s) {missing} declared under `columns` "
                f"are missing from the data in {source}"
            )


def _fail(path: str, key: str, message: str) -> None:
    raise FeatureSpecError(f"{path}: `{key}`: {message}")


def parse_feature_spec(raw: Mapping[str, Any], path: str = "<dict>") -> FeatureSpec:
    """Validates a feature spec given as a mapping and returns it parsed.

    Raises:
        FeatureSpecError: naming the file, the key and the column at fault.
    """
    if not isinstance(raw, Mapping):
        raise FeatureSpecError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    top_keys = ("name", "columns", "wide_labels", "wide_names", "tasks", "loss_weighting", "description")
    unknown_top = sorted(set(raw) - set(top_keys))
    if unknown_top:
        _fail(path, unknown_top[0], f"unknown top-level key (allowed: {', '.join(top_keys)})")
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, Mapping) or not columns_raw:
        _fail(path, "columns", "must be a non-empty mapping of column name -> {role: ...}")

    columns = []
    for name, entry in columns_raw.items():
        key = f"columns.{name}"
        if isinstance(entry, str):
            entry = {"role": entry}
        if not isinstance(entry, Mapping) or "role" not in entry:
            _fail(path, key, f"column {name!r} needs a `role` (one of {sorted(ROLES)})")
        role = entry["role"]
        if role not in ROLES:
            _fail(path, f"{key}.role", f"unknown role {role!r} for column {name!r}; known roles: {sorted(ROLES)}")
        allowed, default = ROLES[role]
        dtype = entry.get("dtype", default)
        if dtype not in allowed:
            _fail(
                path,
                f"{key}.dtype",
                f"column {name!r} with role {role!r} must have dtype in {list(allowed)}, got {dtype!r}",
            )
        options = {k: v for k, v in entry.items() if k not in ("role", "dtype")}
        bad = sorted(set(options) - set(ROLE_OPTIONS.get(role, ())))
        if bad:
            _fail(
                path,
                f"{key}.{bad[0]}",
                f"option not valid for role {role!r} of column {name!r} (allowed: {list(ROLE_OPTIONS.get(role, ()))})",
            )
        for opt, value in options.items():
            if opt in WORD_OPTIONS:
                if value not in WORD_OPTIONS[opt]:
                    _fail(
                        path,
                        f"{key}.{opt}",
                        f"must be one of {list(WORD_OPTIONS[opt])} for column {name!r}, " f"got {value!r}",
                    )
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if opt == "oov_buckets" else 1):
                _fail(path, f"{key}.{opt}", f"must be a positive integer for column {name!r}, got {value!r}")
        if "buckets" in options and (options.get("transform") == "bucketize" or options["buckets"] < 2):
            _fail(
                path,
                f"{key}.buckets",
                f"needs at least 2 buckets and a z-scored or log1p column {name!r} "
                "(`transform: bucketize` feeds only buckets)",
            )
        if options.get("value_ids", 2) < 2:
            _fail(path, f"{key}.value_ids", f"needs at least 2 values for column {name!r}")
        if "num_buckets" in options and options.get("transform") != "bucketize":
            _fail(path, f"{key}.num_buckets", f"only with `transform: bucketize` (column {name!r})")
        if options.get("num_buckets", DEFAULT_NUM_BUCKETS) < 2:
            _fail(path, f"{key}.num_buckets", f"needs at least 2 buckets for column {name!r}")
        if HASH_OPTION in options:
            clash = [k for k in HASH_EXCLUDES if k in options]
            if clash:
                _fail(
                    path,
                    f"{key}.{clash[0]}",
                    f"column {name!r} has `{HASH_OPTION}`: no vocabulary, so no `{clash[0]}` (every value is hashed)",
                )
            if options[HASH_OPTION] < 2:
                _fail(path, f"{key}.{HASH_OPTION}", f"needs at least 2 buckets for column {name!r}")
        if role == "image_embedding" and "dim" not in options:
            _fail(path, f"{key}.dim", f"image embedding column {name!r} needs its vector length `dim`")
        columns.append(Column(name=str(name), role=role, dtype=dtype, options=options))

    for role in SINGLE_ROLES:
        found = [c.name for c in columns if c.role == role]
        if len(found) > 1:
            _fail(path, "columns", f"role {role!r} may be used once, found on columns {found}")
    for role in ("task", "label"):
        if not any(c.role == role for c in columns):
            _fail(path, "columns", f"no column has role {role!r}; one is required")

    wide = raw.get("wide_labels") or {}
    if not isinstance(wide, Mapping):
        _fail(path, "wide_labels", "must map label column -> task name")
    names = {c.name for c in columns}
    for label_col, task in wide.items():
        if label_col in names:
            _fail(
                path, f"wide_labels.{label_col}", f"label column {label_col!r} must not also be listed under `columns`"
            )
        if not isinstance(task, str) or not task:
            _fail(path, f"wide_labels.{label_col}", f"task name for {label_col!r} must be a non-empty string")
    renamed = raw.get("wide_names") or {}
    if not isinstance(renamed, Mapping):
        _fail(path, "wide_names", "must map a column of the wide file -> its name under `columns`")
    by_role = {c.name: c.role for c in columns}
    for source, name in renamed.items():
        if by_role.get(name) in (None, "task", "label"):
            _fail(path, f"wide_names.{source}", f"{name!r} must be a column under `columns` (not task or label)")
        if source in by_role or source in wide:
            _fail(path, f"wide_names.{source}", f"{source!r} is also a column name here: which one is read?")
    if len(set(renamed.values())) < len(renamed):
        _fail(path, "wide_names", "two file columns are given the same name")
    tasks = _parse_tasks(raw, path)
    if tasks and wide:
        spec = FeatureSpec(name="", columns=(), tasks=tasks, path=path)
        spec.check_tasks(wide.values(), "`wide_labels`")
    label = next(c for c in columns if c.role == "label")
    regression = [t for t, e in tasks.items() if e.get("type") == "regression"]
    if regression and label.dtype != "float":
        _fail(
            path,
            f"columns.{label.name}.dtype",
            f"regression task(s) {regression} read their values from label column {label.name!r}: declare "
            "`dtype: float` (binary tasks' labels stay 0 or 1)",
        )
    weighting = raw.get("loss_weighting", LOSS_WEIGHTINGS[0])
    if weighting not in LOSS_WEIGHTINGS:
        _fail(path, "loss_weighting", f"must be one of {list(LOSS_WEIGHTINGS)}, got {weighting!r}")
    return FeatureSpec(
        name=str(raw.get("name", os.path.basename(os.path.dirname(path)) or "dataset")),
        columns=tuple(columns),
        wide_labels=dict(wide),
        wide_names=dict(renamed),
        tasks=tasks,
        loss_weighting=weighting,
        path=path,
    )


def _parse_tasks(raw: Mapping[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """The `tasks:` section: main task -> its options (an empty entry takes every default)."""
    section = raw.get("tasks")
    if section is None:
        return {}
    if not isinstance(section, Mapping) or not section:
        _fail(path, "tasks", "must map each main task's name -> its options, e.g. {ctr: {weight: 1}}")
    tasks = {}
    for task, entry in section.items():
        key = f"tasks.{task}"
        entry = {} if entry is None else entry
        if not isinstance(entry, Mapping):
            _fail(path, key, f"must be a mapping of options ({', '.join(TASK_OPTIONS)}), got {entry!r}")
        unknown = sorted(set(entry) - set(TASK_OPTIONS))
        if unknown:
            _fail(path, f"{key}.{unknown[0]}", f"unknown task option (allowed: {', '.join(TASK_OPTIONS)})")
        weight = entry.get("weight", DEFAULT_TASK_WEIGHT)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < float("inf"):
            _fail(path, f"{key}.weight", f"must be a positive number for task {task!r}, got {weight!r}")
        kind = entry.get("type", TASK_TYPES[0])
        if kind not in TASK_TYPES:
            _fail(path, f"{key}.type", f"must be one of {list(TASK_TYPES)} for task {task!r}, got {kind!r}")
        loss = entry.get("loss", LOSSES[kind][0])
        if loss not in LOSSES[kind]:
            _fail(
                path,
                f"{key}.loss",
                f"a {kind} task's loss is one of {list(LOSSES[kind])} (task {task!r}), got {loss!r}",
            )
        if "chain" in entry and kind != "binary":
            _fail(path, f"{key}.chain", f"binary tasks only (a product of probabilities); {task!r} is {kind}")
        if "scale" in entry and (kind != "regression" or entry["scale"] not in TARGET_SCALES):
            _fail(
                path,
                f"{key}.scale",
                f"regression tasks only, one of {list(TARGET_SCALES)} (task {task!r}), got {entry['scale']!r}",
            )
        tasks[str(task)] = dict(entry)
    for task, entry in tasks.items():
        given = entry.get("given")
        if given is None:
            if "chain" in entry:
                _fail(path, f"tasks.{task}.chain", "needs `given:` (the task whose probability it is chained on)")
            continue
        if not isinstance(given, str) or given not in tasks or given == task:
            _fail(
                path,
                f"tasks.{task}.given",
                f"must name another task of the section ({sorted(set(tasks) - {task})}), got {given!r}",
            )
        if tasks[given].get("type", TASK_TYPES[0]) != "binary":
            _fail(
                path,
                f"tasks.{task}.given",
                f"must name a binary task (its positives are the sample space); {given!r} is not",
            )
        if entry.get("chain") is not None and entry["chain"] not in CHAINS:
            _fail(path, f"tasks.{task}.chain", f"must be one of {list(CHAINS)}, got {entry['chain']!r}")
        if entry.get("chain") is not None and tasks[given].get("chain") is not None:
            _fail(
                path,
                f"tasks.{task}.chain",
                f"{given!r} is chained itself: chain a task on a task trained on its own rows",
            )
        seen = [task]
        while given is not None:  # a chain of conditions must end
            if given in seen:
                _fail(path, f"tasks.{task}.given", f"the conditions form a cycle: {' -> '.join([*seen, given])}")
            seen.append(given)
            given = tasks[given].get("given")
    return tasks


def role_summary(spec: FeatureSpec, reasons: Mapping[str, str] | None = None) -> str:
    """One line: how many columns of each model-input role, then every ignored column (with ``reasons[name]``
    where given), e.g. ``31 categorical, 7 numerical, 1 text; ignored: row_id (a row key)``."""
    counts: dict[str, int] = {}
    for column in spec.columns:
        if column.role != "ignore":
            counts[column.role] = counts.get(column.role, 0) + 1
    ignored = [
        c.name + (f" ({reasons[c.name]})" if reasons and c.name in reasons else "") for c in spec.by_role("ignore")
    ]
    line = ", ".join(f"{n} {role}" for role, n in counts.items())
    return f"{line}; ignored: {', '.join(ignored) if ignored else 'none'}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (plain YAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise FeatureSpecError(
                f"{loader.name}: `{key}`: duplicate key (column) at line {key_node.start_mark.line + 1}"
            )
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_feature_spec(path: str) -> FeatureSpec:
    """Reads and validates a feature spec file (.yaml, .yml or .json)."""
    if not os.path.exists(path):
        raise FeatureSpecError(f"{path}: feature spec file not found")
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):

        def no_dupes(pairs: Sequence[tuple[str, Any]]) -> dict:
            keys = [k for k, _ in pairs]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise FeatureSpecError(f"{path}: `{dupes[0]}`: duplicate key (column)")
            return dict(pairs)

        try:
            raw = json.loads(text, object_pairs_hook=no_dupes)
        except json.JSONDecodeError as e:
            raise FeatureSpecError(f"{path}: not valid JSON: {e}") from e
    else:
        loader = _UniqueKeyLoader(text)
        loader.name = path
        try:
            raw = loader.get_single_data()
        except yaml.YAMLError as e:
            raise FeatureSpecError(f"{path}: not valid YAML: {e}") from e
        finally:
            loader.dispose()
    return parse_feature_spec(raw, path)


def check_against_schema(spec: FeatureSpec, schema_path: str) -> None:
    """Checks the feature spec and the curated TFMD schema describe the same columns.

    Raises:
        FeatureSpecError: naming the column that differs and how.
    """
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    with open(schema_path) as f:
        text_format.Parse(f.read(), schema)
    in_schema = {f.name: f for f in schema.feature}
    problems = []
    for c in spec.columns:
        feature = in_schema.get(c.name)
        if feature is None:
            problems.append(f"column {c.name!r} is in the feature spec but not in the schema")
            continue
        want = SCHEMA_TYPES[c.dtype]
        got = schema_pb2.FeatureType.Name(feature.type)
        if got != want:
            problems.append(
                f"column {c.name!r}: feature spec dtype {c.dtype!r} needs schema type {want}, schema has {got}"
            )
    # The schema describes task examples (long format); wide label columns are
    # consumed by the converter and never reach ExampleGen.
    for name in in_schema:
        if name not in spec.names:
            problems.append(f"column {name!r} is in the schema but not in the feature spec")
    if problems:
        raise FeatureSpecError(f"{spec.path} and {schema_path} disagree:\n  - " + "\n  - ".join(problems))
