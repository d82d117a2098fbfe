"""DCN-V2 baseline (Wang et al., WWW 2021): a cross network, then a deep network, shared by every task."""

from __future__ import annotations

import keras

from models.flat_baseline import FlatBaseline, mlp


@keras.saving.register_keras_serializable(package="grec")
class DCNv2(FlatBaseline):
    """Shared encoders -> ``num_cross`` cross layers -> MLP -> tower of the example's main task.

    A cross layer ``x_{l+1} = x_0 * (U_l (V_l x_l) + b_l) + x_l`` learns explicit
    feature crosses of bounded degree; its matrix is low-rank (rank ``cross_rank``),
    the paper's cost-saving form. The stacked variant: the crosses feed the deep part.

    Args:
        num_cross: cross layers.
        cross_rank: rank of each cross layer's matrix.
        hidden_layers: Dense + LeakyReLU layers of width ``expert_dim`` after the crosses.
        (others: see ``FlatBaseline``)
    """

    CONFIG_KEYS = (*FlatBaseline.CONFIG_KEYS, "num_cross", "cross_rank", "hidden_layers")

    def __init__(self, input_config, num_cross=2, cross_rank=64, hidden_layers=2, **kwargs):
        super().__init__(input_config, **kwargs)
        self.num_cross, self.cross_rank, self.hidden_layers = num_cross, cross_rank, hidden_layers
        width = self.num_tokens * self.dim
        self.crosses = [
            keras.Sequential(
                [keras.layers.Dense(cross_rank, use_bias=False), keras.layers.Dense(width)], name=f"cross_{i}"
            )
            for i in range(num_cross)
        ]
        self.deep = mlp([self.expert_dim] * hidden_layers, name="deep")

    def flat_body(self, flat, task_ids, training=None):
        x = flat
        for cross in self.crosses:
            x = flat * cross(x) + x
        return self.deep(x, training=training)
