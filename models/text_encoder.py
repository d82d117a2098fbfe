"""NLP head: keras-hub Transformer encoder over token ids, masked mean pooling, projection to D.

From scratch (the default): ``TokenAndPositionEmbedding`` and
``TransformerEncoder`` layers from keras-hub (keras-nlp). Pretrained: any
keras-hub text backbone whose inputs are ``token_ids`` and ``padding_mask``
(BERT, DistilBERT, RoBERTa...) loaded with ``Backbone.from_preset(path)`` from
a local preset directory; nothing is downloaded at run time. With a preset,
token ids must come from that preset's tokenizer.
"""

from __future__ import annotations

import keras
import keras_hub
from keras import ops

from models.pooling import masked_mean
from models.validation import require_positive


@keras.saving.register_keras_serializable(package="grec")
class TextEncoder(keras.layers.Layer):
    """Encodes padded token ids into one token of width D.

    Args:
        vocab_size: token id range; id 0 is padding.
        max_tokens: maximum sequence length.
        output_dim: D.
        hidden_dim: encoder width (from scratch).
        num_layers: Transformer encoder layers (from scratch).
        num_heads: attention heads (from scratch).
        intermediate_dim: feed-forward width (from scratch).
        preset: local keras-hub preset directory; when given, its backbone
            replaces the from-scratch encoder (and the five arguments above).
        trainable_backbone: fine-tune the preset backbone.

    Call args:
        token_ids: <int>[B, max_tokens], 0 for padding.

    Returns:
        <float>[B, D].
    """

    def __init__(
        self,
        vocab_size,
        max_tokens,
        output_dim=256,
        hidden_dim=64,
        num_layers=1,
        num_heads=2,
        intermediate_dim=128,
        preset=None,
        trainable_backbone=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_positive(
            vocab_size=vocab_size,
            max_tokens=max_tokens,
            output_dim=output_dim,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
        )
        self.vocab_size = vocab_size
        self.max_tokens = max_tokens
        self.output_dim = output_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.preset = preset
        self.trainable_backbone = trainable_backbone

    def build(self, token_ids_shape):
        policy = self.dtype_policy
        if self.preset:
            self.backbone = keras_hub.models.Backbone.from_preset(self.preset)
            self.backbone.trainable = self.trainable_backbone
            width = self.backbone.hidden_dim
        else:
            self.backbone = None
            self.embedding = keras_hub.layers.TokenAndPositionEmbedding(
                self.vocab_size, self.max_tokens, self.hidden_dim, name="token_embedding", dtype=policy
            )
            self.embedding.build(token_ids_shape)
            self.encoders = []
            for i in range(self.num_layers):
                encoder = keras_hub.layers.TransformerEncoder(
                    self.intermediate_dim, self.num_heads, name=f"encoder_{i}", dtype=policy
                )
                encoder.build((*token_ids_shape, self.hidden_dim))
                self.encoders.append(encoder)
            width = self.hidden_dim
        self.projection = keras.layers.Dense(self.output_dim, name="projection", dtype=policy)
        self.projection.build((token_ids_shape[0], width))

    def call(self, token_ids, training=None):
        token_ids = ops.cast(token_ids, "int32")
        mask = ops.not_equal(token_ids, 0)
        if self.backbone is not None:
            inputs = {"token_ids": token_ids, "padding_mask": mask}
            if "segment_ids" in self.backbone.input:  # BERT-style backbones take segment ids
                inputs["segment_ids"] = ops.zeros_like(token_ids)
            outputs = self.backbone(inputs, training=training)
            sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        else:
            sequence = self.embedding(token_ids)
            for encoder in self.encoders:
                sequence = encoder(sequence, padding_mask=mask, training=training)
        # Shape: [B, T_text, h] -> [B, h] -> [B, D].
        return self.projection(ops.cast(masked_mean(sequence, mask), self.compute_dtype))

    def compute_output_shape(self, token_ids_shape):
        return (token_ids_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            max_tokens=self.max_tokens,
            output_dim=self.output_dim,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            preset=self.preset,
            trainable_backbone=self.trainable_backbone,
        )
        return config
