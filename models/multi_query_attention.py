"""Multi-query attention: H query heads share one key head and one value head.

Written here rather than taken from ``keras.layers.GroupQueryAttention`` (which
with one key/value head is the same projection layout) because rotary position
embeddings must be applied between the projections and the score product, and
that layer exposes no hook there. Rotary embeddings come from keras-hub.
"""

from __future__ import annotations

import math

import keras
import keras_hub
from keras import ops

from models.validation import require_positive


@keras.saving.register_keras_serializable(package="grec")
class MultiQueryAttention(keras.layers.Layer):
    """Self-attention with H query heads and a single shared key/value head.

    Args:
        num_query_heads: H, number of query heads.
        key_dim: width of each head; default D // H.
        use_rotary: apply rotary position embeddings to queries and keys.
        dropout: dropout rate on attention probabilities.

    Call args:
        inputs: <float>[B, T, D].
        padding_mask: optional <bool>[B, T], True for real tokens.

    Returns:
        <float>[B, T, D].
    """

    def __init__(self, num_query_heads, key_dim=None, use_rotary=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        require_positive(num_query_heads=num_query_heads)
        if key_dim is not None:
            require_positive(key_dim=key_dim)
        self.num_query_heads = num_query_heads
        self.key_dim = key_dim
        self.use_rotary = use_rotary
        self.dropout = dropout

    def build(self, input_shape):
        dim = input_shape[-1]
        key_dim = self.key_dim or dim // self.num_query_heads
        if self.key_dim is None and dim % self.num_query_heads:
            raise ValueError(
                "The input width must be divisible by `num_query_heads` when `key_dim` is not given. "
                f"Received: `width={dim}`, `num_query_heads={self.num_query_heads}`"
            )
        self._head_dim = key_dim
        heads = self.num_query_heads
        self.query_dense = keras.layers.EinsumDense(
            "btd,dhk->bthk", (None, heads, key_dim), bias_axes="hk", name="query"
        )
        self.key_dense = keras.layers.EinsumDense(
            "btd,dk->btk", (None, key_dim), bias_axes="k", name="key", dtype=self.dtype_policy
        )
        self.value_dense = keras.layers.EinsumDense(
            "btd,dk->btk", (None, key_dim), bias_axes="k", name="value", dtype=self.dtype_policy
        )
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd", (None, dim), bias_axes="d", name="attention_output"
        )
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(input_shape)
        self.output_dense.build((input_shape[0], input_shape[1], heads, key_dim))
        self.rotary = keras_hub.layers.RotaryEmbedding(dtype=self.dtype_policy) if self.use_rotary else None
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def call(self, inputs, padding_mask=None, training=None):
        # Shape: [B, T, H, k] queries; [B, T, k] the one key and value head.
        query = self.query_dense(inputs)
        key = self.key_dense(inputs)
        value = self.value_dense(inputs)
        if self.rotary is not None:
            query, key = self.rotary(query), self.rotary(key)
        # Shape: [B, H, T, S] scores.
        scores = ops.einsum("bthk,bsk->bhts", query, key) / ops.cast(math.sqrt(self._head_dim), query.dtype)
        if padding_mask is not None:
            # Shape: [B, 1, 1, S]; padded keys get a large negative score.
            allowed = ops.expand_dims(ops.expand_dims(ops.cast(padding_mask, "bool"), 1), 1)
            scores = ops.where(allowed, scores, ops.cast(-1e4 if scores.dtype == "float16" else -1e9, scores.dtype))
        probs = self.dropout_layer(ops.softmax(ops.cast(scores, "float32"), axis=-1), training=training)
        # Shape: [B, T, H, k].
        context = ops.einsum("bhts,bsk->bthk", ops.cast(probs, value.dtype), value)
        return self.output_dense(context)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_query_heads=self.num_query_heads, key_dim=self.key_dim, use_rotary=self.use_rotary, dropout=self.dropout
        )
        return config
