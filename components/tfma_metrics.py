"""TFMA metrics TFMA lacks: ``NormalizedEntropy``, the Evaluator's per-slice normalized entropy.

TFMA has binary cross-entropy and the mean label but not their ratio, the metric production ranking teams
read (He et al. 2014); this derives it from those two computations of TFMA's own, so it costs no extra pass.
The same definition in NumPy: ``components.task_metrics.normalized_entropy`` (tested equal).
Loaded by class name from this module (``tfma.MetricConfig(class_name=..., module=__name__)``).
"""

from __future__ import annotations

import math

from tensorflow_model_analysis.metrics import calibration, cross_entropy_metrics, metric_types, metric_util

from components.task_metrics import entropy

NORMALIZED_ENTROPY_NAME = "normalized_entropy"


class NormalizedEntropy(metric_types.Metric):
    """Binary cross-entropy over the entropy of the slice's (weighted) mean label; NaN with one class."""

    def __init__(self, name: str = NORMALIZED_ENTROPY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_normalized_entropy), name=name)


def _normalized_entropy(
    name: str = NORMALIZED_ENTROPY_NAME,
    eval_config=None,
    model_name: str = "",
    output_name: str = "",
    sub_key=None,
    aggregation_type=None,
    class_weights=None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, sub_key=sub_key, example_weighted=example_weighted
    )
    shared = dict(
        eval_config=eval_config,
        model_name=model_name,
        output_name=output_name,
        sub_key=sub_key,
        aggregation_type=aggregation_type,
        class_weights=class_weights,
        example_weighted=example_weighted,
    )
    # Private names, so that they never clash with a configured BinaryCrossEntropy or MeanLabel.
    computations = cross_entropy_metrics._binary_cross_entropy_computations(name=f"_{name}_cross_entropy", **shared)
    cross_entropy_key = computations[-1].keys[-1]
    computations += calibration._mean_label(name=f"_{name}_mean_label", **shared)
    mean_label_key = computations[-1].keys[-1]

    def result(metrics):
        rate = metrics[mean_label_key]
        if not 0 < rate < 1 or math.isnan(rate):
            return {key: float("nan")}
        return {key: float(metrics[cross_entropy_key]) / entropy(rate)}

    computations.append(metric_types.DerivedMetricComputation(keys=[key], result=result))
    return computations


metric_types.register_metric(NormalizedEntropy)
