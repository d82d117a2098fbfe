"""A generated wide CSV in the shape of a public tabular file (UCI Adult-like): integer ages and counts,
integer-coded categoricals, word categoricals with `?` for unknown, a heavy-tailed amount, two 0/1 labels."""

from __future__ import annotations

import csv

import numpy as np

HEADER = ["age", "workclass", "industry_code", "hours", "capital_gain", "balance", "click", "conversion"]


def write_wide_csv(path, rows: int = 3_000, seed: int = 0, bad_rows=()) -> None:
    """Writes ``rows`` rows; ``bad_rows`` maps a 0-based data row index to a replacement row (list of fields)."""
    rng = np.random.default_rng(seed)
    bad = dict(bad_rows)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            if i in bad:
                writer.writerow(bad[i])
                continue
            age = int(rng.integers(17, 90))
            workclass = "?" if rng.random() < 0.05 else rng.choice(["Private", "Self-emp", "Gov", "Never-worked"])
            code = int(rng.integers(0, 12))
            hours = int(rng.integers(1, 99))
            gain = int(rng.lognormal(2, 3)) if rng.random() < 0.1 else 0
            balance = "?" if rng.random() < 0.03 else f"{rng.normal(100, 40):.2f}"
            logit = (
                0.04 * (age - 45) + 0.3 * (code % 3) + (0.8 if workclass == "Private" else -0.5) + 0.2 * np.log1p(gain)
            )
            click = int(rng.random() < 1 / (1 + np.exp(-logit)))
            conversion = int(click and rng.random() < 0.35 + 0.004 * (hours - 40))
            writer.writerow([age, workclass, code, hours, gain, balance, click, conversion])
