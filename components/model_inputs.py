"""The model's ``InputConfig`` from the feature spec and the Transform output (vocabulary sizes)."""

from __future__ import annotations

from components.feature_spec import FeatureSpec
from components.preprocessing import (
    DEFAULT_HISTORY_LENGTH,
    DEFAULT_TEXT_TOKENS,
    oov_buckets,
    vocabulary_name,
)
from models.input_config import InputConfig


def input_config_from_transform(spec: FeatureSpec, tf_transform_output) -> InputConfig:
    """Id ranges: vocabulary + OOV buckets; token ids: vocabulary + padding + OOV."""

    def size(column):
        return tf_transform_output.vocabulary_size_by_name(vocabulary_name(column.name)) + oov_buckets(column)

    def token_range(column):
        return tf_transform_output.vocabulary_size_by_name(vocabulary_name(column.name)) + 2

    image = next(iter(spec.by_role("image_embedding")), None)
    numerical = spec.by_role("numerical")
    return InputConfig(
        task_columns=[(c.name, size(c)) for c in spec.task_columns],
        # Bucketized numerical columns are ids: buckets + one for missing values.
        categorical=[(c.name, size(c)) for c in spec.by_role("categorical")]
        + [(c.name, c.num_buckets + 1) for c in numerical if c.bucketized]
        + [(c.bucket_feature, c.option("buckets") + 1) for c in numerical if c.bucket_feature]
        # Exact-value ids: the kept values + one OOV id.
        + [
            (c.value_feature, tf_transform_output.vocabulary_size_by_name(vocabulary_name(c.value_feature)) + 1)
            for c in numerical
            if c.value_feature
        ],
        numerical=[c.name for c in numerical if not c.bucketized],
        text=[(c.name, token_range(c), c.option("max_tokens", DEFAULT_TEXT_TOKENS)) for c in spec.by_role("text")],
        history=[
            (c.name, token_range(c), c.option("max_length", DEFAULT_HISTORY_LENGTH)) for c in spec.by_role("history")
        ],
        image=(image.name, image.option("dim")) if image else None,
    )
