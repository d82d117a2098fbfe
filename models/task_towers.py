"""Towers selected by the main task: a shared layer, then the example's own task head."""

from __future__ import annotations

import keras
from keras import ops

from models.activation import leaky_relu
from models.validation import require_positive


@keras.saving.register_keras_serializable(package="grec")
class TaskTowers(keras.layers.Layer):
    """``p = sigmoid(head_n(LeakyReLU(W x)))`` with head n chosen by the main-task id.

    Each task's head weights are gathered per example, so the cost per
    example does not grow with the number of tasks N.

    Args:
        num_tasks: N main-task ids.
        hidden_dim: width of the shared layer.
        tower_dim: width of each task head's hidden layer.

    Call args:
        inputs: <float>[B, F_in].
        task_ids: <int>[B] in [0, N).
        logits: return the head's output before the sigmoid (the model maps a regression task's to a value).

    Returns:
        <float32>[B] probability of each example's main task (its logit with ``logits``).
    """

    def __init__(self, num_tasks, hidden_dim=128, tower_dim=64, **kwargs):
        super().__init__(**kwargs)
        require_positive(num_tasks=num_tasks, hidden_dim=hidden_dim, tower_dim=tower_dim)
        self.num_tasks = num_tasks
        self.hidden_dim = hidden_dim
        self.tower_dim = tower_dim

    def build(self, inputs_shape, task_ids_shape=None):
        self.shared = keras.layers.Dense(self.hidden_dim, name="shared", dtype=self.dtype_policy)
        self.shared.build(inputs_shape)
        n, h, t = self.num_tasks, self.hidden_dim, self.tower_dim
        self.w1 = self.add_weight(name="tower_w1", shape=(n, h, t), initializer="glorot_uniform")
        self.b1 = self.add_weight(name="tower_b1", shape=(n, t), initializer="zeros")
        self.w2 = self.add_weight(name="tower_w2", shape=(n, t), initializer="glorot_uniform")
        self.b2 = self.add_weight(name="tower_b2", shape=(n,), initializer="zeros")

    def call(self, inputs, task_ids, logits=False):
        task_ids = ops.cast(task_ids, "int32")
        shared = leaky_relu(self.shared(inputs))
        # Shape: [B, h] x [B, h, t] -> [B, t].
        hidden = ops.einsum("bh,bht->bt", shared, ops.take(self.w1, task_ids, axis=0)) + ops.take(
            self.b1, task_ids, axis=0
        )
        hidden = leaky_relu(hidden)
        # Shape: [B].
        logit = ops.sum(hidden * ops.take(self.w2, task_ids, axis=0), axis=-1) + ops.take(self.b2, task_ids, axis=0)
        logit = ops.cast(logit, "float32")
        return logit if logits else ops.sigmoid(logit)

    def compute_output_shape(self, inputs_shape, task_ids_shape=None):
        return (inputs_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update(num_tasks=self.num_tasks, hidden_dim=self.hidden_dim, tower_dim=self.tower_dim)
        return config
