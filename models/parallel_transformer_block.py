"""Parallel Transformer block (GPT-J / PaLM): ``y = x + Attn(LN x) + SwiGLU(LN x)``."""

from __future__ import annotations

import keras
from keras import ops

from models.multi_query_attention import MultiQueryAttention
from models.validation import require, require_positive


@keras.saving.register_keras_serializable(package="grec")
class ParallelTransformerBlock(keras.layers.Layer):
    """Attention and MLP read the same normalised input; both add to the residual.

    Args:
        num_query_heads: H query heads of the multi-query attention.
        mlp_hidden_dim: hidden width of the SwiGLU MLP; default 4 * D * 2 / 3
            (rounded), the PaLM choice that keeps parameters equal to a 4x MLP.
        use_rotary: rotary positions in the attention.
        dropout: dropout on both branches.
        epsilon: layer-norm epsilon.

    Call args:
        inputs: <float>[B, T, D].
        padding_mask: optional <bool>[B, T].

    Returns:
        <float>[B, T, D].
    """

    def __init__(self, num_query_heads, mlp_hidden_dim=None, use_rotary=True, dropout=0.0, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        require_positive(num_query_heads=num_query_heads)
        if mlp_hidden_dim is not None:
            require_positive(mlp_hidden_dim=mlp_hidden_dim)
        require(0.0 <= dropout < 1.0, "`dropout` must be in [0, 1).", dropout=dropout)
        self.num_query_heads = num_query_heads
        self.mlp_hidden_dim = mlp_hidden_dim
        self.use_rotary = use_rotary
        self.dropout = dropout
        self.epsilon = epsilon

    def build(self, input_shape):
        dim = input_shape[-1]
        hidden = self.mlp_hidden_dim or int(round(dim * 8 / 3))
        self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm", dtype=self.dtype_policy)
        self.attention = MultiQueryAttention(
            self.num_query_heads,
            use_rotary=self.use_rotary,
            dropout=self.dropout,
            name="attention",
            dtype=self.dtype_policy,
        )
        # SwiGLU: (silu(x W_gate) * (x W_up)) W_down.
        self.gate = keras.layers.Dense(hidden, use_bias=False, name="mlp_gate", dtype=self.dtype_policy)
        self.up = keras.layers.Dense(hidden, use_bias=False, name="mlp_up", dtype=self.dtype_policy)
        self.down = keras.layers.Dense(dim, use_bias=False, name="mlp_down", dtype=self.dtype_policy)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.norm.build(input_shape)
        self.attention.build(input_shape)
        self.gate.build(input_shape)
        self.up.build(input_shape)
        self.down.build((*input_shape[:-1], hidden))

    def call(self, inputs, padding_mask=None, training=None):
        normed = self.norm(inputs)
        attended = self.attention(normed, padding_mask=padding_mask, training=training)
        mlp = self.down(ops.silu(self.gate(normed)) * self.up(normed))
        return inputs + self.dropout_layer(attended, training=training) + self.dropout_layer(mlp, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_query_heads=self.num_query_heads,
            mlp_hidden_dim=self.mlp_hidden_dim,
            use_rotary=self.use_rotary,
            dropout=self.dropout,
            epsilon=self.epsilon,
        )
        return config
