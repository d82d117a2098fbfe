"""The paired interval on cases with a known answer."""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from components.intervals import paired_difference


def test_identical_models_differ_by_exactly_zero():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = rng.random(500)
    d = paired_difference(average_precision_score, labels, scores, scores, resamples=200)
    assert (d.value, d.low, d.high) == (0.0, 0.0, 0.0) and d.verdict == "no difference detected"


def test_a_perfect_ranking_beats_a_random_one_and_the_reverse_is_worse():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    perfect, random = labels + 0.1 * rng.random(400), rng.random(400)
    d = paired_difference(roc_auc_score, labels, perfect, random, resamples=200)
    assert d.value > 0.4 and d.low > 0.3 and d.verdict == "better"
    assert paired_difference(roc_auc_score, labels, random, perfect, resamples=200).verdict == "worse"


def test_two_noisy_copies_of_one_signal_are_no_different_and_seeds_are_averaged():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 2_000)
    signal = labels + rng.normal(0, 1.0, 2_000)
    a = np.stack([signal + rng.normal(0, 0.3, 2_000) for _ in range(5)])  # 5 seeds of model A
    b = np.stack([signal + rng.normal(0, 0.3, 2_000) for _ in range(5)])
    d = paired_difference(roc_auc_score, labels, a, b, resamples=300)
    assert d.low < 0 < d.high and d.verdict == "no difference detected"
    expected = np.mean([roc_auc_score(labels, s) for s in a]) - np.mean([roc_auc_score(labels, s) for s in b])
    assert abs(d.value - expected) < 1e-12  # the point estimate is the mean over seeds of each model
    assert d.high - d.low < 0.03  # 2,000 paired examples, 5 seeds each: a narrow interval
