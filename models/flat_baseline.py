"""Base of the classic multi-task baselines: shared input encoders -> flattened tokens -> body -> towers."""

from __future__ import annotations

import keras
from keras import ops

from models.activation import leaky_relu
from models.multitask_model import MultiTaskModel
from models.validation import require_positive


def mlp(widths, name, dtype=None):
    """Dense + LeakyReLU(0.2) layers, a small helper of the baselines."""
    return keras.Sequential(
        [keras.layers.Dense(w, activation=leaky_relu, dtype=dtype) for w in widths],
        name=name,
    )


class FlatBaseline(MultiTaskModel):
    """Shared wiring of Single-task, Shared-Bottom, MMoE, PLE and DCN-V2.

    The same skeleton as GRec (``MultiTaskModel``); the baseline flattens the
    token stack to <float>[B, T*D] and its ``flat_body`` maps that to
    <float>[B, expert_dim] before the towers selected by the main task.

    Args:
        expert_dim: width of the body's output.
        (others: see ``MultiTaskModel``)
    """

    FAMILY = "flat"

    CONFIG_KEYS = ("expert_dim",)

    def __init__(self, input_config, expert_dim=256, **kwargs):
        super().__init__(input_config, **kwargs)
        require_positive(expert_dim=expert_dim)
        self.expert_dim = expert_dim

    def flat_body(self, flat, task_ids, training=None):
        raise NotImplementedError

    def body(self, tokens, sentence, task_ids, training=None):
        # Shape: [B, T, D] -> [B, T * D].
        flat = ops.reshape(tokens, (-1, tokens.shape[1] * tokens.shape[2]))
        return self.flat_body(flat, task_ids, training=training)
