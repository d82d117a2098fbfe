"""The Evaluator's own TFMA metrics equal their NumPy definitions (``components.task_metrics``), weights included."""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing import util
from tensorflow_model_analysis.metrics import metric_util

from components import task_metrics, tfma_metrics


def _check(metric, labels, predictions, weights, expected, rel):
    """The metric's value over one slice of one-value examples, through TFMA's combiners and derived computation,
    is ``expected`` (checked inside the Beam pipeline, where the value is)."""
    computations = metric.computations(example_weighted=True)
    combined = [c for c in computations if hasattr(c, "combiner")]
    derived = [c for c in computations if not hasattr(c, "combiner")]  # in order: each may read the ones before
    key = computations[-1].keys[-1]

    def derive(metrics):
        for computation in derived:
            metrics = {**metrics, **computation.result(metrics)}
        return {key: metrics[key]}

    examples = [
        {"labels": np.array([y]), "predictions": np.array([p]), "example_weights": np.array([w])}
        for y, p, w in zip(labels, predictions, weights, strict=True)
    ]

    def check(results):
        try:
            (result,) = results
            (value,) = result.values()
            assert value == pytest.approx(expected, rel=rel), (value, expected)
        except AssertionError as error:
            raise util.BeamAssertException(error) from error

    with beam.Pipeline() as pipeline:
        inputs = pipeline | beam.Create(examples) | beam.Map(metric_util.to_standard_metric_inputs)
        parts = [
            inputs | f"slice{i}" >> beam.Map(lambda x: ((), x)) | f"combine{i}" >> beam.CombinePerKey(c.combiner)
            for i, c in enumerate(combined)
        ]
        merged = parts | beam.Flatten() | beam.CombinePerKey(lambda dicts: {k: v for d in dicts for k, v in d.items()})
        util.assert_that(merged | beam.Map(lambda kv: derive(kv[1])), check)


def test_root_mean_squared_error_and_normalized_entropy_match_their_numpy_definitions():
    rng = np.random.default_rng(0)
    labels = rng.lognormal(3, 0.5, 200)
    predictions = labels * np.exp(rng.normal(0, 0.3, 200))
    weights = np.where(rng.random(200) < 0.3, 0.0, 1.0)  # rows of the other kind weigh 0
    expected = task_metrics.rmse(labels, predictions, weights)
    assert expected > 1  # in the labels' units
    _check(tfma_metrics.RootMeanSquaredError(), labels, predictions, weights, expected, 1e-6)
    clicks = (rng.random(200) < 0.3).astype(float)
    scores = np.clip(0.3 + 0.4 * (clicks - 0.3) + rng.normal(0, 0.1, 200), 0.01, 0.99)
    expected = task_metrics.normalized_entropy(clicks, scores, weights)
    assert 0.5 < expected < 1
    _check(tfma_metrics.NormalizedEntropy(), clicks, scores, weights, expected, 1e-4)
