"""Shared input encoders: every modality of an example becomes a token of width D."""

from __future__ import annotations

import keras
from keras import ops

from models.input_config import InputConfig
from models.sequence_encoder import SequenceEncoder
from models.task_sentence_embedding import TaskSentenceEmbedding
from models.text_encoder import TextEncoder
from models.validation import require_positive
from models.wide_deep_head import WideDeepHead


def _layer_name(kind: str, index: int) -> str:
    return kind if index == 0 else f"{kind}_{index}"


@keras.saving.register_keras_serializable(package="grec")
class InputEncoder(keras.layers.Layer):
    """Encodes transformed features into the token stack, for GRec and every baseline.

    Tokens, in order: the wide & deep context token, then (when the input
    config declares them) one token per text column, one per history column
    and the image token, then the S task-sentence tokens (main task first).
    Each text (history) column has its own encoder: its token ids come from
    its own Transform vocabulary, so no table could be shared between columns.

    Args:
        input_config: an ``InputConfig`` dict (``InputConfig.to_dict()``).
        dim: D.
        embedding_dim: width of each categorical embedding.
        use_cross: cross features in the wide & deep head.
        text_hidden_dim, text_layers, text_heads: from-scratch text encoder size.
        text_preset: local keras-hub preset directory for the text encoder.
        history_hidden_dim, history_blocks, history_heads: history encoder size.
        numerical_embedding, periodic_frequencies, periodic_sigma, categorical_widths: see ``WideDeepHead``.

    Call args:
        features: dict of transformed features (see ``models/input_config.py``).

    Returns:
        (tokens <float>[B, T, D], task_sentence <float>[B, S, D], task_ids <int32>[B]).
    """

    def __init__(
        self,
        input_config,
        dim=256,
        embedding_dim=16,
        use_cross=False,
        text_hidden_dim=64,
        text_layers=1,
        text_heads=2,
        text_preset=None,
        history_hidden_dim=64,
        history_blocks=1,
        history_heads=2,
        numerical_embedding=None,
        periodic_frequencies=16,
        periodic_sigma=0.1,
        categorical_widths="fixed",
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_positive(dim=dim, embedding_dim=embedding_dim)
        config = self.config = InputConfig.from_dict(dict(input_config))
        self.input_config = config.to_dict()
        self.dim = dim
        self.embedding_dim = embedding_dim
        self.use_cross = use_cross
        self.text_hidden_dim = text_hidden_dim
        self.text_layers = text_layers
        self.text_heads = text_heads
        self.text_preset = text_preset
        self.history_hidden_dim = history_hidden_dim
        self.history_blocks = history_blocks
        self.history_heads = history_heads
        self.numerical_embedding = numerical_embedding
        self.periodic_frequencies = periodic_frequencies
        self.periodic_sigma = periodic_sigma
        self.categorical_widths = categorical_widths
        policy = self.dtype_policy
        self.context = WideDeepHead(
            [size for _, size in config.categorical],
            len(config.numerical),
            embedding_dim,
            dim,
            use_cross,
            numerical_embedding=numerical_embedding,
            periodic_frequencies=periodic_frequencies,
            periodic_sigma=periodic_sigma,
            categorical_widths=categorical_widths,
            name="context",
            dtype=policy,
        )
        self.task_sentence = TaskSentenceEmbedding(
            [size for _, size in config.task_columns], dim, name="task_sentence", dtype=policy
        )
        # The first column's layer keeps the name a one-column model had ("text", "history").
        self.texts = [
            TextEncoder(
                vocab,
                max_tokens,
                dim,
                text_hidden_dim,
                text_layers,
                text_heads,
                intermediate_dim=2 * text_hidden_dim,
                preset=text_preset,
                name=_layer_name("text", i),
                dtype=policy,
            )
            for i, (_, vocab, max_tokens) in enumerate(config.text)
        ]
        self.histories = [
            SequenceEncoder(
                vocab,
                dim,
                history_hidden_dim,
                history_blocks,
                history_heads,
                name=_layer_name("history", i),
                dtype=policy,
            )
            for i, (_, vocab, _) in enumerate(config.history)
        ]
        self.image = keras.layers.Dense(dim, name="image", dtype=policy) if config.image else None

    def call(self, features, training=None):
        config = self.config
        categorical = None
        if config.categorical:
            categorical = ops.stack([ops.cast(features[n], "int32") for n, _ in config.categorical], axis=1)
        numerical = None
        if config.numerical:
            numerical = ops.stack([ops.cast(features[n], self.compute_dtype) for n in config.numerical], axis=1)
        tokens = [self.context(categorical, numerical, training=training)]
        for encoder, (name, _, _) in zip(self.texts, config.text, strict=True):
            tokens.append(encoder(features[name], training=training))
        for encoder, (name, _, _) in zip(self.histories, config.history, strict=True):
            tokens.append(encoder(features[name], training=training))
        if self.image is not None:
            tokens.append(self.image(ops.cast(features[config.image[0]], self.compute_dtype)))
        # Shape: [B, S] descriptor ids -> [B, S, D].
        task_ids = ops.stack([ops.cast(features[n], "int32") for n, _ in config.task_columns], axis=1)
        sentence = self.task_sentence(task_ids)
        # Shape: [B, T, D] with T = context + modalities + S.
        stacked = ops.concatenate([ops.stack(tokens, axis=1), ops.cast(sentence, self.compute_dtype)], axis=1)
        return stacked, sentence, task_ids[:, 0]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_config=self.input_config,
            dim=self.dim,
            embedding_dim=self.embedding_dim,
            use_cross=self.use_cross,
            text_hidden_dim=self.text_hidden_dim,
            text_layers=self.text_layers,
            text_heads=self.text_heads,
            text_preset=self.text_preset,
            history_hidden_dim=self.history_hidden_dim,
            history_blocks=self.history_blocks,
            history_heads=self.history_heads,
            numerical_embedding=self.numerical_embedding,
            periodic_frequencies=self.periodic_frequencies,
            periodic_sigma=self.periodic_sigma,
            categorical_widths=self.categorical_widths,
        )
        return config
