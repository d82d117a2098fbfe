"""Column names a served model can take: TensorFlow names a signature's inputs after the feature columns,
and refuses some names, so they are checked before any component runs, not at the export after training.
"""

from __future__ import annotations

import re

from components.feature_spec import FeatureSpec, FeatureSpecError

SERVING_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
SERVING_NAME_RULE = "start with a letter, digit or '.', then take letters, digits and _ . - / > only"


def _serving_input(name: str) -> str:
    """The input name TensorFlow gives column ``name`` in a signature (anything else written as _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def serving_name(name: str, taken: set[str] = frozenset()) -> str:
    """A name for column ``name`` that a served model can take: TensorFlow's own input name for it without
    leading ``_`` (``Class Name`` -> ``Class_Name``), with ``_2``, ``_3``... when that is in ``taken``."""
    base = _serving_input(name).lstrip("_") or "x"
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}_{n}"
    return found


def check_serving_names(spec: FeatureSpec) -> None:
    """Raises FeatureSpecError naming every feature column whose name cannot be a serving input (with a name
    that can), or two that TensorFlow would give the same input name: checked before any component runs,
    not at the export after training."""
    names = [c.name for c in spec.feature_columns]
    bad = [name for name in names if not SERVING_NAME.match(name)]
    where = spec.path or spec.name
    if bad:
        renamed = {name: serving_name(name) for name in bad}
        raise FeatureSpecError(
            f"{where}: column(s) {bad} cannot be named so in a served model (TensorFlow input names "
            f"{SERVING_NAME_RULE}); rename them in the data's header and the spec, e.g. {renamed}"
        )
    inputs: dict[str, list[str]] = {}
    for name in names:
        inputs.setdefault(_serving_input(name), []).append(name)
    clashes = [found for found in inputs.values() if len(found) > 1]
    if clashes:
        raise FeatureSpecError(
            f"{where}: columns {clashes} would be one input of the served model (TensorFlow "
            "writes - . / > as _); rename all but one"
        )
