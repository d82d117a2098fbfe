"""Paired comparisons over a metric registry: each metric of two models on the same rows, the difference
with its 95 % interval (``components.intervals.paired_difference``: bootstrap over examples, mean over
seeds) and its verdict."""

from __future__ import annotations

import numpy as np

from components import intervals

VERDICTS = ("better", "no difference detected", "worse")


def _metric_functions() -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"ap": average_precision_score, "auc": roc_auc_score}


METRICS = ("ap", "auc")  # the registry's names, in report order


def metrics(labels, scores) -> dict:
    """Every registered metric of ``scores`` on ``labels``."""
    return {name: float(fn(labels, scores)) for name, fn in _metric_functions().items()}


def paired(labels, scores_a, scores_b) -> dict:
    """A's metrics minus B's on the same rows: {metric: difference, 95 % interval, verdict}."""
    found = {}
    for metric_name, metric in _metric_functions().items():
        d = intervals.paired_difference(metric, labels, scores_a, scores_b)
        found[metric_name] = {"difference": d.value, "low": d.low, "high": d.high, "verdict": d.verdict}
    return found


def log_loss(labels, scores, sample_weight=None) -> float:
    """Binary cross-entropy of ``scores`` on 0/1 ``labels`` (clipped to Keras' epsilon, as Keras' loss clips
    them), the rows weighted."""
    import keras

    epsilon = keras.config.epsilon()
    p = np.clip(np.asarray(scores, dtype="float64"), epsilon, 1 - epsilon)
    labels = np.asarray(labels)
    return float(np.average(-(labels * np.log(p) + (1 - labels) * np.log1p(-p)), weights=sample_weight))


def paired_loss(labels, scores_a, scores_b) -> dict:
    """A's log loss minus B's on the same rows (``log_loss``), its 95 % interval (bootstrap over rows, mean
    over seeds) and A's verdict: ``better`` when the interval lies below zero (a lower loss)."""
    d = intervals.paired_difference(
        lambda y, s, sample_weight=None: -log_loss(y, s, sample_weight), labels, scores_a, scores_b
    )
    return {"difference": -d.value, "low": -d.high, "high": -d.low, "verdict": d.verdict}


def difference_cell(d: dict) -> str:
    """One ``paired`` entry as a report cell: difference [95 % interval] verdict."""
    return f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] {d['verdict']}"


def summarize(result: dict) -> dict:
    """Per model: mean AP over tasks and, against GRec, how many tasks' paired AP intervals say each verdict."""
    entries = result["tasks"].values()
    summary = {}
    for name in next(iter(entries))["models"]:
        row = {"mean_ap": float(np.mean([e["models"][name]["ap"]["mean"] for e in entries]))}
        verdicts = [e["grec_vs"][name]["ap"]["verdict"] for e in entries if name in e["grec_vs"]]
        row.update({v: verdicts.count(v) for v in VERDICTS})
        summary[name] = row
    return summary
