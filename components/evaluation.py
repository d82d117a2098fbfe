"""The Evaluator's TFMA configuration: AP and AUC per task slice, calibration, counts, thresholds."""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.feature_spec import FeatureSpec
from components.signatures import OUTPUT_KEY


def slicing_specs(spec: FeatureSpec) -> list:
    """Overall, by main task, by each auxiliary task column, and by main task x each auxiliary column."""
    main = spec.task_column.name
    specs = [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[main])]
    for aux in spec.by_role("aux_task"):
        specs.append(tfma.SlicingSpec(feature_keys=[aux.name]))
        specs.append(tfma.SlicingSpec(feature_keys=[main, aux.name]))
    return specs


def eval_config(spec: FeatureSpec, min_auc: float = 0.6, max_auc_drop: float = 0.01) -> tfma.EvalConfig:
    """EvalConfig for the exported model.

    The model is a generic SavedModel (Keras 3 inside ``tf.saved_model.save``),
    so the signature and its output key are named explicitly.

    Args:
        spec: the feature spec (label, weight and task columns).
        min_auc: value threshold on overall AUC: a model below it is not blessed.
        max_auc_drop: change threshold: a model whose overall AUC is lower than
            the last blessed model's by more than this is not blessed.
    """
    model_spec = tfma.ModelSpec(
        signature_name="serving_default",
        label_key=spec.label_column.name,
        prediction_key=OUTPUT_KEY,
        preprocessing_function_names=[],
    )
    if spec.weight_column is not None:
        model_spec.example_weight_key = spec.weight_column.name
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_auc_drop}
        ),
    )
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        # Blessing is decided on the overall slice; per-task slices are reported, not gated
        # (a sparse task's eval week may hold a handful of positives).
        tfma.MetricConfig(
            class_name="AUC",
            per_slice_thresholds=[
                tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=auc_threshold)
            ],
        ),
        tfma.MetricConfig(class_name="AUCPrecisionRecall", config='"name": "average_precision"'),
        tfma.MetricConfig(class_name="Calibration"),
        tfma.MetricConfig(class_name="MeanLabel"),
        tfma.MetricConfig(class_name="MeanPrediction"),
    ]
    return tfma.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=slicing_specs(spec),
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
