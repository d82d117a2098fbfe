"""The serving contract: names shared by the export, the model server, the REST API and the client.

Dependency-free (no TensorFlow) so that anything may import it; each fact here
is written nowhere else.
"""

from __future__ import annotations

import os

DEFAULT_SIGNATURE = "serving_default"  # serialized tf.Example -> probability (TF Serving's default key)
RAW_SIGNATURE = "serve_raw"  # one tensor per feature column -> probability
EXAMPLES_INPUT = "examples"  # serving_default's one input
OUTPUT_KEY = "probability"  # both signatures' output: the row's main task's probability
UNSEEN_OUTPUT = "unseen_values"  # the project server's extra output with --unseen_values=flag

# Feature spec dtype -> TensorFlow dtype name (tf.as_dtype(name)).
DTYPE_NAMES = {"string": "string", "int": "int64", "float": "float32"}

# Beside the SavedModel, in ``assets.extra`` (TF Serving ignores the folder, except for the warm-up file):
FEATURE_MANIFEST = os.path.join("assets.extra", "grec_features.json")  # request features, for validation
# TF Serving's own warm-up file: a TFRecord of PredictionLog protos replayed before a version takes traffic.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
