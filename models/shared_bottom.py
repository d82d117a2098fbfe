"""Shared-Bottom baseline (Caruana 1997): one shared MLP, one tower per task."""

from __future__ import annotations

import keras

from models.flat_baseline import FlatBaseline, mlp


@keras.saving.register_keras_serializable(package="grec")
class SharedBottom(FlatBaseline):
    """Shared encoders -> shared bottom MLP -> tower of the example's main task.

    Args:
        hidden_layers: number of Dense + LeakyReLU layers of width ``expert_dim``.
        (others: see ``FlatBaseline``)
    """

    CONFIG_KEYS = (*FlatBaseline.CONFIG_KEYS, "hidden_layers")

    def __init__(self, input_config, hidden_layers=2, **kwargs):
        super().__init__(input_config, **kwargs)
        self.hidden_layers = hidden_layers
        self.bottom = mlp([self.expert_dim] * hidden_layers, name="bottom")

    def flat_body(self, flat, task_ids, training=None):
        return self.bottom(flat, training=training)
