"""The serving contract: names shared by the export, the model server, the REST API and the client.

Dependency-free (no TensorFlow) so that anything may import it; each fact here
is written nowhere else.
"""

from __future__ import annotations

import os

DEFAULT_SIGNATURE = "serving_default"  # serialized tf.Example -> probability (TF Serving's default key)
RAW_SIGNATURE = "serve_raw"  # one tensor per feature column -> probability
EXAMPLES_INPUT = "examples"  # serving_default's one input
# Both signatures' one output: the answer for the row's main task, a probability for a binary task and a value in
# the label's units for a regression one (the manifest's "types" says which task is which).
OUTPUT_KEY = "probability"
# Only with regression tasks, for TFMA (components/evaluation.py): examples -> OUTPUT_KEY (binary rows' values,
# a placeholder on regression rows) and VALUE_KEY (regression rows' values, 0 elsewhere), and the labels and
# weights of each (the preprocessing function EVALUATION_LABELS; a row weighs 0 in the output not of its kind).
EVALUATION_SIGNATURE = "grec_evaluation"
EVALUATION_LABELS = "grec_evaluation_labels"
VALUE_KEY = "value"
EVALUATION_LABEL_KEYS = {OUTPUT_KEY: "binary_label", VALUE_KEY: "value_label"}
EVALUATION_WEIGHT_KEYS = {OUTPUT_KEY: "binary_weight", VALUE_KEY: "value_weight"}
UNSEEN_OUTPUT = "unseen_values"  # the project server's extra output with --unseen_values=flag

# Feature spec dtype -> TensorFlow dtype name (tf.as_dtype(name)).
DTYPE_NAMES = {"string": "string", "int": "int64", "float": "float32"}

# Beside the SavedModel, in ``assets.extra`` (TF Serving ignores the folder, except for the warm-up file):
FEATURE_MANIFEST = os.path.join("assets.extra", "grec_features.json")  # request features, for validation
# TF Serving's own warm-up file: a TFRecord of PredictionLog protos replayed before a version takes traffic.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
