"""The model's embedding tables: for every id-indexed feature, its rows, their width and the memory they take.

Which weights are tables comes from ``models.warm_start.id_axes`` (the one declaration of the id-indexed
weights): those whose ids run along axis 0 and that are an ``Embedding``'s ``embeddings``; the per-task
tower and gate weights, indexed by the main task too, are not tables. A table holding several columns at
offsets (the wide & deep head's shared table) is split by each column's id range.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Table:
    feature: str
    rows: int
    width: int
    bytes: int


def embedding_tables(model) -> list[Table]:
    """Every embedding table of a built ``model``, one entry per feature, in the model's weight order."""
    from models.input_config import InputConfig
    from models.warm_start import id_axes

    config = InputConfig.from_dict(model.input_config)
    ranges = {name: size for name, size in (*config.task_columns, *config.categorical)}
    ranges.update({name: size for name, size, _ in (*config.text, *config.history)})
    axes = id_axes(model)
    tables = []
    for weight in model.weights:
        axis, features = axes.get(id(weight), (None, ()))
        if axis != 0 or not weight.path.endswith("embeddings"):
            continue
        shape = tuple(int(d) for d in weight.shape)
        width = math.prod(shape[1:])
        itemsize = np.dtype(weight.dtype).itemsize
        rows = [ranges[f] for f in features] if len(features) > 1 else [shape[0]]
        if sum(rows) != shape[0]:  # a layout other than the id ranges: one entry for the whole table
            features, rows = ["+".join(features)], [shape[0]]
        tables += [Table(f, n, width, n * width * itemsize) for f, n in zip(features, rows, strict=True)]
    return tables


def summary(tables: list[Table]) -> str:
    """One line: each table's rows x width and megabytes, largest first, and the total."""
    ordered = sorted(tables, key=lambda t: -t.bytes)
    parts = [f"{t.feature} {t.rows:,} x {t.width} ({t.bytes / 2**20:.3g} MB)" for t in ordered]
    total = sum(t.bytes for t in tables) / 2**20
    return f"embedding tables: {', '.join(parts)}; {total:.3g} MB in all"
