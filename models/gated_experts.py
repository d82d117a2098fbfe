"""Dense experts mixed by per-task softmax gates: the building block of MMoE and PLE."""

from __future__ import annotations

import keras
from keras import ops

from models.activation import leaky_relu
from models.validation import require_positive


@keras.saving.register_keras_serializable(package="grec")
class GatedExperts(keras.layers.Layer):
    """Shared experts plus optional task-specific experts, mixed by the example's task gate.

    MMoE (Ma et al. 2018): ``num_task_experts=0``; every task has a softmax gate
    over the shared experts. PLE's extraction layer (CGC, Tang et al. 2020):
    each task also owns ``num_task_experts`` experts, and its gate mixes the
    shared ones with its own. Each row is one (context, task) example, so only
    that task's gate and own experts run on it: their weights are gathered by
    the row's task id (``ops.take``), and a row costs the same whatever the
    number of tasks N (no [B, N, ...] tensor is built). Every shared expert runs
    on every row, which is the cost profile of these models.

    Args:
        num_tasks: N.
        num_shared_experts: experts shared by all tasks.
        num_task_experts: experts owned by each task (0 for MMoE).
        expert_dim: output width of each expert (one Dense + LeakyReLU).

    Call args:
        inputs: <float>[B, F_in]; task_ids: <int>[B].

    Returns:
        <float>[B, expert_dim].
    """

    def __init__(self, num_tasks, num_shared_experts=8, num_task_experts=0, expert_dim=256, **kwargs):
        super().__init__(**kwargs)
        require_positive(num_tasks=num_tasks, num_shared_experts=num_shared_experts, expert_dim=expert_dim)
        self.num_tasks = num_tasks
        self.num_shared_experts = num_shared_experts
        self.num_task_experts = num_task_experts
        self.expert_dim = expert_dim

    def build(self, inputs_shape, task_ids_shape=None):
        width = inputs_shape[-1]
        n, es, et, h = self.num_tasks, self.num_shared_experts, self.num_task_experts, self.expert_dim
        self.shared_w = self.add_weight(name="shared_w", shape=(es, width, h), initializer="glorot_uniform")
        self.shared_b = self.add_weight(name="shared_b", shape=(es, h), initializer="zeros")
        if et:
            self.task_w = self.add_weight(name="task_w", shape=(n, et, width, h), initializer="glorot_uniform")
            self.task_b = self.add_weight(name="task_b", shape=(n, et, h), initializer="zeros")
        self.gate_w = self.add_weight(name="gate_w", shape=(width, n, es + et), initializer="glorot_uniform")
        self.gate_b = self.add_weight(name="gate_b", shape=(n, es + et), initializer="zeros")

    def call(self, inputs, task_ids):
        task_ids = ops.cast(task_ids, "int32")
        # Shape: [B, F_in] x [Es, F_in, h] -> [B, Es, h].
        experts = leaky_relu(ops.einsum("bi,eih->beh", inputs, self.shared_w) + self.shared_b)
        if self.num_task_experts:
            # The row's task's own experts only: [B, Et, F_in, h] weights -> [B, Et, h].
            own_w, own_b = ops.take(self.task_w, task_ids, axis=0), ops.take(self.task_b, task_ids, axis=0)
            own = leaky_relu(ops.einsum("bi,bmih->bmh", inputs, own_w) + own_b)
            experts = ops.concatenate([experts, own], axis=1)
        # The row's task's gate only: [F_in, B, Es + Et] weights -> [B, Es + Et].
        gate_w, gate_b = ops.take(self.gate_w, task_ids, axis=1), ops.take(self.gate_b, task_ids, axis=0)
        gates = ops.softmax(ops.einsum("bi,ibe->be", inputs, gate_w) + gate_b, axis=-1)
        return ops.einsum("beh,be->bh", experts, gates)

    def compute_output_shape(self, inputs_shape, task_ids_shape=None):
        return (inputs_shape[0], self.expert_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_tasks=self.num_tasks,
            num_shared_experts=self.num_shared_experts,
            num_task_experts=self.num_task_experts,
            expert_dim=self.expert_dim,
        )
        return config
