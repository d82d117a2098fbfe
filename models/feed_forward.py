"""The feed-forward layer of dense GRec: one always-on expert in place of the MoE layer."""

from __future__ import annotations

import keras

from models.activation import leaky_relu
from models.validation import require_positive


@keras.saving.register_keras_serializable(package="grec")
class FeedForward(keras.layers.Layer):
    """``y = x + Linear(LeakyReLU(Linear(RMSNorm x)))``: an expert of ``models/dispatch.py``, run on every token.

    Args:
        hidden_dim: width of the hidden layer (dense GRec: K * F, as wide as the K experts GRec activates).

    Call args:
        tokens: <float>[B, T, D].

    Returns:
        <float>[B, T, D].
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        require_positive(hidden_dim=hidden_dim)
        self.hidden_dim = hidden_dim

    def build(self, tokens_shape):
        self.norm = keras.layers.RMSNormalization(name="norm", dtype=self.dtype_policy)
        self.norm.build(tokens_shape)
        self.inner = keras.layers.Dense(self.hidden_dim, activation=leaky_relu, name="inner", dtype=self.dtype_policy)
        self.inner.build(tokens_shape)
        self.outer = keras.layers.Dense(tokens_shape[-1], name="outer", dtype=self.dtype_policy)
        self.outer.build((*tokens_shape[:-1], self.hidden_dim))

    def call(self, tokens):
        return tokens + self.outer(self.inner(self.norm(tokens)))

    def compute_output_shape(self, tokens_shape):
        return tokens_shape

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}
