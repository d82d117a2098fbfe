"""The Evaluator's configuration by task type, and a baseline exported before the spec's regression tasks."""

import json
import logging

import tensorflow as tf
from tfx.types import standard_artifacts

from components.evaluation import comparable_inputs, eval_config
from components.feature_spec import parse_feature_spec
from serving.contract import EVALUATION_LABELS, EVALUATION_SIGNATURE, OUTPUT_KEY, VALUE_KEY

COLUMNS = {"task": {"role": "task"}, "x": {"role": "numerical"}, "label": {"role": "label", "dtype": "float"}}
SPEC = parse_feature_spec({"columns": COLUMNS, "tasks": {"click": {}, "spend": {"type": "regression"}}})


def _model(root, name, signatures) -> standard_artifacts.Model:
    """A Model artifact whose SavedModel has the named signatures (each returns its input's length)."""
    module = tf.Module()
    module.f = tf.function(
        lambda examples: {"n": tf.size(examples)}, input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(
        module,
        str(root / name / "Format-Serving"),
        signatures={s: module.f.get_concrete_function() for s in signatures},
    )
    artifact = standard_artifacts.Model()
    artifact.uri = str(root / name)
    return artifact


def test_binary_and_regression_outputs_get_their_own_metrics():
    from google.protobuf import json_format

    config = json.loads(json_format.MessageToJson(eval_config(SPEC)))
    (model,) = config["modelSpecs"]
    assert model["signatureName"] == EVALUATION_SIGNATURE and model["preprocessingFunctionNames"] == [EVALUATION_LABELS]
    by_output = {spec["outputNames"][0]: [m["className"] for m in spec["metrics"]] for spec in config["metricsSpecs"]}
    assert {"AUC", "AUCPrecisionRecall", "NormalizedEntropy"} <= set(by_output[OUTPUT_KEY])
    assert by_output[VALUE_KEY] == [
        "ExampleCount",
        "RootMeanSquaredError",
        "MeanAbsoluteError",
        "MeanLabel",
        "MeanPrediction",
    ]
    binary = parse_feature_spec({"columns": {**COLUMNS, "label": {"role": "label"}}})
    (plain,) = json.loads(json_format.MessageToJson(eval_config(binary)))["modelSpecs"]
    assert plain["signatureName"] == "serving_default" and plain["labelKey"] == "label"  # as before task types


def test_a_baseline_without_the_evaluation_signatures_is_left_out_and_said(tmp_path, caplog):
    from google.protobuf import json_format

    properties = {"eval_config": json_format.MessageToJson(eval_config(SPEC))}
    candidate = _model(tmp_path, "new", ["serving_default", EVALUATION_SIGNATURE, EVALUATION_LABELS])
    old = _model(tmp_path, "old", ["serving_default"])
    inputs = {"model": [candidate], "baseline_model": [old]}
    with caplog.at_level(logging.WARNING, logger="grec.evaluator"):
        kept = comparable_inputs(inputs, properties)
    assert kept["baseline_model"] == [] and kept["model"] == [candidate]
    assert f"has no {EVALUATION_SIGNATURE}, {EVALUATION_LABELS} signature" in caplog.text and old.uri in caplog.text
    same_kind = {"model": [candidate], "baseline_model": [candidate]}
    assert comparable_inputs(same_kind, properties) is same_kind  # a baseline with the signatures stays
