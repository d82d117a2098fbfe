"""Shared training and evaluation harness for the benchmarks: same data, same budget for every model.

Data: the synthetic generator, split by time: train (the first 90 days less the
validation days), validation (the last ``validation_days`` of the training
period, for choosing hyperparameters), eval (the week after; only for
reporting), made into model inputs by the pipeline's own ``preprocessing_fn``
fitted on the train split (``benchmarks.features``). Every
model sees the same examples in the same order (seeded), with the same
optimizer, batch size and number of steps. ``single_task`` trains one model per
task, splitting the same total number of steps across tasks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np

import schemas
from benchmarks import features
from components.feature_spec import load_feature_spec
from components.model_inputs import input_config_from_transform
from data_tools import synthetic, writers
from models import presets, training

SPEC_PATH = schemas.path("synthetic", "feature_spec.yaml")
SCHEMA_PATH = os.path.join(os.path.dirname(SPEC_PATH), "schema.pbtxt")  # beside the spec, as the pipeline expects


@dataclasses.dataclass
class Data:
    """Preprocessed train, validation and eval splits of the synthetic data."""

    input_config: object
    train_x: dict
    train_y: np.ndarray
    eval_x: dict
    eval_y: np.ndarray
    eval_tasks: np.ndarray  # 'metric/flow' per eval row
    eval_oracle: np.ndarray
    train_tasks: np.ndarray
    valid_x: dict | None = None
    valid_y: np.ndarray | None = None
    valid_tasks: np.ndarray | None = None
    valid_oracle: np.ndarray | None = None

    def split(self, name: str):
        """(x, y, task keys, oracle probabilities) of split ``eval`` or ``valid``."""
        if name not in ("eval", "valid"):
            raise ValueError(f"split must be 'eval' or 'valid', got {name!r}")
        if name == "valid" and self.valid_x is None:
            raise ValueError("this Data has no validation split: prepare_data(validation_days=0)")
        return tuple(getattr(self, f"{name}_{part}") for part in ("x", "y", "tasks", "oracle"))


def synthetic_splits(config: synthetic.SyntheticConfig, validation_days: int = 0) -> dict[str, dict]:
    """The generator's columns split by time: ``train`` (the training period less its last
    ``validation_days``), ``valid`` (those days; absent when 0) and ``eval`` (the eval period)."""
    if not 0 <= validation_days < config.train_days:
        raise ValueError(f"validation_days must be in [0, {config.train_days}), got {validation_days}")
    columns = synthetic.generate(config)
    valid_start = config.eval_start_ts - validation_days * synthetic.DAY
    is_eval = columns["ts"] >= config.eval_start_ts
    is_valid = (columns["ts"] >= valid_start) & ~is_eval
    parts = {"train": ~is_eval & ~is_valid, "eval": is_eval, **({"valid": is_valid} if validation_days else {})}
    return {name: {k: v[rows] for k, v in columns.items()} for name, rows in parts.items()}


def prepare_data(num_rows=60_000, num_tasks=8, seed=0, validation_days=0, train_days=None, eval_days=None) -> Data:
    """Generates the synthetic data (``train_days``/``eval_days``: the generator's when None) and makes its
    features with the pipeline's ``preprocessing_fn`` fitted on the train split (``benchmarks.features``,
    cached); ``validation_days`` > 0 carves a validation split."""
    return prepare_data_and_splits(num_rows, num_tasks, seed, validation_days, train_days, eval_days)[0]


def prepare_data_and_splits(
    num_rows=60_000, num_tasks=8, seed=0, validation_days=0, train_days=None, eval_days=None
) -> tuple[Data, dict]:
    """``prepare_data``'s Data and the generated columns of each split it was made from (``synthetic_splits``)."""
    sizes = {k: v for k, v in (("train_days", train_days), ("eval_days", eval_days)) if v is not None}
    config = synthetic.SyntheticConfig(num_rows=num_rows, num_tasks=num_tasks, seed=seed, **sizes)
    splits = synthetic_splits(config, validation_days)
    key = features.cache_key(
        {"synthetic": dataclasses.asdict(config), "validation_days": validation_days},
        SPEC_PATH,
        SCHEMA_PATH,
        extra_modules=("data_tools.synthetic",),
    )
    tft_output, x = features.cached(
        key,
        SPEC_PATH,
        SCHEMA_PATH,
        fit_csv=lambda folder: _write_csv(splits["train"], os.path.join(folder, "train.csv")),
        splits=lambda: {name: writers.serialize_examples(columns) for name, columns in splits.items()},
    )
    train, evals = splits["train"], splits["eval"]
    data = Data(
        input_config=input_config_from_transform(load_feature_spec(SPEC_PATH), tft_output),
        train_x=x["train"],
        train_y=train["label"],
        eval_x=x["eval"],
        eval_y=evals["label"],
        eval_tasks=synthetic.task_names(evals),
        eval_oracle=evals["oracle_p"],
        train_tasks=synthetic.task_names(train),
    )
    if validation_days:
        valid = splits["valid"]
        data.valid_x, data.valid_y = x["valid"], valid["label"]
        data.valid_tasks, data.valid_oracle = synthetic.task_names(valid), valid["oracle_p"]
    return data, splits


def _write_csv(columns: dict, path: str) -> str:
    writers.write_csv(columns, path)
    return path


def default_hyperparameters(name: str, dim: int = 64) -> dict:
    """Equal-width settings (``models.presets.small``): GRec's active expert width K*F equals the baselines'."""
    return presets.small(name, dim)


def parse_variant(text: str) -> tuple[str, tuple[str, dict]]:
    """``NAME=MODEL:JSON`` (a benchmark's ``--variant``) -> (NAME, (MODEL, preset overrides)); the overrides
    replace the preset's keys whole (``encoder_options`` too) and are checked against the model, but for
    ``optimizer``, the recipe's (``models.training.split_optimizer``).

    Raises:
        ValueError: the text is not of that form, its JSON is not an object, or the model does not take a key.
    """
    name, _, definition = text.partition("=")
    model, _, overrides = definition.partition(":")
    if not (name and model):
        raise ValueError(f"--variant {text!r}: expected NAME=MODEL:JSON")
    try:
        parsed = json.loads(overrides or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"--variant {text!r}: its JSON does not parse ({error})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"--variant {text!r}: its JSON must be an object of preset keys")
    presets.resolve(model, training.split_optimizer(parsed)[1])
    return name, (model, parsed)


def _dataset(x, y, batch_size, seed):
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(min(len(y), 200_000), seed=seed)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(2)
    )


def _subset(x, rows):
    return {k: v[rows] for k, v in x.items()}


@dataclasses.dataclass
class TrainResult:
    """A trained model (or, for single_task, one per task) and how training went.

    Attributes:
        models: task key -> model for single_task; {"*": model} otherwise.
        loss_curve: mean task loss of each ``log_every`` steps (single_task: averaged over tasks).
        seconds: wall time in ``fit``.
        examples_per_second: training throughput.
    """

    models: dict
    loss_curve: list
    seconds: float
    examples_per_second: float

    def predict(self, x, tasks):
        """Scores rows ``x`` whose task keys are ``tasks``."""
        if "*" in self.models:
            return np.asarray(self.models["*"].predict(x, batch_size=4096, verbose=0), dtype="float64")
        scores = np.zeros(len(tasks), dtype="float64")
        for task, model in self.models.items():
            rows = tasks == task
            if rows.any():
                scores[rows] = np.asarray(model.predict(_subset(x, rows), batch_size=4096, verbose=0))
        return scores


def fit_model(
    name,
    input_config,
    hyperparameters,
    x,
    y,
    steps,
    batch_size,
    learning_rate,
    seed,
    round_steps,
    validation=None,
    optimizer=training.OPTIMIZERS[0],
):
    """The training loop every benchmark shares: model ``name`` built with ``hyperparameters``, the recipe's
    ``optimizer``, ``steps`` steps of ``batch_size`` in rounds of ``round_steps``. With ``validation`` (x, y):
    validated each round, the learning rate halved on a plateau and early stopping with the best weights
    (``models.training.callbacks``). Returns (model, Keras history dict, seconds in ``fit``)."""
    from models import build_model

    model = build_model(name, input_config, **hyperparameters)
    model.compile(optimizer=training.optimizer(learning_rate, optimizer))
    start = time.perf_counter()
    if validation is None:
        rounds = dict(epochs=max(1, steps // round_steps), steps_per_epoch=min(round_steps, steps))
    else:
        rounds = dict(
            epochs=steps // round_steps,
            steps_per_epoch=round_steps,
            validation_data=validation,
            validation_batch_size=4096,
            callbacks=training.callbacks(),
        )
    history = model.fit(_dataset(x, y, batch_size, seed), verbose=0, **rounds)
    return model, history.history, time.perf_counter() - start


def _fit(name, params, x, y, steps, batch_size, learning_rate, seed, log_every):
    model, history, seconds = fit_model(
        name, params.pop("input_config"), params, x, y, steps, batch_size, learning_rate, seed, log_every
    )
    return model, list(history["task_loss"]), seconds


def train_model(
    name,
    data: Data,
    steps=300,
    batch_size=training.BATCH_SIZE,
    learning_rate=None,
    seed=0,
    hyperparameters=None,
    log_every=50,
) -> TrainResult:
    """Trains model ``name`` for ``steps`` steps of ``batch_size`` on the training split."""
    import keras

    keras.utils.set_random_seed(seed)
    params = dict(hyperparameters or default_hyperparameters(name), input_config=data.input_config)
    if name != "single_task":
        model, curve, seconds = _fit(
            name, params, data.train_x, data.train_y, steps, batch_size, learning_rate, seed, log_every
        )
        return TrainResult({"*": model}, curve, seconds, steps * batch_size / seconds)
    # Single-task: one model per task, the same total number of steps split across tasks.
    tasks = sorted(set(data.train_tasks))
    per_task = max(2, steps // len(tasks))
    window = max(1, min(log_every, per_task // 2))  # at least two loss windows per task
    per_task = per_task // window * window
    models, curves, seconds = {}, [], 0.0
    for task in tasks:
        rows = data.train_tasks == task
        model, curve, spent = _fit(
            name,
            dict(params),
            _subset(data.train_x, rows),
            data.train_y[rows],
            per_task,
            batch_size,
            learning_rate,
            seed,
            window,
        )
        models[task], seconds = model, seconds + spent
        curves.append(curve)
    return TrainResult(models, list(np.mean(curves, axis=0)), seconds, len(tasks) * per_task * batch_size / seconds)


def evaluate(result: TrainResult, data: Data, split: str = "eval") -> dict:
    """Per-task AP, AUC and log loss on ``split`` (eval or valid), with the oracle's AP beside them."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    x, labels, task_keys, oracle = data.split(split)
    scores = result.predict(x, task_keys)
    per_task = {}
    for task in sorted(set(task_keys)):
        rows = task_keys == task
        y = labels[rows]
        if y.min() == y.max():
            continue  # AP and AUC need both classes
        per_task[task] = {
            "rows": int(rows.sum()),
            "positive_rate": float(y.mean()),
            "ap": float(average_precision_score(y, scores[rows])),
            "auc": float(roc_auc_score(y, scores[rows])),
            "log_loss": float(log_loss(y, np.clip(scores[rows], 1e-7, 1 - 1e-7))),
            "oracle_ap": float(average_precision_score(y, oracle[rows])),
        }
    mean = {
        k: float(np.mean([t[k] for t in per_task.values()]))
        for k in ("ap", "auc", "log_loss", "oracle_ap", "positive_rate")
    }
    mean["ap_over_oracle"] = float(np.mean([t["ap"] / t["oracle_ap"] for t in per_task.values()]))
    return {"per_task": per_task, "mean": mean}
