"""The exported serving signatures: both come from one function around one tracked Transform layer.

* ``serving_default``: serialized ``tf.Example`` protos with raw features
  (input ``examples``, <string>[B]) -> ``probability`` <float32>[B], the
  probability of each row's main task;
* ``serve_raw``: one raw tensor per feature column, one value per row (input
  names are the column names; <string|int64|float32>[B]; NaN / "" mean missing
  for nullable columns) -> ``probability``.

Label, weight, time and ignored columns (the oracle) are never inputs.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from components.feature_spec import FeatureSpec
from components.preprocessing import vocabulary_name

DTYPES = {"string": tf.string, "int": tf.int64, "float": tf.float32}
OUTPUT_KEY = "probability"


class ServingModule(tf.Module):
    """Holds the Keras model and the Transform layer; exposes the two signatures."""

    def __init__(self, model, tf_transform_output, spec: FeatureSpec, feature_names):
        super().__init__()
        self.model = model
        self.tft_layer = tf_transform_output.transform_features_layer()
        raw_spec = tf_transform_output.raw_feature_spec()
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
        "known_values" (task and auxiliary-task columns: the training vocabulary) and "dim" (a vector's length)."""
        manifest = {}
        for c in self._columns:
            entry = {"dtype": c.dtype, "role": c.role,
                     "nullable": not isinstance(self._request_spec[c.name], tf.io.FixedLenFeature)}  # fmt: skip
            if c.name in self._known_values:
                entry["known_values"] = self._known_values[c.name]
            if c.role == "image_embedding":
                entry["dim"] = c.option("dim")
            manifest[c.name] = entry
        return manifest

    def _score(self, raw):
        """Raw features (as parsed from tf.Example) -> {probability}: the one scoring function."""
        transformed = self.tft_layer(raw)
        features = {name: transformed[name] for name in self._feature_names}
        return {OUTPUT_KEY: tf.reshape(tf.cast(self.model(features, training=False), tf.float32), [-1])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        return self._score(tf.io.parse_example(examples, self._request_spec))

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
        "serving_default": module.serve_examples.get_concrete_function(),
        "serve_raw": module.raw_signature().get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    write_feature_manifest(module.feature_manifest(), export_dir)


FEATURE_MANIFEST = os.path.join("assets.extra", "grec_features.json")


def write_feature_manifest(features: dict, export_dir: str) -> None:
    """Records each request feature's dtype and nullability beside the model (TF Serving ignores
    ``assets.extra``); the project's model server validates requests with it."""
    os.makedirs(os.path.join(export_dir, "assets.extra"), exist_ok=True)
    with open(os.path.join(export_dir, FEATURE_MANIFEST), "w") as f:
        json.dump(features, f, indent=2)
