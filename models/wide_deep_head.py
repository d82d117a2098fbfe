"""Wide & deep context head: categorical embeddings (deep) + batch-normalised numericals (wide)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from models.activation import leaky_relu
from models.embedding import Embedding
from models.validation import require, require_positive

NUMERICAL_EMBEDDINGS = (None, "periodic")
CATEGORICAL_WIDTHS = ("fixed", "cardinality")
WIDTH_REFERENCE_VOCAB = 256  # a column of up to this many ids gets ``embedding_dim``; wider ones grow with n ** 0.25
MAX_WIDTH_FACTOR = 4  # and at most this many times ``embedding_dim``


def categorical_width(vocab_size: int, embedding_dim: int, rule: str = "fixed") -> int:
    """A categorical column's embedding width: ``embedding_dim`` (``fixed``), or (``cardinality``) growing with
    the fourth root of its vocabulary above ``WIDTH_REFERENCE_VOCAB`` ids (TensorFlow's feature-column
    guide's rule of thumb, width ~ n ** 0.25), rounded to a multiple of 4, at most ``MAX_WIDTH_FACTOR`` x."""
    if rule == "fixed":
        return embedding_dim
    grown = embedding_dim * max(1.0, vocab_size / WIDTH_REFERENCE_VOCAB) ** 0.25
    return int(min(MAX_WIDTH_FACTOR * embedding_dim, 4 * round(grown / 4)))


@keras.saving.register_keras_serializable(package="grec")
class WideDeepHead(keras.layers.Layer):
    """Turns the categorical and numerical features of an example into one token.

    Deep half: one embedding table per categorical column (stored as one table
    with per-column offsets), concatenated, ``Dense + LeakyReLU(0.2)``. Wide
    half: ``BatchNormalization`` of the numericals, ``Dense + LeakyReLU(0.2)``.
    Optional cross features: one DCN-v2 cross layer ``x0 * (W x0 + b) + x0``
    over the concatenated deep and wide inputs (written here because keras-rs,
    which has ``FeatureCross``, does not import beside TF 2.16).

    Optional numerical embeddings (``numerical_embedding="periodic"``): each
    normalised numerical x also gets its own ``embedding_dim`` vector
    ``ReLU(W_m [cos(2 pi f_m x), sin(2 pi f_m x)] + b_m)`` with trainable
    frequencies f_m (``periodic_frequencies`` of them, initialised
    N(0, ``periodic_sigma``^2)), the PLR embedding of Gorishniy et al., "On
    Embeddings for Numerical Features in Tabular Deep Learning" (NeurIPS
    2022), and joins the categorical embeddings in the deep half, so numbers
    interact with categories and keep their non-linear shape. (Written here:
    no Keras 3 library ships it.)

    Args:
        vocab_sizes: list of ints, the id range of each categorical column.
        num_numerical: number of numerical columns (0 allowed).
        embedding_dim: width of each categorical embedding.
        output_dim: D, width of the output token.
        use_cross: add the cross-feature branch.
        numerical_embedding: None or ``"periodic"``.
        categorical_widths: ``fixed`` (every column ``embedding_dim``) or ``cardinality`` (``categorical_width``).
        periodic_frequencies, periodic_sigma: the periodic embedding's size and initial frequency spread.

    Call args:
        categorical: <int>[B, C] ids, column c in [0, vocab_sizes[c]).
        numerical: <float>[B, M] (M = num_numerical), or None when M == 0.

    Returns:
        <float>[B, D].
    """

    def __init__(
        self,
        vocab_sizes,
        num_numerical,
        embedding_dim=16,
        output_dim=256,
        use_cross=False,
        numerical_embedding=None,
        periodic_frequencies=16,
        periodic_sigma=0.1,
        categorical_widths="fixed",
        **kwargs,
    ):
        super().__init__(**kwargs)
        require(
            numerical_embedding in NUMERICAL_EMBEDDINGS,
            f"`numerical_embedding` must be one of " f"{list(NUMERICAL_EMBEDDINGS)}.",
            numerical_embedding=numerical_embedding,
        )
        require(
            categorical_widths in CATEGORICAL_WIDTHS,
            f"`categorical_widths` must be one of " f"{list(CATEGORICAL_WIDTHS)}.",
            categorical_widths=categorical_widths,
        )
        require_positive(periodic_frequencies=periodic_frequencies)
        require(periodic_sigma > 0, "`periodic_sigma` must be > 0.", periodic_sigma=periodic_sigma)
        vocab_sizes = [int(v) for v in vocab_sizes]
        require(
            len(vocab_sizes) + num_numerical > 0,
            "Need at least one categorical or numerical column.",
            vocab_sizes=vocab_sizes,
            num_numerical=num_numerical,
        )
        for size in vocab_sizes:
            require_positive(vocab_size=size)
        require_positive(embedding_dim=embedding_dim, output_dim=output_dim)
        self.vocab_sizes = vocab_sizes
        self.num_numerical = num_numerical
        self.embedding_dim = embedding_dim
        self.output_dim = output_dim
        self.use_cross = use_cross
        self.numerical_embedding = numerical_embedding
        self.periodic_frequencies = periodic_frequencies
        self.periodic_sigma = periodic_sigma
        self.categorical_widths = categorical_widths
        self.widths = [categorical_width(v, embedding_dim, categorical_widths) for v in vocab_sizes]

    @property
    def _periodic(self) -> bool:
        return self.numerical_embedding == "periodic" and self.num_numerical > 0

    def build(self, categorical_shape=None, numerical_shape=None):
        policy = self.dtype_policy
        self._offsets = np.concatenate([[0], np.cumsum(self.vocab_sizes)[:-1]]).astype("int32")
        deep_width = sum(self.widths) + self.num_numerical * self._periodic * self.embedding_dim
        if self.vocab_sizes and self.categorical_widths == "fixed":  # one table, columns at offsets: one gather
            self.embedding = Embedding(sum(self.vocab_sizes), self.embedding_dim, name="embedding", dtype=policy)
            self.embedding.build((None, len(self.vocab_sizes)))
        elif self.vocab_sizes:  # a table per column, each its own width
            self.embeddings = [
                Embedding(v, w, name=f"embedding_{i}", dtype=policy)
                for i, (v, w) in enumerate(zip(self.vocab_sizes, self.widths, strict=True))
            ]
            for table in self.embeddings:
                table.build((None,))
        if self._periodic:
            m, k, e = self.num_numerical, self.periodic_frequencies, self.embedding_dim
            self.frequencies = self.add_weight(
                shape=(m, k),
                initializer=keras.initializers.RandomNormal(stddev=self.periodic_sigma),
                name="frequencies",
            )
            bound = 1.0 / np.sqrt(2 * k)  # a Linear layer's default uniform init over its 2k inputs
            self.periodic_kernel = self.add_weight(
                shape=(m, 2 * k, e), initializer=keras.initializers.RandomUniform(-bound, bound), name="periodic_kernel"
            )
            self.periodic_bias = self.add_weight(shape=(m, e), initializer="zeros", name="periodic_bias")
        if deep_width:
            self.deep = keras.layers.Dense(self.output_dim, name="deep", dtype=policy)
            self.deep.build((None, deep_width))
        if self.num_numerical:
            self.norm = keras.layers.BatchNormalization(name="numerical_norm", dtype=policy)
            self.norm.build((None, self.num_numerical))
            self.wide = keras.layers.Dense(self.output_dim, name="wide", dtype=policy)
            self.wide.build((None, self.num_numerical))
        if self.use_cross:
            width = sum(self.widths) + self.num_numerical
            self.cross = keras.layers.Dense(width, name="cross", dtype=policy)
            self.cross.build((None, width))
            self.cross_out = keras.layers.Dense(self.output_dim, name="cross_output", dtype=policy)
            self.cross_out.build((None, width))

    def _periodic_embeddings(self, normed):
        """<float>[B, M] -> <float>[B, M * embedding_dim]: each numerical's PLR embedding."""
        # Shape: [B, M, k].
        angles = 2 * np.pi * normed[:, :, None] * ops.cast(self.frequencies, normed.dtype)[None]
        # Shape: [B, M, 2k] -> [B, M, e].
        features = ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=-1)
        kernel, bias = ops.cast(self.periodic_kernel, normed.dtype), ops.cast(self.periodic_bias, normed.dtype)
        embedded = ops.relu(ops.einsum("bmk,mke->bme", features, kernel) + bias[None])
        return ops.reshape(embedded, (-1, self.num_numerical * self.embedding_dim))

    def call(self, categorical=None, numerical=None, training=None):
        parts, cross_inputs, deep_inputs = [], [], []
        if self.vocab_sizes:
            if self.categorical_widths == "fixed":
                # Shape: [B, C, e] -> [B, C * e].
                ids = ops.cast(categorical, "int32") + ops.convert_to_tensor(self._offsets)
                embedded = ops.reshape(self.embedding(ids), (-1, len(self.vocab_sizes) * self.embedding_dim))
            else:
                # Shape: C x [B, e_c] -> [B, sum e_c].
                ids = ops.cast(categorical, "int32")
                embedded = ops.concatenate([table(ids[:, i]) for i, table in enumerate(self.embeddings)], axis=-1)
            deep_inputs.append(embedded)
            cross_inputs.append(embedded)
        if self.num_numerical:
            normed = self.norm(ops.cast(numerical, self.compute_dtype), training=training)
            parts.append(leaky_relu(self.wide(normed)))
            cross_inputs.append(normed)
            if self._periodic:
                deep_inputs.append(self._periodic_embeddings(normed))
        if deep_inputs:
            # Shape: [B, (C + M_periodic) * e] -> [B, D].
            deep = deep_inputs[0] if len(deep_inputs) == 1 else ops.concatenate(deep_inputs, axis=-1)
            parts.insert(0, leaky_relu(self.deep(deep)))
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
            numerical_embedding=self.numerical_embedding,
            periodic_frequencies=self.periodic_frequencies,
            periodic_sigma=self.periodic_sigma,
            categorical_widths=self.categorical_widths,
        )
        return config
