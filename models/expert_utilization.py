"""Expert utilisation: the share of routing assignments each expert receives, overall and per task."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="grec")
class ExpertUtilization(keras.metrics.Metric):
    """Counts routing assignments per (task, expert).

    ``result()`` is a dict of scalars that Keras logs every epoch (and the
    TensorBoard callback plots): ``expert_<e>_share`` for each expert and
    ``busiest_expert_share`` (routing collapse shows as a value near 1). The
    per-task table is ``shares_by_task()`` after training.

    Args:
        num_experts: E.
        num_tasks: N main-task ids (0 when the task is unknown).
    """

    def __init__(self, num_experts, num_tasks=0, name="expert_utilization", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_experts = num_experts
        self.num_tasks = num_tasks
        self.counts = self.add_variable(shape=(max(num_tasks, 1), num_experts), initializer="zeros", name="counts")

    def update_state(self, expert_index, task_ids=None, sample_weight=None):
        """Args: expert_index <int>[G, K]; task_ids <int>[G] or None."""
        # Shape: [G, E] assignments per group.
        per_group = ops.sum(ops.one_hot(expert_index, self.num_experts, dtype="float32"), axis=1)
        if task_ids is None or self.num_tasks == 0:
            update = ops.sum(per_group, axis=0, keepdims=True)
            if self.num_tasks > 1:
                update = ops.pad(update, [[0, self.num_tasks - 1], [0, 0]])
        else:
            # Shape: [G, N]^T x [G, E] -> [N, E].
            task_one_hot = ops.one_hot(ops.cast(task_ids, "int32"), self.num_tasks, dtype="float32")
            update = ops.einsum("gn,ge->ne", task_one_hot, per_group)
        self.counts.assign_add(update)

    def result(self):
        totals = ops.sum(self.counts, axis=0)
        shares = totals / ops.maximum(ops.sum(totals), 1.0)
        out = {f"expert_{e}_share": shares[e] for e in range(self.num_experts)}
        out["busiest_expert_share"] = ops.max(shares)
        return out

    def shares_by_task(self) -> np.ndarray:
        """<float>[N, E]: for each task, the share of its assignments per expert (rows sum to 1 or 0)."""
        counts = np.asarray(ops.convert_to_numpy(self.counts))
        return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)

    def reset_state(self):
        self.counts.assign(ops.zeros_like(self.counts))

    def get_config(self):
        return {"name": self.name, "num_experts": self.num_experts, "num_tasks": self.num_tasks}
