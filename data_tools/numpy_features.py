"""In-memory preprocessing of task examples into model inputs, with numpy.

The TFX pipeline transforms features with TensorFlow Transform
(``components/preprocessing.py``); benchmarks and quick experiments that train
many models on the same in-memory data use this numpy twin instead, which
follows the same contract (``models/input_config.py``):

* task, auxiliary-task and categorical columns: ids by descending frequency in
  the training data (ties by value), then ``oov_buckets`` ids (at least one)
  for values never seen in training;
* numerical columns: z-scored with training mean and standard deviation,
  missing values set to 0 (the mean);
* text: whitespace tokens, ids 1.. by frequency (at most ``vocab_size - 2``),
  one OOV id, padded with 0 / truncated to ``max_tokens``;
* history: the same with ``max_length`` and a vocabulary of at most 50,000 ids;
* image embedding: the parsed float vector.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from collections.abc import Mapping

import numpy as np

from components.feature_spec import ID_ROLES, FeatureSpec
from models.input_config import InputConfig

MAX_HISTORY_VOCAB = 50_000  # rationale: bounds the item table; the tail maps to OOV
DEFAULT_TEXT_VOCAB = 1_000


def _stable_bucket(value: str, buckets: int) -> int:
    """A deterministic hash bucket (Python's hash() is salted per process)."""
    return zlib.crc32(value.encode()) % buckets


def _vocabulary(values: np.ndarray) -> list[str]:
    counts = Counter(values.tolist())
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclasses.dataclass
class NumpyPreprocessor:
    """Fits vocabularies and statistics on training columns, then transforms any split.

    Attributes:
        spec: the feature spec.
        vocabularies: column -> list of values (id = position).
        stats: numerical column -> (mean, std).
    """

    spec: FeatureSpec
    vocabularies: dict = dataclasses.field(default_factory=dict)
    stats: dict = dataclasses.field(default_factory=dict)

    def fit(self, columns: Mapping[str, np.ndarray]) -> NumpyPreprocessor:
        for c in self.spec.by_role("numerical"):
            if c.option("transform", "zscore") != "zscore" or c.bucket_feature or c.value_feature:
                raise ValueError(f"numpy preprocessing implements only z-scored numerical columns without bucket "
                                 f"or value ids; column {c.name!r} asks for {c.to_dict()} (use the pipeline's Transform)")  # fmt: skip
        for c in self.spec.columns:
            values = columns[c.name]
            if c.role in ID_ROLES:
                self.vocabularies[c.name] = _vocabulary(values.astype(str))
            elif c.role == "numerical":
                data = values.astype("float64")
                std = float(np.nanstd(data))
                self.stats[c.name] = (float(np.nanmean(data)), std if std > 0 else 1.0)
            elif c.role in ("text", "history"):
                tokens = " ".join(values.astype(str).tolist()).split()
                limit = c.option("vocab_size", DEFAULT_TEXT_VOCAB) - 2 if c.role == "text" else MAX_HISTORY_VOCAB
                self.vocabularies[c.name] = _vocabulary(np.array(tokens, dtype=object))[:limit]
        return self

    def _oov(self, column) -> int:
        return max(1, column.option("oov_buckets", 1))

    def input_config(self) -> InputConfig:
        def size(c):
            return len(self.vocabularies[c.name]) + self._oov(c)

        text = next(iter(self.spec.by_role("text")), None)
        history = next(iter(self.spec.by_role("history")), None)
        image = next(iter(self.spec.by_role("image_embedding")), None)
        return InputConfig(
            task_columns=[(c.name, size(c)) for c in self.spec.task_columns],
            categorical=[(c.name, size(c)) for c in self.spec.by_role("categorical")],
            numerical=[c.name for c in self.spec.by_role("numerical")],
            # Token ids: 0 padding, 1..V vocabulary, V + 1 OOV.
            text=(text.name, len(self.vocabularies[text.name]) + 2, text.option("max_tokens", 16)) if text else None,
            history=(history.name, len(self.vocabularies[history.name]) + 2, history.option("max_length", 20))
            if history
            else None,
            image=(image.name, image.option("dim")) if image else None,
        )

    def _ids(self, column, values: np.ndarray) -> np.ndarray:
        vocab = self.vocabularies[column.name]
        index = {v: i for i, v in enumerate(vocab)}
        oov = self._oov(column)
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values.astype(str)):  # dictionary lookups; vectorising buys little here
            out[i] = index.get(v, -1)
        unseen = out < 0
        if unseen.any():
            out[unseen] = [len(vocab) + _stable_bucket(v, oov) for v in values[unseen].astype(str)]
        return out

    def _token_ids(self, column, values: np.ndarray, length: int) -> np.ndarray:
        vocab = self.vocabularies[column.name]
        index = {v: i + 1 for i, v in enumerate(vocab)}
        oov = len(vocab) + 1
        out = np.zeros((len(values), length), dtype=np.int64)
        for row, text in enumerate(values.astype(str)):
            ids = [index.get(t, oov) for t in text.split()[:length]]
            out[row, : len(ids)] = ids
        return out

    def transform(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model inputs for ``columns`` (any split), per ``input_config()``."""
        out: dict[str, np.ndarray] = {}
        for c in self.spec.columns:
            values = columns[c.name]
            if c.role in ID_ROLES:
                out[c.name] = self._ids(c, values)
            elif c.role == "numerical":
                mean, std = self.stats[c.name]
                z = (values.astype("float64") - mean) / std
                out[c.name] = np.nan_to_num(z, nan=0.0).astype("float32")
            elif c.role == "text":
                out[c.name] = self._token_ids(c, values, c.option("max_tokens", 16))
            elif c.role == "history":
                out[c.name] = self._token_ids(c, values, c.option("max_length", 20))
            elif c.role == "image_embedding":
                dim = c.option("dim")
                flat = np.array(" ".join(values.astype(str).tolist()).split(), dtype="float32")
                if flat.size != len(values) * dim:
                    raise ValueError(
                        f"column {c.name!r}: expected {dim} floats per row, got {flat.size / len(values):.2f}"
                    )
                out[c.name] = flat.reshape(len(values), dim)
        return out
