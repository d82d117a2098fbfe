"""MMoE baseline (Ma et al., KDD 2018): shared experts, one softmax gate per task."""

from __future__ import annotations

import keras

from models.flat_baseline import FlatBaseline
from models.gated_experts import GatedExperts


@keras.saving.register_keras_serializable(package="grec")
class MMoE(FlatBaseline):
    """Shared encoders -> E dense experts mixed by the example's task gate -> task tower.

    Args:
        num_experts: E shared experts (every one runs on every example).
        (others: see ``FlatBaseline``)
    """

    CONFIG_KEYS = (*FlatBaseline.CONFIG_KEYS, "num_experts")

    def __init__(self, input_config, num_experts=8, **kwargs):
        super().__init__(input_config, **kwargs)
        self.num_experts = num_experts
        self.mixture = GatedExperts(self.num_tasks, num_experts, 0, self.expert_dim, name="mmoe")

    def flat_body(self, flat, task_ids, training=None):
        return self.mixture(flat, task_ids)
