"""Transform's ``preprocessing_fn``, driven by the feature spec.

Transformed features (the contract of ``models/input_config.py``), one per
spec column, every scalar as a rank-1 tensor:

* task, auxiliary-task, categorical: ``tft.compute_and_apply_vocabulary`` with
  ``max(1, oov_buckets)`` OOV buckets: ids in [0, vocab + oov); an unseen
  value (an unseen task too) maps to an OOV id, never an error; a categorical
  column's ``max_ids`` / ``min_count`` bound the vocabulary (``top_k`` /
  ``frequency_threshold``: the values left out share the OOV ids too), and
  ``hash_buckets: N`` gives ids ``tf.strings.to_hash_bucket_fast(value, N)``
  instead, no vocabulary (``components.roles``: VOCABULARY_LIMITS);
* numerical (integer or float data, cast to float): by the column's
  ``transform`` option, z-score (default) with ``tft.mean`` / ``tft.var`` over
  present, non-NaN values, missing and NaN values becoming 0 (the mean);
  ``log1p``: sign(x) * log(1 + |x|), then the same z-score (heavy tails);
  ``bucketize``: ``tft.quantiles`` boundaries + ``tft.apply_buckets``, ids in
  [0, num_buckets), missing = ``num_buckets`` (an id, embedded like a
  categorical column); with ``buckets: N`` a z-scored or log1p column also
  gets ``<name>__bucket``, its quantile-bucket ids (N buckets + missing);
  with ``value_ids: N`` any numerical column also gets ``<name>__value``: a
  vocabulary of its N most frequent exact values seen at least
  ``VALUE_MIN_COUNT`` times (missing is the value "nan"), the rest one OOV id;
* text: lower-cased whitespace tokens (ASCII punctuation split off), a vocabulary of the ``vocab_size - 2``
  most frequent, ids shifted by 1 (0 = padding, last id = OOV), padded or
  truncated to ``max_tokens``;
* history: the same over space-separated ids, ``max_length`` long;
* image embedding: the space-separated floats parsed to [B, dim];
* label (int, or float with regression tasks) and weight (float) pass
  through; time and ignored columns (the oracle) are dropped;
* with regression tasks: ``TARGET_FEATURES``, each row's target shift and
  scale (``_target_features``), which the model reads to answer in the
  label's units.

The spec travels in ``custom_config["feature_spec"]`` (the parsed file as a
dict), so remote Beam workers need no access to the spec file.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components.feature_spec import HASH_OPTION, ID_ROLES, VALUE_MIN_COUNT, FeatureSpec, parse_feature_spec
from components.roles import (  # noqa: F401 (the defaults are read from here too)
    DEFAULT_HISTORY_LENGTH,
    DEFAULT_TEXT_TOKENS,
    DEFAULT_TEXT_VOCAB,
    TARGET_FEATURES,
    TEXT_PUNCTUATION,
)
from models.task_types import is_log_target

HISTORY_VOCAB = 50_000  # rationale: bounds the item table; the tail maps to OOV


def spec_from_config(custom_config) -> FeatureSpec:
    return parse_feature_spec(custom_config["feature_spec"], custom_config.get("feature_spec_path", "<custom_config>"))


def oov_buckets(column) -> int:
    return max(1, column.option("oov_buckets", 1))


def vocabulary_name(column_name: str) -> str:
    return f"vocab_{column_name}"


def _dense(x, default):
    """<T>[B] from a dense [B, 1] or a sparse/ragged [B, <=1] feature."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(tf.sparse.reset_shape(x, [tf.shape(x, out_type=tf.int64)[0], 1]), default_value=default)
    elif isinstance(x, tf.RaggedTensor):
        x = x.to_tensor(default_value=default, shape=[None, 1])
    return tf.reshape(x, [-1])


def _to_float(x):
    if isinstance(x, tf.SparseTensor):
        return tf.sparse.map_values(tf.cast, x, tf.float32)
    return tf.cast(x, tf.float32)


QUANTILE_EPSILON = 0.01  # tft.quantiles' approximation error; TFX's taxi example uses the same


def _bucketize(values, present, num_buckets):
    boundaries = tft.quantiles(tf.boolean_mask(values, present), num_buckets, QUANTILE_EPSILON)
    ids = tft.apply_buckets(tf.where(present, values, 0.0), boundaries)
    return tf.where(present, ids, tf.constant(num_buckets, tf.int64))


def _numerical(values, present, column):
    """<float>[B] raw values (NaN where missing) and <bool>[B] presence -> the column's transform."""
    if column.bucketized:
        return _bucketize(values, present, column.num_buckets)
    if column.option("transform") == "log1p":
        values = tf.sign(values) * tf.math.log1p(tf.abs(values))
    # Statistics over present values only: a ragged view with the missing ones left out.
    kept = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(values, present), tf.cast(present, tf.int64))
    mean = tft.mean(kept)
    std = tf.sqrt(tft.var(kept))
    z = (values - mean) / tf.where(std > 0, std, 1.0)
    return tf.where(present, z, 0.0)


def _value_strings(x, column, present):
    """<string>[B]: each value written exactly ("nan" where missing), the key of its value id."""
    if column.dtype == "int":
        text = tf.strings.as_string(_dense(x, 0))  # int64: exact, where float32 would round above 2**24
    else:
        # 9 significant digits tell every float32 apart; shortest drops the trailing zeros.
        text = tf.strings.as_string(_dense(_to_float(x), 0.0), precision=9, shortest=True)
    return tf.where(present, text, "nan")


def _tokens(x, column, length, vocab_size, lower):
    text = _dense(x, "")
    if lower:  # text: lower-cased, punctuation split off (components.roles.TEXT_PUNCTUATION)
        text = tf.strings.regex_replace(tf.strings.lower(text), TEXT_PUNCTUATION, " ")
    tokens = tf.strings.split(text)  # ragged [B, None]
    ids = tft.compute_and_apply_vocabulary(
        tokens, top_k=vocab_size, num_oov_buckets=1, vocab_filename=vocabulary_name(column.name)
    )
    # Shape: [B, length]; 0 = padding, so vocabulary ids move up by one.
    return (ids + 1).to_tensor(default_value=0, shape=[None, length])


def _image(x, dim):
    parts = tf.strings.split(_dense(x, ""))
    return tf.strings.to_number(parts, tf.float32).to_tensor(default_value=0.0, shape=[None, dim])


def preprocessing_fn(inputs, custom_config):
    """TFX Transform entry point: raw features -> transformed features (module docstring)."""
    spec = spec_from_config(custom_config)
    outputs = {}
    for column in spec.columns:
        x = inputs[column.name]
        if column.role in ID_ROLES:
            values = _dense(x, "" if column.dtype == "string" else -1)
            if column.dtype != "string":
                values = tf.strings.as_string(values)
            if column.option(HASH_OPTION):
                # A core op (StringToHashBucketFast, FarmHash Fingerprint64): the served graph needs nothing else.
                outputs[column.name] = tf.strings.to_hash_bucket_fast(values, column.option(HASH_OPTION))
                continue
            outputs[column.name] = tft.compute_and_apply_vocabulary(
                values,
                top_k=column.option("max_ids"),
                frequency_threshold=column.option("min_count"),
                num_oov_buckets=oov_buckets(column),
                vocab_filename=vocabulary_name(column.name),
            )
        elif column.role == "numerical":
            values = _dense(_to_float(x), float("nan"))
            present = tf.math.is_finite(values)
            outputs[column.name] = _numerical(values, present, column)
            if column.bucket_feature:
                outputs[column.bucket_feature] = _bucketize(values, present, column.option("buckets"))
            if column.value_feature:
                outputs[column.value_feature] = tft.compute_and_apply_vocabulary(
                    _value_strings(x, column, present),
                    top_k=column.option("value_ids"),
                    frequency_threshold=VALUE_MIN_COUNT,
                    num_oov_buckets=1,
                    vocab_filename=vocabulary_name(column.value_feature),
                )
        elif column.role == "text":
            size = column.option("vocab_size", DEFAULT_TEXT_VOCAB) - 2
            outputs[column.name] = _tokens(x, column, column.option("max_tokens", DEFAULT_TEXT_TOKENS), size, True)
        elif column.role == "history":
            length = column.option("max_length", DEFAULT_HISTORY_LENGTH)
            outputs[column.name] = _tokens(x, column, length, HISTORY_VOCAB, False)
        elif column.role == "image_embedding":
            outputs[column.name] = _image(x, column.option("dim"))
        elif column.role == "label":
            outputs[column.name] = (
                _dense(_to_float(x), 0.0) if column.dtype == "float" else tf.cast(_dense(x, 0), tf.int64)
            )
        elif column.role == "weight":
            outputs[column.name] = _dense(_to_float(x), 1.0)
    if spec.regression_tasks:
        outputs.update(_target_features(spec, inputs))
    return outputs


def _target_features(spec: FeatureSpec, inputs) -> dict:
    """Per row, the shift and scale of its task's target (``components.roles.TARGET_FEATURES``): the task's
    training mean and deviation (``tft.mean``, ``tft.var`` over its rows) where it has ``scale: zscore``."""
    tasks = _dense(inputs[spec.task_column.name], "")
    label = _dense(_to_float(inputs[spec.label_column.name]), 0.0)
    # From the task column only (the label feeds the analyzers alone): the serving graph has no label.
    shift, scale = tf.zeros(tf.shape(tasks), tf.float32), tf.ones(tf.shape(tasks), tf.float32)
    for task in spec.regression_tasks:
        if spec.target_scale(task) != "zscore":
            continue
        rows = tf.equal(tasks, task)
        target = tf.math.log1p(tf.maximum(label, 0.0)) if is_log_target(spec.task_loss(task)) else label
        values = tf.boolean_mask(target, rows)
        mean, deviation = tft.mean(values), tf.sqrt(tft.var(values))
        mean = tf.where(tf.math.is_finite(mean), mean, 0.0)  # no rows of the task: nothing to shift
        deviation = tf.where(tf.math.is_finite(deviation) & (deviation > 1e-6), deviation, 1.0)
        shift = tf.where(rows, mean, shift)
        scale = tf.where(rows, deviation, scale)
    return dict(zip(TARGET_FEATURES, (shift, scale), strict=True))
