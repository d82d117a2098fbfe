"""TFMA metrics TFMA lacks: ``NormalizedEntropy``, the Evaluator's per-slice normalized entropy, and
``RootMeanSquaredError``, a regression task's RMSE in the label's units.

TFMA has binary cross-entropy and the mean label but not their ratio, the metric production ranking teams
read (He et al. 2014); this derives it from those two computations of TFMA's own, so it costs no extra pass.
The same definition in NumPy: ``components.task_metrics.normalized_entropy`` (tested equal). RMSE is the
square root of TFMA's own mean squared error (only the Keras-metric wrapper has one), derived the same way.
Loaded by class name from this module (``tfma.MetricConfig(class_name=..., module=__name__)``).
"""

from __future__ import annotations

import math

from tensorflow_model_analysis.metrics import (
    calibration,
    cross_entropy_metrics,
    mean_regression_error,
    metric_types,
    metric_util,
)

from components.task_metrics import entropy

NORMALIZED_ENTROPY_NAME = "normalized_entropy"
ROOT_MEAN_SQUARED_ERROR_NAME = "root_mean_squared_error"


def _derived(parts, value):
    """A per-key computations function for ``metric_util.merge_per_key_computations``: TFMA's own computations
    ``parts`` ({suffix: computations function}, run under private names, so that they never clash with a
    configured metric of the same kind), then ``value(*their results)`` as the metric's value."""

    def computations(
        name: str,
        eval_config=None,
        model_name: str = "",
        output_name: str = "",
        sub_key=None,
        aggregation_type=None,
        class_weights=None,
        example_weighted: bool = False,
    ) -> metric_types.MetricComputations:
        shared = dict(
            eval_config=eval_config,
            model_name=model_name,
            output_name=output_name,
            sub_key=sub_key,
            aggregation_type=aggregation_type,
            class_weights=class_weights,
            example_weighted=example_weighted,
        )
        key = metric_types.MetricKey(
            name=name,
            model_name=model_name,
            output_name=output_name,
            sub_key=sub_key,
            example_weighted=example_weighted,
        )
        result, keys = [], []
        for suffix, part in parts.items():
            result += part(name=f"_{name}_{suffix}", **shared)
            keys.append(result[-1].keys[-1])
        result.append(
            metric_types.DerivedMetricComputation(
                keys=[key], result=lambda metrics: {key: value(*(float(metrics[k]) for k in keys))}
            )
        )
        return result

    return computations


def _normalized_entropy(cross_entropy: float, rate: float) -> float:
    return cross_entropy / entropy(rate) if 0 < rate < 1 else float("nan")  # NaN with one class (or a NaN rate)


class NormalizedEntropy(metric_types.Metric):
    """Binary cross-entropy over the entropy of the slice's (weighted) mean label; NaN with one class."""

    def __init__(self, name: str = NORMALIZED_ENTROPY_NAME):
        parts = {
            "cross_entropy": cross_entropy_metrics._binary_cross_entropy_computations,
            "mean_label": calibration._mean_label,
        }
        super().__init__(metric_util.merge_per_key_computations(_derived(parts, _normalized_entropy)), name=name)


metric_types.register_metric(NormalizedEntropy)


class RootMeanSquaredError(metric_types.Metric):
    """The square root of the slice's (weighted) mean squared error."""

    def __init__(self, name: str = ROOT_MEAN_SQUARED_ERROR_NAME):
        parts = {"mean_squared_error": mean_regression_error._mean_squared_error_computations}
        super().__init__(metric_util.merge_per_key_computations(_derived(parts, math.sqrt)), name=name)


metric_types.register_metric(RootMeanSquaredError)
