"""Wide & deep context head: categorical embeddings (deep) + batch-normalised numericals (wide)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from models.validation import require, require_positive

LEAKY_SLOPE = 0.2  # LeakyReLU(0.2) as in the paper's reference implementation


@keras.saving.register_keras_serializable(package="grec")
class WideDeepHead(keras.layers.Layer):
    """Turns the categorical and numerical features of an example into one token.

    Deep half: one embedding table per categorical column (stored as one table
    with per-column offsets), concatenated, ``Dense + LeakyReLU(0.2)``. Wide
    half: ``BatchNormalization`` of the numericals, ``Dense + LeakyReLU(0.2)``.
    Optional cross features: one DCN-v2 cross layer ``x0 * (W x0 + b) + x0``
    over the concatenated deep and wide inputs (written here because keras-rs,
    which has ``FeatureCross``, does not import beside TF 2.16).

    Args:
        vocab_sizes: list of ints, the id range of each categorical column.
        num_numerical: number of numerical columns (0 allowed).
        embedding_dim: width of each categorical embedding.
        output_dim: D, width of the output token.
        use_cross: add the cross-feature branch.

    Call args:
        categorical: <int>[B, C] ids, column c in [0, vocab_sizes[c]).
        numerical: <float>[B, M] (M = num_numerical), or None when M == 0.

    Returns:
        <float>[B, D].
    """

    def __init__(self, vocab_sizes, num_numerical, embedding_dim=16, output_dim=256, use_cross=False, **kwargs):
        super().__init__(**kwargs)
        vocab_sizes = [int(v) for v in vocab_sizes]
        require(len(vocab_sizes) + num_numerical > 0, "Need at least one categorical or numerical column.",
                vocab_sizes=vocab_sizes, num_numerical=num_numerical)  # fmt: skip
        for size in vocab_sizes:
            require_positive(vocab_size=size)
        require_positive(embedding_dim=embedding_dim, output_dim=output_dim)
        self.vocab_sizes = vocab_sizes
        self.num_numerical = num_numerical
        self.embedding_dim = embedding_dim
        self.output_dim = output_dim
        self.use_cross = use_cross

    def build(self, categorical_shape=None, numerical_shape=None):
        policy = self.dtype_policy
        self._offsets = np.concatenate([[0], np.cumsum(self.vocab_sizes)[:-1]]).astype("int32")
        deep_width = len(self.vocab_sizes) * self.embedding_dim
        if self.vocab_sizes:
            self.embedding = keras.layers.Embedding(
                sum(self.vocab_sizes), self.embedding_dim, name="embedding", dtype=policy
            )
            self.embedding.build((None, len(self.vocab_sizes)))
            self.deep = keras.layers.Dense(self.output_dim, name="deep", dtype=policy)
            self.deep.build((None, deep_width))
        if self.num_numerical:
            self.norm = keras.layers.BatchNormalization(name="numerical_norm", dtype=policy)
            self.norm.build((None, self.num_numerical))
            self.wide = keras.layers.Dense(self.output_dim, name="wide", dtype=policy)
            self.wide.build((None, self.num_numerical))
        if self.use_cross:
            width = deep_width + self.num_numerical
            self.cross = keras.layers.Dense(width, name="cross", dtype=policy)
            self.cross.build((None, width))
            self.cross_out = keras.layers.Dense(self.output_dim, name="cross_output", dtype=policy)
            self.cross_out.build((None, width))

    def call(self, categorical=None, numerical=None, training=None):
        parts, cross_inputs = [], []
        if self.vocab_sizes:
            # Shape: [B, C, e] -> [B, C * e].
            ids = ops.cast(categorical, "int32") + ops.convert_to_tensor(self._offsets)
            embedded = ops.reshape(self.embedding(ids), (-1, len(self.vocab_sizes) * self.embedding_dim))
            parts.append(ops.leaky_relu(self.deep(embedded), LEAKY_SLOPE))
            cross_inputs.append(embedded)
        if self.num_numerical:
            normed = self.norm(ops.cast(numerical, self.compute_dtype), training=training)
            parts.append(ops.leaky_relu(self.wide(normed), LEAKY_SLOPE))
            cross_inputs.append(normed)
        if self.use_cross:
            x0 = ops.concatenate(cross_inputs, axis=-1)
            parts.append(self.cross_out(x0 * self.cross(x0) + x0))
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out

    def compute_output_shape(self, categorical_shape=None, numerical_shape=None):
        batch = (categorical_shape or numerical_shape)[0]
        return (batch, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_sizes=self.vocab_sizes,
            num_numerical=self.num_numerical,
            embedding_dim=self.embedding_dim,
            output_dim=self.output_dim,
            use_cross=self.use_cross,
        )
        return config
