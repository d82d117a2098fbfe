"""The paired interval on cases with a known answer."""

import numpy as np
import pytest
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


def test_ranked_scores_equal_sklearns_weighted_metrics_with_ties():
    from components.intervals import RankedScores

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 3_000)
    scores = np.round(labels * 0.3 + rng.random(3_000), 2)  # 2 decimals: many tied scores
    ranked = RankedScores(labels, scores)
    for weights in (np.ones(3_000), np.bincount(rng.integers(0, 3_000, 3_000), minlength=3_000).astype(float)):
        assert (
            abs(ranked.average_precision(weights) - average_precision_score(labels, scores, sample_weight=weights))
            < 1e-12
        )
        assert abs(ranked.roc_auc(weights) - roc_auc_score(labels, scores, sample_weight=weights)) < 1e-12


def test_the_ranked_path_and_the_general_path_give_the_same_interval():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 800)
    a, b = labels + rng.normal(0, 1, (2, 800)), labels + rng.normal(0, 1.2, (2, 800))
    fast = paired_difference(average_precision_score, labels, a, b, resamples=100, seed=7)
    general = paired_difference(
        lambda y, s, sample_weight=None: average_precision_score(y, s, sample_weight=sample_weight),
        labels,
        a,
        b,
        resamples=100,
        seed=7,
    )
    assert np.allclose([fast.value, fast.low, fast.high], [general.value, general.low, general.high], atol=1e-12)


def test_normalized_entropy_and_calibration_by_their_definitions():
    from components.task_metrics import calibration, entropy, normalized_entropy

    labels = np.array([1, 0, 0, 0])
    # Predicting the positive rate everywhere is NE 1 and calibrated, with or without row weights.
    assert normalized_entropy(labels, np.full(4, 0.25)) == pytest.approx(1.0)
    assert calibration(labels, np.full(4, 0.25)) == pytest.approx(1.0)
    scores = np.array([0.9, 0.2, 0.1, 0.3])
    cross_entropy = -(np.log(0.9) + np.log(0.8) + np.log(0.9) + np.log(0.7)) / 4
    assert normalized_entropy(labels, scores) == pytest.approx(cross_entropy / entropy(0.25))
    assert entropy(0.25) == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert calibration(labels, scores) == pytest.approx(1.5 / 1)
    weights = np.array([2.0, 1.0, 1.0, 0.0])  # as the bootstrap passes a resample: row counts
    same = normalized_entropy(np.array([1, 1, 0, 0]), np.array([0.9, 0.9, 0.2, 0.1]))
    assert normalized_entropy(labels, scores, sample_weight=weights) == pytest.approx(same)
    assert np.isnan(normalized_entropy(np.zeros(3), np.full(3, 0.1)))
