"""PLE baseline (Tang et al., RecSys 2020): shared and task-specific experts, progressive extraction."""

from __future__ import annotations

import keras

from models.flat_baseline import FlatBaseline
from models.gated_experts import GatedExperts


@keras.saving.register_keras_serializable(package="grec")
class PLE(FlatBaseline):
    """Shared encoders -> ``num_levels`` extraction layers (CGC) -> task tower.

    Each level mixes shared experts and the example's task's own experts with
    the task's gate; the next level reads the previous level's mixture. (The
    paper's separate shared-expert gate between levels is folded into the
    task gate here, since each example carries one task.)

    Args:
        num_shared_experts: shared experts per level.
        num_task_experts: experts per task per level.
        num_levels: extraction levels.
        (others: see ``FlatBaseline``)
    """

    CONFIG_KEYS = (*FlatBaseline.CONFIG_KEYS, "num_shared_experts", "num_task_experts", "num_levels")

    def __init__(self, input_config, num_shared_experts=4, num_task_experts=2, num_levels=2, **kwargs):
        super().__init__(input_config, **kwargs)
        self.num_shared_experts = num_shared_experts
        self.num_task_experts = num_task_experts
        self.num_levels = num_levels
        self.levels = [
            GatedExperts(self.num_tasks, num_shared_experts, num_task_experts, self.expert_dim, name=f"cgc_{i}")
            for i in range(num_levels)
        ]

    def flat_body(self, flat, task_ids, training=None):
        x = flat
        for level in self.levels:
            x = level(x, task_ids)
        return x
