"""The exported serving signatures: both come from one function around one tracked Transform layer.

* ``serving_default``: serialized ``tf.Example`` protos with raw features
  (input ``examples``, <string>[B]) -> ``probability`` <float32>[B], the
  answer for each row's main task: its probability for a binary task, its value
  in the label's units for a regression task;
* ``serve_raw``: one raw tensor per feature column, one value per row (input
  names are the column names; <string|int64|float32>[B]; NaN / "" mean missing
  for nullable columns) -> ``probability``.

A regression task answers under the same output, not a second one: TF Serving's
Predict API returns every output for every row, and one batch mixes tasks (a
user's click and spend rows side by side), so a second output would be half
padding; the feature manifest's ``types`` on the main task column says which
task answers a probability and which a value. With regression tasks the export
adds, for TFMA only, ``grec_evaluation`` (the same answers split into a binary
and a value output) and the preprocessing function ``grec_evaluation_labels``
(each output's label and weight), so that binary metrics never see a value and
regression metrics never see a probability (``components/evaluation.py``).

Label, weight, time and ignored columns (the oracle) are never inputs.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from components.feature_spec import ROLE_TABLE, FeatureSpec
from components.preprocessing import vocabulary_name
from serving.contract import (
    DEFAULT_SIGNATURE,
    DTYPE_NAMES,
    EVALUATION_LABEL_KEYS,
    EVALUATION_LABELS,
    EVALUATION_SIGNATURE,
    EVALUATION_WEIGHT_KEYS,
    EXAMPLES_INPUT,
    FEATURE_MANIFEST,
    OUTPUT_KEY,
    RAW_SIGNATURE,
    VALUE_KEY,
    WARMUP_FILE,
)

DTYPES = {name: tf.as_dtype(dtype) for name, dtype in DTYPE_NAMES.items()}
WARMUP_ROWS = 32  # at most this many rows in the batched warm-up request


class ServingModule(tf.Module):
    """Holds the Keras model and the Transform layer; exposes the two signatures."""

    def __init__(self, model, tf_transform_output, spec: FeatureSpec, feature_names):
        super().__init__()
        self.model = model
        # The Keras 3 variables' own tf.Variables, tracked here: without it the SavedModel's restore op skips them
        # and TensorFlow's C++ loader (tensorflow_model_server) serves uninitialised variables ("Could not find
        # variable ..."); tf.saved_model.load would not notice (keras-team/keras#20095, tensorflow/serving#2250).
        self.model_variables = [v.value for v in model.variables]
        self.tft_layer = tf_transform_output.transform_features_layer()
        raw_spec = tf_transform_output.raw_feature_spec()
        # A conditional task answers p(task | given task), a chained one p(given and task): said in the manifest for
        # the callers (JSON strings: a dict attribute would be wrapped for tracking).
        self._given = json.dumps({task: spec.given(task) for task in spec.tasks if spec.given(task)})
        self._chain = json.dumps({task: spec.chain(task) for task in spec.tasks if spec.chain(task)})
        self._regression = list(spec.regression_tasks)
        self._task_type = spec.task_type
        self._main = spec.task_column.name
        # What the evaluation signatures read beyond the request: the label and the weight.
        self._label = spec.label_column.name
        self._weight = spec.weight_column.name if spec.weight_column is not None else None
        self._label_spec = {
            name: raw_spec[name] for name in (self._main, self._label, self._weight) if name is not None
        }
        self._columns = [c for c in spec.feature_columns]
        self._request_spec = {c.name: raw_spec[c.name] for c in self._columns}
        self._feature_names = list(feature_names)
        # The task and auxiliary-task values seen in training: anything else would be scored with a shared
        # OOV embedding, so the model server can refuse it (or flag it) by name.
        self._known_values = {
            c.name: sorted(v.decode() for v in tf_transform_output.vocabulary_by_name(vocabulary_name(c.name)))
            for c in spec.task_columns
        }

    def feature_manifest(self) -> dict:
        """Request feature -> {"dtype": spec dtype, "nullable": may be missing from a request, "role"}, plus
        "known_values" (task and auxiliary-task columns: the training vocabulary), "dim" (a vector's length) and,
        on the main task column, "types" (task -> binary: a probability, or regression: a value in the label's
        units), "given" (conditional task -> the task whose positives are its sample space) and "chain" (task ->
        entire_space: its answer is p(given and task), ESMM's chained probability, not p(task | given))."""
        manifest = {}
        for c in self._columns:
            entry = {
                "dtype": c.dtype,
                "role": c.role,
                "nullable": not isinstance(self._request_spec[c.name], tf.io.FixedLenFeature),
            }
            if c.name in self._known_values:
                entry["known_values"] = self._known_values[c.name]
            if c.name == self._main:
                entry["types"] = {task: self._task_type(task) for task in self._known_values[c.name]}
                if json.loads(self._given):
                    entry["given"] = json.loads(self._given)
                if json.loads(self._chain):
                    entry["chain"] = json.loads(self._chain)
            if ROLE_TABLE[c.role].vector:
                entry["dim"] = c.option("dim")
            manifest[c.name] = entry
        return manifest

    def _score(self, raw):
        """Raw features (as parsed from tf.Example) -> {probability}: the one scoring function."""
        transformed = self.tft_layer(raw)
        features = {name: transformed[name] for name in self._feature_names}
        return {OUTPUT_KEY: tf.reshape(tf.cast(self.model(features, training=False), tf.float32), [-1])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    def serve_examples(self, examples):
        return self._score(tf.io.parse_example(examples, self._request_spec))

    def _regression_rows(self, raw):
        """<bool>[B]: the rows whose main task is a regression task."""
        task = tf.reshape(
            tf.sparse.to_dense(raw[self._main]) if isinstance(raw[self._main], tf.SparseTensor) else raw[self._main],
            [-1],
        )
        return tf.reduce_any(tf.equal(task[:, None], tf.constant(self._regression, tf.string)[None, :]), axis=1)

    def evaluation_signatures(self) -> dict:
        """For TFMA, with regression tasks only (built on demand, so a binary-only export never traces them):
        ``EVALUATION_SIGNATURE``, the answers split by kind, and ``EVALUATION_LABELS`` (a preprocessing function),
        each output's label and weight. A row weighs 0 in the other kind's output (the weight column's value or 1
        in its own), where it answers a placeholder every metric can take (0.5 as a probability: TFMA's
        cross-entropy of 0 is NaN even at weight 0)."""
        examples_spec = [tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)]

        @tf.function(input_signature=examples_spec)
        def evaluate(examples):
            raw = tf.io.parse_example(examples, self._request_spec)
            answer, regression = self._score(raw)[OUTPUT_KEY], self._regression_rows(raw)
            return {OUTPUT_KEY: tf.where(regression, 0.5, answer), VALUE_KEY: tf.where(regression, answer, 0.0)}

        @tf.function(input_signature=examples_spec)
        def evaluation_labels(examples):
            raw = tf.io.parse_example(examples, self._label_spec)

            def dense(name, default):
                value = raw[name]
                if isinstance(value, tf.SparseTensor):
                    value = tf.sparse.to_dense(value, default_value=tf.cast(default, value.dtype))
                return tf.reshape(tf.cast(value, tf.float32), [-1])

            regression = self._regression_rows(raw)
            label = dense(self._label, 0)
            weight = dense(self._weight, 1) if self._weight else tf.ones_like(label)
            zero = tf.zeros_like(label)
            return {
                EVALUATION_LABEL_KEYS[OUTPUT_KEY]: tf.where(regression, zero, label),
                EVALUATION_WEIGHT_KEYS[OUTPUT_KEY]: tf.where(regression, zero, weight),
                EVALUATION_LABEL_KEYS[VALUE_KEY]: tf.where(regression, label, zero),
                EVALUATION_WEIGHT_KEYS[VALUE_KEY]: tf.where(regression, weight, zero),
            }

        return {
            EVALUATION_SIGNATURE: evaluate.get_concrete_function(),
            EVALUATION_LABELS: evaluation_labels.get_concrete_function(),
        }

    def raw_signature(self):
        specs = {c.name: tf.TensorSpec([None], DTYPES[c.dtype], name=c.name) for c in self._columns}

        @tf.function(input_signature=[specs])
        def serve_raw(features):
            raw = {}
            for column in self._columns:
                values = features[column.name]
                if isinstance(self._request_spec[column.name], tf.io.FixedLenFeature):
                    raw[column.name] = tf.reshape(values, [-1, 1])
                else:  # nullable: NaN (float) or "" (string) is a missing value
                    if values.dtype == tf.float32:
                        present = tf.math.is_finite(values)
                    elif values.dtype == tf.string:
                        present = tf.not_equal(values, "")
                    else:
                        present = tf.ones_like(values, tf.bool)
                    rows = tf.cast(tf.where(present)[:, 0], tf.int64)
                    raw[column.name] = tf.SparseTensor(
                        tf.stack([rows, tf.zeros_like(rows)], axis=1),
                        tf.boolean_mask(values, present),
                        tf.stack([tf.shape(values, out_type=tf.int64)[0], tf.constant(1, tf.int64)]),
                    )
            return self._score(raw)

        return serve_raw


def export_serving_model(model, tf_transform_output, spec: FeatureSpec, feature_names, export_dir: str) -> None:
    """Saves the SavedModel that TFMA evaluates and TF Serving serves."""
    module = ServingModule(model, tf_transform_output, spec, feature_names)
    signatures = {
        DEFAULT_SIGNATURE: module.serve_examples.get_concrete_function(),
        RAW_SIGNATURE: module.raw_signature().get_concrete_function(),
    }
    if spec.regression_tasks:
        signatures.update(module.evaluation_signatures())
    tf.saved_model.save(module, export_dir, signatures=signatures)
    manifest = module.feature_manifest()
    write_feature_manifest(manifest, export_dir)
    write_warmup_requests(manifest, export_dir)


def write_feature_manifest(features: dict, export_dir: str) -> None:
    """Records each request feature's dtype and nullability beside the model (TF Serving ignores
    ``assets.extra``); the project's model server validates requests with it."""
    os.makedirs(os.path.join(export_dir, "assets.extra"), exist_ok=True)
    with open(os.path.join(export_dir, FEATURE_MANIFEST), "w") as f:
        json.dump(features, f, indent=2)


def warmup_rows(features: dict) -> list[dict]:
    """Valid raw rows built from a feature manifest: one per known main-task value (at most
    ``WARMUP_ROWS``), other task columns at their first known value, vectors of zeros, other strings
    a placeholder word, numbers 0."""
    main = next(name for name, entry in features.items() if entry["role"] == "task")
    rows = []
    for value in features[main]["known_values"][:WARMUP_ROWS]:
        row = {}
        for name, entry in features.items():
            if name == main:
                row[name] = value
            elif entry.get("known_values"):
                row[name] = entry["known_values"][0]
            elif entry["role"] == "image_embedding":
                row[name] = " ".join(["0"] * entry["dim"])
            else:
                row[name] = {"string": "warmup", "int": 0, "float": 0.0}[entry["dtype"]]
        rows.append(row)
    return rows


def write_warmup_requests(features: dict, export_dir: str) -> None:
    """Writes TF Serving's warm-up file (``assets.extra/tf_serving_warmup_requests``, a TFRecord of
    PredictionLog protos): a one-row and a batched ``serving_default`` request. The official server and
    the project's replay it before a version takes traffic, so no user request pays the first call."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    from serving.client import serialize_rows

    rows, dtypes = warmup_rows(features), {name: DTYPES[entry["dtype"]] for name, entry in features.items()}
    with tf.io.TFRecordWriter(os.path.join(export_dir, WARMUP_FILE)) as writer:
        for batch in (rows[:1], rows):
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = DEFAULT_SIGNATURE
            request.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto(serialize_rows(batch, dtypes), tf.string))
            writer.write(
                prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                ).SerializeToString()
            )
