"""Each role's behaviour in one table: the dtypes it takes, whether it may repeat, becomes ids, is a model
input, differs between the task rows of one context, may be missing, and which options it accepts.

The feature spec's parser, the row checks, the schema drafter, Transform, the signatures and the
benchmarks read these (``components.feature_spec`` re-exports them). Pure Python.
"""

from __future__ import annotations

import dataclasses

from models.task_types import (  # noqa: F401 (re-exported)
    CHAINS,
    DEFAULT_TASK_WEIGHT,
    LOSS_WEIGHTINGS,
    LOSSES,
    TARGET_SCALES,
    TASK_OPTIONS,
    TASK_TYPES,
)

# A categorical column's ids for millions of values (Transform, ``components.preprocessing``):
# `max_ids: N` keeps the N most frequent values (TFT ``top_k``), `min_count: N` the values seen at least N
# times in the training data (TFT ``frequency_threshold``); any other value, in training or in a request,
# shares the column's `oov_buckets` OOV ids (hashed among them). `hash_buckets: N` has no vocabulary: a
# value's id is its fingerprint modulo N (``tf.strings.to_hash_bucket_fast``), the same rule for every
# value seen or unseen, so it excludes the three options above.
VOCABULARY_LIMITS = ("max_ids", "min_count")
HASH_OPTION = "hash_buckets"
HASH_EXCLUDES = ("oov_buckets", *VOCABULARY_LIMITS)  # the options a hashed column cannot have


@dataclasses.dataclass(frozen=True)
class Role:
    """What a column of this role is."""

    dtypes: tuple[str, ...]  # the dtypes a column of this role may declare
    default_dtype: str  # when it declares none
    single: bool = False  # at most one column of this role (the model has one image token)
    ids: bool = False  # its values become vocabulary ids (with OOV buckets)
    feature: bool = True  # a model input, and in a serving request
    per_task: bool = False  # differs between the task rows of one context (the rest is the context)
    nullable: bool = False  # may be missing in a row (in CSV and in requests)
    options: tuple[str, ...] = ()  # keys it accepts besides `role` and `dtype`
    binary: bool = False  # its values are 0 or 1
    vector: bool = False  # a value is `dim` space-separated finite numbers
    words: bool = False  # a value is space-separated words (tokens, ids)


ROLE_TABLE: dict[str, Role] = {
    "task": Role(("string",), "string", single=True, ids=True, per_task=True, options=("oov_buckets",)),
    "aux_task": Role(("string", "int"), "string", ids=True, options=("oov_buckets",)),
    "categorical": Role(
        ("string", "int"),
        "string",
        ids=True,
        nullable=True,
        options=("oov_buckets", *VOCABULARY_LIMITS, HASH_OPTION),
    ),
    # Integer or float data: ExampleGen reads the declared type (a float column reads `73` as 73.0),
    # Transform casts to float.
    "numerical": Role(
        ("float", "int"), "float", nullable=True, options=("transform", "num_buckets", "buckets", "value_ids")
    ),
    # Every text and history column gets a token of its own.
    "text": Role(("string",), "string", nullable=True, options=("max_tokens", "vocab_size"), words=True),
    "history": Role(("string",), "string", nullable=True, options=("max_length",), words=True),
    "image_embedding": Role(("string",), "string", single=True, options=("dim",), vector=True),
    # 0/1 for a binary task; a float label column also holds regression tasks' values (`tasks:` says which).
    "label": Role(("int", "float"), "int", single=True, feature=False, per_task=True, binary=True),
    "weight": Role(("float",), "float", single=True, feature=False, per_task=True, nullable=True),
    "time": Role(("int",), "int", single=True, feature=False),
    "ignore": Role(("string", "int", "float"), "float", feature=False, nullable=True),
}

# Views of the table, by the question they answer.
ROLES = {name: (role.dtypes, role.default_dtype) for name, role in ROLE_TABLE.items()}
SINGLE_ROLES = tuple(name for name, role in ROLE_TABLE.items() if role.single)
ID_ROLES = tuple(name for name, role in ROLE_TABLE.items() if role.ids)
NOT_FEATURE_ROLES = tuple(name for name, role in ROLE_TABLE.items() if not role.feature)
PER_TASK_ROLES = tuple(name for name, role in ROLE_TABLE.items() if role.per_task)
NULLABLE_ROLES = tuple(name for name, role in ROLE_TABLE.items() if role.nullable)
ROLE_OPTIONS = {name: role.options for name, role in ROLE_TABLE.items() if role.options}

# What Transform makes of a numerical column (option `transform`, the first is the default):
# z-score; log1p then z-score (heavy-tailed values >= 0); quantile buckets fed as a categorical
# embedding (tft.quantiles + tft.apply_buckets, as in the TFX taxi example).
NUMERICAL_TRANSFORMS = ("zscore", "log1p", "bucketize")
DEFAULT_NUM_BUCKETS = 10  # deciles: the TFX taxi example's choice
# `buckets: N` on a z-scored or log1p column: its quantile-bucket id is fed as well, as an embedding
# (a piecewise-constant view beside the linear one), under the transformed feature name + this suffix.
BUCKET_FEATURE_SUFFIX = "__bucket"
# With regression tasks (`tasks:` type regression), Transform writes two more features per row: the shift and
# scale of its task's target (the training mean and deviation of the label, of log1p(label) for `loss: log_mse`,
# when the task has `scale: zscore`; 0 and 1 otherwise and on binary tasks' rows). The model fits
# (target - shift) / scale and answers shift + scale x its output, so the served value is in the label's units.
TARGET_FEATURES = ("__target_shift", "__target_scale")
# `value_ids: N` on a numerical column: an id for each of its N most frequent exact values (seen at
# least VALUE_MIN_COUNT times in training; the rest share one id) is fed as well, as an embedding,
# under the transformed feature name + this suffix. For amounts where single values carry meaning
# (UCI Adult's capital-gain: 7,688 and 15,024 all but decide income; quantile buckets cannot see
# them because 92 % of rows are 0), which a tree finds by its thresholds and a z-score hides.
VALUE_FEATURE_SUFFIX = "__value"
VALUE_MIN_COUNT = 5  # rationale: an embedding row trained on fewer examples is mostly noise
# Text and history defaults (options `vocab_size`, `max_tokens`, `max_length`); the drafter sizes a text
# column from its sample when these would cut it short (data_tools.column_rules).
DEFAULT_TEXT_VOCAB = 1_000
DEFAULT_TEXT_TOKENS = 16
DEFAULT_HISTORY_LENGTH = 20
# Text is lower-cased and these ASCII punctuation marks become spaces before splitting on whitespace, so
# `dress.` and `dress` are one word (the apostrophe stays: `don't`). One pattern for Transform's RE2
# (tf.strings.regex_replace) and the drafter's Python `re`; ASCII only, so words in any script stay whole.
TEXT_PUNCTUATION = r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~]"
# Options whose value is a word, not a count: option -> allowed values.
WORD_OPTIONS = {"transform": NUMERICAL_TRANSFORMS}
# dtype -> the TFMD FeatureType name that must stand in schema.pbtxt.
SCHEMA_TYPES = {"string": "BYTES", "int": "INT", "float": "FLOAT"}
