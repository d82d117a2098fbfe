"""Item-history encoder: embeddings -> residual parallel Transformer blocks -> mean-max pool -> D."""

from __future__ import annotations

import keras
from keras import ops

from models.embedding import Embedding
from models.parallel_transformer_block import ParallelTransformerBlock
from models.pooling import masked_max, masked_mean
from models.validation import require, require_positive


@keras.saving.register_keras_serializable(package="grec")
class SequenceEncoder(keras.layers.Layer):
    """Encodes a padded list of item ids into one token.

    Args:
        vocab_size: id range; id 0 is padding.
        output_dim: D, width of the output token.
        hidden_dim: width inside the encoder.
        num_blocks: parallel Transformer blocks (residual inside each block).
        num_query_heads: H of the multi-query attention.

    Call args:
        ids: <int>[B, L], 0 for padding.

    Returns:
        <float>[B, D]; an all-padding history gives the projection of zeros.
    """

    def __init__(self, vocab_size, output_dim=256, hidden_dim=64, num_blocks=1, num_query_heads=2, **kwargs):
        super().__init__(**kwargs)
        require_positive(
            vocab_size=vocab_size, output_dim=output_dim, hidden_dim=hidden_dim, num_query_heads=num_query_heads
        )
        require(num_blocks >= 0, "`num_blocks` must be >= 0.", num_blocks=num_blocks)
        require(
            hidden_dim % num_query_heads == 0,
            "`hidden_dim` must be divisible by `num_query_heads`.",
            hidden_dim=hidden_dim,
            num_query_heads=num_query_heads,
        )
        self.vocab_size = vocab_size
        self.output_dim = output_dim
        self.hidden_dim = hidden_dim
        self.num_blocks = num_blocks
        self.num_query_heads = num_query_heads

    def build(self, ids_shape):
        policy = self.dtype_policy
        self.embedding = Embedding(self.vocab_size, self.hidden_dim, name="item_embedding", dtype=policy)
        self.embedding.build(ids_shape)
        hidden_shape = (*ids_shape, self.hidden_dim)
        self.blocks = []
        for i in range(self.num_blocks):
            block = ParallelTransformerBlock(self.num_query_heads, name=f"block_{i}", dtype=policy)
            block.build(hidden_shape)
            self.blocks.append(block)
        self.projection = keras.layers.Dense(self.output_dim, name="projection", dtype=policy)
        self.projection.build((ids_shape[0], 2 * self.hidden_dim))

    def call(self, ids, training=None):
        mask = ops.not_equal(ids, 0)
        # Shape: [B, L, h].
        x = self.embedding(ops.cast(ids, "int32"))
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        # Shape: [B, 2h] -> [B, D].
        pooled = ops.concatenate([masked_mean(x, mask), masked_max(x, mask)], axis=-1)
        return self.projection(pooled)

    def compute_output_shape(self, ids_shape):
        return (ids_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            output_dim=self.output_dim,
            hidden_dim=self.hidden_dim,
            num_blocks=self.num_blocks,
            num_query_heads=self.num_query_heads,
        )
        return config
