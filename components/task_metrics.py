"""Per-task metrics beside AP and AUC, for the gate, the Trainer's logs and the benchmarks: normalized entropy
and calibration, with TFMA's definitions, and a regression task's RMSE and MAE (TFMA's own in the Evaluator).

Pure NumPy: each takes ``(labels, scores, sample_weight=None)`` like sklearn's metrics, so
``components.intervals.paired_difference`` bootstraps them too.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7  # scores are clipped to [EPSILON, 1 - EPSILON] before the log, as Keras' and TFMA's cross-entropy


def _weights(labels, sample_weight) -> np.ndarray:
    return np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")


def entropy(rate: float) -> float:
    """The cross-entropy (nats) of always predicting ``rate`` on labels whose positive rate is ``rate``."""
    rate = float(np.clip(rate, EPSILON, 1 - EPSILON))
    return float(-(rate * np.log(rate) + (1 - rate) * np.log(1 - rate)))


def normalized_entropy(labels, scores, sample_weight=None) -> float:
    """Cross-entropy of ``scores`` over the cross-entropy of the positive rate (He et al. 2014, "Practical
    lessons from predicting clicks on ads at Facebook"): 1 is no better than predicting the rate, lower is
    better; unlike AUC it also charges miscalibration. NaN when the labels have one class."""
    y = np.asarray(labels, dtype="float64")
    p = np.clip(np.asarray(scores, dtype="float64"), EPSILON, 1 - EPSILON)
    w = _weights(y, sample_weight)
    total = w.sum()
    rate = float((w * y).sum() / total)
    if rate <= 0 or rate >= 1:
        return float("nan")
    cross_entropy = float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / total)
    return cross_entropy / entropy(rate)


def calibration(labels, scores, sample_weight=None) -> float:
    """Mean prediction over mean label (TFMA's ``calibration``): 1 is calibrated on average, above 1
    over-predicts. NaN without positives."""
    y = np.asarray(labels, dtype="float64")
    w = _weights(y, sample_weight)
    positives = float((w * y).sum())
    return float((w * np.asarray(scores, dtype="float64")).sum() / positives) if positives > 0 else float("nan")


def calibration_error(labels, scores, sample_weight=None) -> float:
    """|calibration - 1|: how far the mean prediction is from the mean label, relative to it (0 is calibrated);
    the gate's calibration metric, lower is better."""
    return abs(calibration(labels, scores, sample_weight) - 1.0)


def rmse(labels, scores, sample_weight=None) -> float:
    """Root mean squared error (a regression task's value against its label, in the label's units)."""
    y, p = np.asarray(labels, dtype="float64"), np.asarray(scores, dtype="float64")
    w = _weights(y, sample_weight)
    return float(np.sqrt((w * (p - y) ** 2).sum() / w.sum()))


def mae(labels, scores, sample_weight=None) -> float:
    """Mean absolute error (in the label's units)."""
    y, p = np.asarray(labels, dtype="float64"), np.asarray(scores, dtype="float64")
    w = _weights(y, sample_weight)
    return float((w * np.abs(p - y)).sum() / w.sum())
