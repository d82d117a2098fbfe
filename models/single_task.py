"""Single-task baseline: one model per task (the harness trains one per task on its own examples)."""

from __future__ import annotations

import keras

from models.flat_baseline import FlatBaseline, mlp


@keras.saving.register_keras_serializable(package="grec")
class SingleTask(FlatBaseline):
    """Shared encoders -> MLP -> tower. Nothing is shared across tasks at training time,
    because the harness gives each task its own model; the tower index is then constant.

    Args:
        hidden_layers: number of Dense + LeakyReLU layers of width ``expert_dim``.
        (others: see ``FlatBaseline``)
    """

    def __init__(self, input_config, hidden_layers=2, **kwargs):
        super().__init__(input_config, **kwargs)
        self.hidden_layers = hidden_layers
        self.trunk = mlp([self.expert_dim] * hidden_layers, name="trunk")

    def body(self, flat, task_ids, training=None):
        return self.trunk(flat, training=training)

    def get_config(self):
        return {**super().get_config(), "hidden_layers": self.hidden_layers}
