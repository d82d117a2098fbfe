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


def _write_examples(path, rows):
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for task, label in rows:
            feature = {"task": tf.train.Feature(bytes_list=tf.train.BytesList(value=[task.encode()]))}
            if isinstance(label, float):
                feature["label"] = tf.train.Feature(float_list=tf.train.FloatList(value=[label]))
            else:
                feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_the_gate_reads_tasks_labels_and_both_models_scores_in_batches(tmp_path):
    from components.evaluation import gate_inputs
    from components.task_gate import TaskGates
    from serving.contract import EXAMPLES_INPUT

    # 7 rows over two files and three batches of 3: a task first seen in a later batch keeps its name.
    _write_examples(tmp_path / "a.gz", [("click", 1), ("click", 0), ("cart", 1), ("click", 0)])
    _write_examples(tmp_path / "b.gz", [("cart", 0), ("buy", 1), ("click", 1)])
    calls = []

    def model(offset):  # scores each row by its position in the batch, plus an offset per model
        def serve(**inputs):
            calls.append(int(tf.size(inputs[EXAMPLES_INPUT])))
            return {OUTPUT_KEY: tf.range(tf.size(inputs[EXAMPLES_INPUT]), dtype=tf.float32)[:, None] + offset}

        return serve

    gates = TaskGates(task_column="task", label_column="label")
    tasks, labels, (new, old) = gate_inputs(
        [str(tmp_path / "a.gz"), str(tmp_path / "b.gz")], gates, [model(0), model(10)], batch=3
    )
    assert tasks.tolist() == ["click", "click", "cart", "click", "cart", "buy", "click"]
    assert labels.tolist() == [1, 0, 1, 0, 0, 1, 1] and labels.dtype == "float32"
    assert new.tolist() == [0, 1, 2, 0, 1, 2, 0] and old.tolist() == [10, 11, 12, 10, 11, 12, 10]
    assert calls == [3, 3, 3, 3, 1, 1]  # each batch scored once by each model, never the whole split


def test_the_gate_reads_a_float_label_column(tmp_path):
    from components.evaluation import gate_inputs
    from components.task_gate import TaskGates

    _write_examples(tmp_path / "a.gz", [("spend", 12.5), ("spend", 0.25)])
    tasks, labels, scores = gate_inputs([str(tmp_path / "a.gz")], TaskGates("task", "label"), [])
    assert tasks.tolist() == ["spend", "spend"] and labels.tolist() == [12.5, 0.25] and scores == []
