"""Warm start: a new model begins from a trained model's weights, id-indexed rows carried over by the value
each id stands for.

Transform gives ids by frequency (``tft.compute_and_apply_vocabulary``), so between two days of data the same
user can have another id, new users appear and some vanish. Copying an embedding table row by row would give
each user another user's row. Instead every id-indexed weight is remapped through the *keys* of its ids (the
vocabulary values, OOV buckets and bucket positions, ``components.model_inputs.id_keys``): a row whose key the
old model knew is copied, a new key keeps its fresh initialisation, a vanished key is dropped. Every other
weight is copied when its shape is the same; any other difference (another model, width, depth, number of
columns) means another architecture, and the model stays as built (a cold start, with the reason).

The id-indexed weights are declared here per layer type (``id_axes``): the categorical tables of the wide &
deep head (one table with each column at an offset, or one table per column), the task sentence's tables,
each text and history column's token table, and every per-task weight (the towers, MMoE/PLE gates and task
experts, the expert utilisation counts, the learned task-loss log-variances), whose axis is the main task's ids.

The optimizer's state is not carried: Adam starts afresh (its moments belong to the old step count).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os

import numpy as np
import tensorflow as tf  # tf.io.gfile: the Model artifact may be on GCS or S3

WEIGHTS_FILE = "weights.npz"
KEYS_FILE = "id_keys.json"
CONFIG_FILE = "model.json"


class CannotWarmStart(ValueError):
    """The saved model's architecture differs from the new one; the message says where."""


@dataclasses.dataclass
class WarmStartReport:
    """What a warm start carried: weights copied as they were, weights remapped by id, and per feature the
    ids found in the old model, new ones (fresh rows) and old ones gone."""

    source: str
    copied: int = 0
    remapped: int = 0
    ids: dict = dataclasses.field(default_factory=dict)  # feature -> {"kept", "new", "dropped"}

    def summary(self) -> str:
        moved = ", ".join(f"{f} {v['kept']} kept / {v['new']} new / {v['dropped']} gone" for f, v in self.ids.items())
        return f"warm start from {self.source}: {self.copied} weights copied, {self.remapped} remapped by id value" + (
            f" ({moved})" if moved else ""
        )


def id_axes(model) -> dict[int, tuple[int, list[str]]]:
    """{id(variable): (axis, features)}: each id-indexed weight of ``model``, the axis its ids run along and
    the features whose ids it holds, in order (a table holding several columns at offsets names each)."""
    from models.expert_utilization import ExpertUtilization
    from models.gated_experts import GatedExperts
    from models.input_config import InputConfig
    from models.task_towers import TaskTowers

    config = InputConfig.from_dict(model.input_config)
    main = [config.main_task]
    axes: dict[int, tuple[int, list[str]]] = {}

    def declare(variable, axis, features):
        if variable is not None:
            axes[id(variable)] = (axis, list(features))

    declare(getattr(model, "task_log_variance", None), 0, main)  # learned loss weighting: one per task id
    encoder = model.encoder
    head = encoder.context
    if getattr(head, "embedding", None) is not None:
        declare(head.embedding.embeddings, 0, [n for n, _ in config.categorical])
    for table, (name, _) in zip(getattr(head, "embeddings", []), config.categorical, strict=False):
        declare(table.embeddings, 0, [name])
    for table, (name, _) in zip(encoder.task_sentence.tables, config.task_columns, strict=True):
        declare(table.embeddings, 0, [name])
    for text, (name, _, _) in zip(encoder.texts, config.text, strict=True):
        if text.preset is None:  # a preset's ids are its tokenizer's, the same every day
            tokens = text.embedding.token_embedding
            declare(tokens.embeddings, 0, [name])
            declare(getattr(tokens, "reverse_embeddings", None), 1, [name])
    for history, (name, _, _) in zip(encoder.histories, config.history, strict=True):
        declare(history.embedding.embeddings, 0, [name])
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, TaskTowers):
            for weight in (layer.w1, layer.b1, layer.w2, layer.b2):
                declare(weight, 0, main)
        elif isinstance(layer, GatedExperts):
            declare(layer.gate_w, 1, main)
            declare(layer.gate_b, 0, main)
            if layer.num_task_experts:
                declare(layer.task_w, 0, main)
                declare(layer.task_b, 0, main)
        elif isinstance(layer, ExpertUtilization) and layer.num_tasks:
            declare(layer.counts, 0, main)
    return axes


def save(model, keys: dict[str, list[str]], folder: str, settings: dict) -> None:
    """Writes what a later warm start reads into ``folder``: every weight in ``model.weights`` order, the keys
    of every id-indexed feature (``components.model_inputs.id_keys``) and the model's ``settings``
    (name and hyperparameters)."""
    tf.io.gfile.makedirs(folder)
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(w.numpy()) for w in model.weights])
    with tf.io.gfile.GFile(os.path.join(folder, WEIGHTS_FILE), "wb") as f:
        f.write(buffer.getvalue())
    with tf.io.gfile.GFile(os.path.join(folder, KEYS_FILE), "w") as f:
        json.dump(keys, f)
    with tf.io.gfile.GFile(os.path.join(folder, CONFIG_FILE), "w") as f:
        json.dump({**settings, "weights": [[w.path, list(w.shape)] for w in model.weights]}, f)


def _remap(old: np.ndarray, new: np.ndarray, axis: int, features, old_keys, new_keys, report) -> np.ndarray:
    """``new`` with every row of ``old`` along ``axis`` whose key is also a new key copied to that key's row."""
    old_sizes = [len(old_keys[f]) for f in features]
    new_sizes = [len(new_keys[f]) for f in features]
    if old.shape[axis] != sum(old_sizes) or new.shape[axis] != sum(new_sizes):
        raise CannotWarmStart(f"an id-indexed weight of {features} has another layout than their ids")
    src, dst = [], []
    old_offset = new_offset = 0
    for feature, old_size, new_size in zip(features, old_sizes, new_sizes, strict=True):
        where = {key: i for i, key in enumerate(old_keys[feature])}
        found = [(where[key], i) for i, key in enumerate(new_keys[feature]) if key in where]
        src += [old_offset + o for o, _ in found]
        dst += [new_offset + n for _, n in found]
        if feature not in report.ids:
            report.ids[feature] = {"kept": len(found), "new": new_size - len(found), "dropped": old_size - len(found)}
        old_offset, new_offset = old_offset + old_size, new_offset + new_size
    out = np.moveaxis(new.copy(), axis, 0)
    out[np.asarray(dst, dtype=int)] = np.moveaxis(old, axis, 0)[np.asarray(src, dtype=int)]
    return np.moveaxis(out, 0, axis)


def restore(model, keys: dict[str, list[str]], folder: str, settings: dict) -> WarmStartReport:
    """Sets ``model``'s weights from the model saved in ``folder`` (``save``), id-indexed rows by key.

    Raises:
        CannotWarmStart: another model or settings, or a weight of another shape; nothing is changed then.
    """
    with tf.io.gfile.GFile(os.path.join(folder, CONFIG_FILE)) as f:
        saved = json.load(f)
    for key, value in settings.items():
        if saved.get(key) != value:
            raise CannotWarmStart(f"the saved model has {key} {saved.get(key)!r}, this run {value!r}")
    with tf.io.gfile.GFile(os.path.join(folder, KEYS_FILE)) as f:
        old_keys = json.load(f)
    with tf.io.gfile.GFile(os.path.join(folder, WEIGHTS_FILE), "rb") as f:
        blob = io.BytesIO(f.read())
    with np.load(blob) as archive:
        old = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    weights = model.weights
    if len(old) != len(weights):
        raise CannotWarmStart(f"the saved model has {len(old)} weights, this one {len(weights)}")
    axes = id_axes(model)
    report = WarmStartReport(source=folder)
    values = []
    for (path, _), before, variable in zip(saved["weights"], old, weights, strict=True):
        now = np.asarray(variable.numpy())
        if id(variable) in axes:
            axis, features = axes[id(variable)]
            missing = [f for f in features if f not in old_keys or f not in keys]
            if missing:
                raise CannotWarmStart(f"no ids saved for {missing} ({path})")
            values.append(_remap(before, now, axis, features, old_keys, keys, report))
            report.remapped += 1
        elif before.shape == now.shape:
            values.append(before)
            report.copied += 1
        else:
            raise CannotWarmStart(f"weight {path} was {list(before.shape)}, is {list(now.shape)} ({variable.path})")
    for variable, value in zip(weights, values, strict=True):  # only once every weight is known to fit
        variable.assign(value.astype(variable.dtype))
    return report
