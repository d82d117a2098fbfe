"""The feature specs and schemas shipped with GRec, read as package data.

schemas/<dataset>/feature_spec.yaml   the spec (roles of the columns)
schemas/<dataset>/schema.pbtxt        the curated TFDV schema beside it
schemas/synthetic/sample.csv          300 rows of the embedded synthetic data set (tests, sample model)
"""

from __future__ import annotations

import importlib.resources


def path(dataset: str, name: str = "feature_spec.yaml") -> str:
    """The file ``<dataset>/<name>`` of this package as a path on disk (the package is installed as files)."""
    return str(importlib.resources.files(__name__).joinpath(dataset).joinpath(name))


def datasets() -> list[str]:
    """The data sets that ship a feature spec."""
    root = importlib.resources.files(__name__)
    return sorted(p.name for p in root.iterdir() if p.joinpath("feature_spec.yaml").is_file())
