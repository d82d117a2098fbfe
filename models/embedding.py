"""The embedding table every id column of the models looks up: Keras' ``Embedding`` that reads only its rows.

Keras 3's ``Embedding`` (3.12 here) reads the whole table as a tensor and gathers from it. Once a table has
been updated sparsely (``models.lazy_adam``'s row updates), TensorFlow keeps the variable in copy-on-read
mode, so that whole-table read copies every row, every step: 7-14 ms a step at 1-2 million rows on this
machine, which was all that was left of the optimizer's cost per row (results/embedding_tables.md). Gathering
from the variable itself (``ResourceGather``) reads the looked-up rows only. Same values, same sparse
gradient; other backends, LoRA and quantized tables take Keras' path unchanged.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="grec")
class Embedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` whose TensorFlow lookup gathers from the variable (its rows only)."""

    def call(self, inputs):
        if keras.backend.backend() != "tensorflow" or self.lora_enabled or self.quantization_mode:
            return super().call(inputs)
        import tensorflow as tf

        table = self._embeddings.value  # the tf.Variable (Embedding sets autocast off: never a cast copy)
        if not isinstance(table, tf.Variable) or isinstance(inputs, (tf.SparseTensor, tf.RaggedTensor)):
            return super().call(inputs)
        ids = inputs if inputs.dtype in (tf.int32, tf.int64) else tf.cast(inputs, tf.int32)
        ids = tf.where(ids < 0, ids + tf.cast(self.input_dim, ids.dtype), ids)  # as ops.take: -1 is the last row
        return ops.cast(tf.gather(table, ids), dtype=self.compute_dtype)
