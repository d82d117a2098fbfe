"""The benchmarks' model inputs, made by the pipeline's own ``preprocessing_fn``: one preprocessing.

Every benchmark trains on what the Trainer would read: the training split goes
through ``components.transform_check.run_transform`` (TFT under Beam, the
analyzers the pipeline's Transform runs), then every split's tf.Examples
through the transform graph it wrote. There is no second implementation to
drift (the numpy twin this replaces had: no lower-casing of text, another OOV
hash, hard-coded lengths).

TFT under Beam costs tens of seconds to minutes, so ``cached`` keeps each
result on disk under a key made of everything that decides it: the data's
description and the bytes of the spec, the schema and the preprocessing code.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable

import numpy as np

# The code whose bytes decide the features (the cache key covers them).
PREPROCESSING_CODE = ("components.preprocessing", "components.feature_spec", "components.model_inputs")
CACHE_ENV = "GREC_BENCHMARK_CACHE"  # where cached features live (default: ~/.cache/grec/benchmark_features)
CHUNK = 8192


def cache_root() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "grec", "benchmark_features")


def examples_from_csv(path: str, spec) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """tf.Example bytes of a task-example CSV with the spec's types (an empty field: absent); labels; task names."""
    import tensorflow as tf

    types = {c.name: c.dtype for c in spec.columns}
    examples, labels, tasks = [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            features = {}
            for name, value in row.items():
                if value == "":
                    continue  # missing
                if types[name] == "string":
                    features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
                elif types[name] == "int":
                    features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                else:
                    features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
            examples.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
            labels.append(int(row[spec.label_column.name]))
            tasks.append(row[spec.task_column.name])
    return examples, np.array(labels), np.array(tasks)


def transform(serialized: Iterable[bytes], tft_output, feature_names) -> dict[str, np.ndarray]:
    """The features the Trainer would see: the pipeline's transform graph applied to raw tf.Examples."""
    import tensorflow as tf

    layer, raw_spec = tft_output.transform_features_layer(), tft_output.raw_feature_spec()
    parts, chunk = [], []

    def flush():
        raw = tf.io.parse_example(tf.constant(chunk), raw_spec)
        out = layer(raw)
        parts.append({name: out[name].numpy() for name in feature_names})
        chunk.clear()

    for record in serialized:
        chunk.append(record)
        if len(chunk) == CHUNK:
            flush()
    if chunk:
        flush()
    return {name: np.concatenate([p[name] for p in parts]) for name in feature_names}


def cache_key(description: dict, spec_path: str, schema_path: str, extra_modules=()) -> str:
    """A digest of ``description`` and the bytes of the spec, schema, preprocessing code and the modules
    ``extra_modules`` (dotted names)."""
    digest = hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode())
    modules = (importlib.util.find_spec(m).origin for m in (*PREPROCESSING_CODE, *extra_modules))
    for path in (spec_path, schema_path, *modules):
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:24]


def cached(
    key: str,
    spec_path: str,
    schema_path: str,
    fit_csv: Callable[[str], str],
    splits: Callable[[], dict[str, Iterable[bytes]]],
):
    """(TFTransformOutput, {split: features}) for cache ``key``, made on a miss: ``fit_csv(folder)`` writes the
    training rows as a CSV and returns its path (TFT analyzes it); ``splits()`` gives every split's
    tf.Examples to transform. A finished entry is renamed into place, so a killed run leaves no half entry."""
    import tensorflow_transform as tft

    from components.feature_spec import load_feature_spec
    from components.model_inputs import input_config_from_transform

    folder = os.path.join(cache_root(), key)
    if not os.path.isdir(folder):
        os.makedirs(cache_root(), exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=f".{key}.", dir=cache_root())
        try:
            from components.transform_check import run_transform

            tft_output = run_transform(fit_csv(scratch), spec_path, schema_path, os.path.join(scratch, "tft"))
            names = input_config_from_transform(load_feature_spec(spec_path), tft_output).feature_names()
            for split, serialized in splits().items():
                np.savez(os.path.join(scratch, f"{split}.npz"), **transform(serialized, tft_output, names))
            shutil.rmtree(os.path.join(scratch, "tft", "tmp"), ignore_errors=True)
            for name in os.listdir(scratch):  # the training CSV is not part of the entry
                if name.endswith(".csv"):
                    os.remove(os.path.join(scratch, name))
            try:
                os.rename(scratch, folder)
            except OSError:  # another run finished the same entry first: same key, same content
                if not os.path.isdir(folder):
                    raise
                shutil.rmtree(scratch, ignore_errors=True)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    tft_output = tft.TFTransformOutput(os.path.join(folder, "tft"))
    features = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".npz"):
            with np.load(os.path.join(folder, name)) as arrays:
                features[name[: -len(".npz")]] = {k: arrays[k] for k in arrays.files}
    return tft_output, features
