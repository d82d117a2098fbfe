"""The model's ``InputConfig`` from the feature spec and the Transform output (vocabulary sizes)."""

from __future__ import annotations

from components.feature_spec import HASH_OPTION, FeatureSpec
from components.preprocessing import (
    DEFAULT_HISTORY_LENGTH,
    DEFAULT_TEXT_TOKENS,
    oov_buckets,
    vocabulary_name,
)
from components.roles import LOSSES, TARGET_FEATURES
from models.input_config import InputConfig


def input_config_from_transform(spec: FeatureSpec, tf_transform_output) -> InputConfig:
    """Id ranges: vocabulary + OOV buckets; token ids: vocabulary + padding + OOV."""

    def size(column):
        if column.option(HASH_OPTION):
            return column.option(HASH_OPTION)
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
        target=TARGET_FEATURES if spec.regression_tasks else (),
    )


def _vocabulary(tf_transform_output, name: str) -> list[str]:
    """Transform's vocabulary of feature ``name`` as text, in id order."""
    values = tf_transform_output.vocabulary_by_name(vocabulary_name(name))
    return [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v) for v in values]


def _special(name: str) -> str:
    """A key no vocabulary value can be (vocabulary values hold no NUL)."""
    return "\0" + name


def id_keys(spec: FeatureSpec, tf_transform_output) -> dict[str, list[str]]:
    """What each id of every id-indexed feature stands for, in id order (the layouts of
    ``input_config_from_transform``): its vocabulary value, an OOV bucket, padding, or a bucket's position
    (quantile or hash).
    A warm start (``models.warm_start``) carries an embedding row to the id with the same key the next day;
    a quantile bucket keeps its position (its boundaries move with the data)."""

    def vocabulary(name: str) -> list[str]:
        return _vocabulary(tf_transform_output, name)

    def buckets(count: int) -> list[str]:
        return [_special(f"bucket {k}") for k in range(count)]

    keys = {}
    for c in [*spec.task_columns, *spec.by_role("categorical")]:
        if c.option(HASH_OPTION):  # a value's bucket is the same every day
            keys[c.name] = [_special(f"hash {k}") for k in range(c.option(HASH_OPTION))]
            continue
        keys[c.name] = vocabulary(c.name) + [_special(f"oov {k}") for k in range(oov_buckets(c))]
    for c in spec.by_role("numerical"):
        if c.bucketized:
            keys[c.name] = buckets(c.num_buckets + 1)
        if c.bucket_feature:
            keys[c.bucket_feature] = buckets(c.option("buckets") + 1)
        if c.value_feature:
            keys[c.value_feature] = vocabulary(c.value_feature) + [_special("oov")]
    for c in [*spec.by_role("text"), *spec.by_role("history")]:
        keys[c.name] = [_special("padding"), *vocabulary(c.name), _special("oov")]
    return keys


def task_names(spec: FeatureSpec, tf_transform_output) -> list[str]:
    """The main tasks of the training data, in task-id order (Transform's vocabulary of the task column)."""
    return _vocabulary(tf_transform_output, spec.task_column.name)


def task_loss(spec: FeatureSpec, tf_transform_output) -> dict:
    """The model's ``task_weights`` (by main-task id; None when every task weighs 1), ``task_losses`` (by main-task
    id; None when every task is binary), ``task_chain`` (by main-task id, the given task's id of a task with
    `chain: entire_space`, else -1; None without one) and ``loss_weighting`` from the spec's `tasks:` section and
    `loss_weighting`. OOV task ids weigh 1, are binary and unchained.

    Raises:
        FeatureSpecError: the section leaves out a task of the training data, or names one it lacks.
    """
    names = task_names(spec, tf_transform_output)
    spec.check_tasks(names, f"the training data (Transform's vocabulary of column {spec.task_column.name!r})")
    weights = [spec.task_weight(name) for name in names] + [1.0] * oov_buckets(spec.task_column)
    uniform = all(w == weights[0] for w in weights)
    losses = [spec.task_loss(name) for name in names] + [LOSSES["binary"][0]] * oov_buckets(spec.task_column)
    chain = [names.index(spec.given(name)) if spec.chain(name) else -1 for name in names]
    chain += [-1] * oov_buckets(spec.task_column)
    return {
        "task_weights": None if uniform else weights,
        "task_losses": losses if spec.regression_tasks else None,
        "task_chain": chain if any(given >= 0 for given in chain) else None,
        "loss_weighting": spec.loss_weighting,
    }
