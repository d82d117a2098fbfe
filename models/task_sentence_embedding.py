"""Task-sentence embedding: one table per task-descriptor column, main task first."""

from __future__ import annotations

import keras
from keras import ops

from models.embedding import Embedding
from models.validation import require, require_positive


@keras.saving.register_keras_serializable(package="grec")
class TaskSentenceEmbedding(keras.layers.Layer):
    """Embeds the task sentence (main task id, auxiliary descriptor ids).

    Args:
        vocab_sizes: list of ints, the id range of each descriptor column; the
            first is the main task.
        output_dim: D.

    Call args:
        ids: <int>[B, S] descriptor ids, column s in [0, vocab_sizes[s]).

    Returns:
        <float>[B, S, D], the task sentence. Its mean over S is GRec's routing state.
    """

    def __init__(self, vocab_sizes, output_dim=256, **kwargs):
        super().__init__(**kwargs)
        vocab_sizes = [int(v) for v in vocab_sizes]
        require(
            len(vocab_sizes) > 0,
            "The task list must not be empty: give at least the main task's vocabulary size.",
            vocab_sizes=vocab_sizes,
        )
        for size in vocab_sizes:
            require_positive(vocab_size=size)
        require_positive(output_dim=output_dim)
        self.vocab_sizes = vocab_sizes
        self.output_dim = output_dim

    def build(self, ids_shape=None):
        self.tables = []
        for i, size in enumerate(self.vocab_sizes):
            table = Embedding(size, self.output_dim, name=f"descriptor_{i}", dtype=self.dtype_policy)
            table.build((None,))
            self.tables.append(table)

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        # Shape: S x [B, D] -> [B, S, D].
        return ops.stack([table(ids[:, i]) for i, table in enumerate(self.tables)], axis=1)

    def compute_output_shape(self, ids_shape):
        return (ids_shape[0], len(self.vocab_sizes), self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_sizes=self.vocab_sizes, output_dim=self.output_dim)
        return config
