"""What the model reads: transformed feature names, id ranges and lengths.

Built from a feature spec and the Transform vocabularies (``components/``),
or by hand in tests. Transformed features, one entry per column name:

* task-sentence and categorical columns: <int>[B] ids in [0, vocab_size)
  (vocabulary plus OOV buckets);
* numerical columns: <float>[B], scaled, missing values filled;
* text: <int>[B, max_tokens] token ids, 0 = padding, per text column;
* history: <int>[B, max_length] item ids, 0 = padding, per history column;
* image embedding: <float>[B, dim].
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from models.validation import require


def _columns(value) -> tuple:
    """None, one ``(name, size, length)`` column or several -> a tuple of column tuples."""
    if not value:
        return ()
    if isinstance(value[0], str):
        return (tuple(value),)
    return tuple(tuple(column) for column in value)


@dataclasses.dataclass(frozen=True)
class InputConfig:
    """Names and sizes of the transformed features.

    Attributes:
        task_columns: ((name, vocab_size), ...) main task first, then the
            auxiliary descriptors: the task sentence.
        categorical: ((name, vocab_size), ...).
        numerical: (name, ...).
        text: ((name, vocab_size, max_tokens), ...): every text column, each its own token; one
            ``(name, vocab_size, max_tokens)`` is read as a single column (configs saved before).
        history: ((name, vocab_size, max_length), ...): every history column, likewise.
        image: (name, dim) or None.
        target: (shift, scale) feature names: each row's target shift and scale (with regression tasks,
            ``components.roles.TARGET_FEATURES``), read by the output, not encoded; () without.
    """

    task_columns: tuple
    categorical: tuple = ()
    numerical: tuple = ()
    text: tuple = ()
    history: tuple = ()
    image: tuple | None = None
    target: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "task_columns", tuple(tuple(c) for c in self.task_columns))
        object.__setattr__(self, "categorical", tuple(tuple(c) for c in self.categorical))
        object.__setattr__(self, "numerical", tuple(self.numerical))
        for name in ("text", "history"):
            object.__setattr__(self, name, _columns(getattr(self, name)))
        object.__setattr__(self, "image", tuple(self.image) if self.image else None)
        object.__setattr__(self, "target", tuple(self.target or ()))
        require(
            len(self.task_columns) > 0,
            "The task list must not be empty: `task_columns` needs the main task.",
            task_columns=self.task_columns,
        )

    @property
    def num_tasks(self) -> int:
        """N: the id range of the main task (tower count)."""
        return int(self.task_columns[0][1])

    @property
    def main_task(self) -> str:
        return self.task_columns[0][0]

    @property
    def num_tokens(self) -> int:
        """T: context token + optional text, history, image tokens + one per task descriptor."""
        return 1 + len(self.text) + len(self.history) + (self.image is not None) + len(self.task_columns)

    def feature_names(self) -> list[str]:
        names = [n for n, _ in self.task_columns] + [n for n, _ in self.categorical] + list(self.numerical)
        names += [x[0] for x in (*self.text, *self.history)] + ([self.image[0]] if self.image else [])
        return names + list(self.target)

    def to_dict(self) -> dict[str, Any]:
        listed = ("task_columns", "categorical", "text", "history")  # tuples of tuples
        out = {
            k: (list(map(list, v)) if k in listed else (list(v) if v else v))
            for k, v in dataclasses.asdict(self).items()
        }
        if not self.target:  # configs without regression tasks read as before
            out.pop("target")
        return out

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> InputConfig:
        return cls(**config)


def example_inputs(config: InputConfig, batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random valid transformed features (tests, benchmarks, building a model).

    Text and history rows get random lengths with padding (0) at the end,
    including some empty rows.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, size in (*config.task_columns, *config.categorical):
        out[name] = rng.integers(0, size, size=batch_size).astype("int64")
    for name in config.numerical:
        out[name] = rng.normal(size=batch_size).astype("float32")
    for name, vocab, length in (*config.text, *config.history):
        ids = rng.integers(1, vocab, size=(batch_size, length))
        keep = np.arange(length)[None, :] < rng.integers(0, length + 1, size=(batch_size, 1))
        out[name] = np.where(keep, ids, 0).astype("int64")
    if config.image is not None:
        out[config.image[0]] = rng.normal(size=(batch_size, config.image[1])).astype("float32")
    if config.target:
        shift, scale = config.target
        out[shift] = rng.normal(size=batch_size).astype("float32")
        out[scale] = (1.0 + rng.random(batch_size)).astype("float32")
    return out
