"""Base of the classic multi-task baselines: shared input encoders -> flattened tokens -> body -> towers."""

from __future__ import annotations

import keras
from keras import ops

from models.activation import leaky_relu
from models.input_config import InputConfig
from models.input_encoder import InputEncoder
from models.multitask_model import MultiTaskModel
from models.task_towers import TaskTowers
from models.validation import require_positive


def mlp(widths, name, dtype=None):
    """Dense + LeakyReLU(0.2) layers, a small helper of the baselines."""
    return keras.Sequential(
        [keras.layers.Dense(w, activation=leaky_relu, dtype=dtype) for w in widths],
        name=name,
    )


class FlatBaseline(MultiTaskModel):
    """Shared wiring of Single-task, Shared-Bottom, MMoE and PLE.

    The same ``InputEncoder`` as GRec builds the token stack; the baseline
    flattens it to <float>[B, T*D] and its ``body`` maps that to
    <float>[B, expert_dim] before the towers selected by the main task.

    Args:
        input_config: ``InputConfig`` dict.
        dim: D of the input tokens.
        expert_dim: width of the body's output.
        tower_hidden_dim, tower_dim: tower sizes (as GRec's).
        embedding_dim, use_cross, text_preset, encoder_options: as GRec's.
    """

    def __init__(
        self,
        input_config,
        dim=256,
        expert_dim=256,
        tower_hidden_dim=128,
        tower_dim=64,
        embedding_dim=16,
        use_cross=False,
        text_preset=None,
        encoder_options=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_positive(dim=dim, expert_dim=expert_dim)
        config = InputConfig.from_dict(dict(input_config))
        self.input_config = config.to_dict()
        self.dim = dim
        self.expert_dim = expert_dim
        self.tower_hidden_dim = tower_hidden_dim
        self.tower_dim = tower_dim
        self.embedding_dim = embedding_dim
        self.use_cross = use_cross
        self.text_preset = text_preset
        self.encoder_options = dict(encoder_options or {})
        self.encoder = InputEncoder(self.input_config, dim, embedding_dim, use_cross, text_preset=text_preset,
                                    name="input_encoder", **self.encoder_options)  # fmt: skip
        self.towers = TaskTowers(config.num_tasks, tower_hidden_dim, tower_dim, name="towers")

    @property
    def num_tasks(self):
        return InputConfig.from_dict(self.input_config).num_tasks

    def body(self, flat, task_ids, training=None):
        raise NotImplementedError

    def call(self, features, training=None):
        tokens, _, task_ids = self.encoder(features, training=training)
        # Shape: [B, T, D] -> [B, T * D].
        flat = ops.reshape(tokens, (-1, tokens.shape[1] * tokens.shape[2]))
        return self.towers(self.body(flat, task_ids, training=training), task_ids)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_config=self.input_config,
            dim=self.dim,
            expert_dim=self.expert_dim,
            tower_hidden_dim=self.tower_hidden_dim,
            tower_dim=self.tower_dim,
            embedding_dim=self.embedding_dim,
            use_cross=self.use_cross,
            text_preset=self.text_preset,
            encoder_options=self.encoder_options,
        )
        return config
