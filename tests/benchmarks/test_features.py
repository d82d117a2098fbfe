"""The benchmarks' features: the pipeline's own preprocessing_fn, made once per content and read back equal."""

import os
import shutil

import numpy as np
import pytest

from benchmarks import features, harness
from data_tools import synthetic, writers


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(features.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _splits(rows=3_000):
    splits = harness.synthetic_splits(synthetic.SyntheticConfig(num_rows=rows, seed=5), validation_days=7)
    # What the old numpy twin got wrong: upper-case text, values never seen in training, missing numbers.
    evals = splits["eval"]
    evals["query"][0] = evals["query"][1].upper()
    evals["user_id"][2] = "a user nobody has seen"
    evals["tenure_days"][3] = np.nan  # may be missing (price may not: the schema requires it)
    return splits


def _make(splits, key, calls):
    def fit_csv(folder):
        calls.append(folder)
        path = os.path.join(folder, "train.csv")
        writers.write_csv(splits["train"], path)
        return path

    return features.cached(
        key,
        harness.SPEC_PATH,
        harness.SCHEMA_PATH,
        fit_csv,
        lambda: {n: writers.serialize_examples(c) for n, c in splits.items()},
    )


def test_features_are_the_transform_graphs_made_once_and_read_back_equal(cache):
    splits, calls = _splits(), []
    tft_output, made = _make(splits, "k1", calls)
    _, again = _make(splits, "k1", calls)
    assert len(calls) == 1  # the second call read the cache
    assert set(made) == {"train", "valid", "eval"}
    for split in made:
        assert made[split].keys() == again[split].keys()
        for name in made[split]:
            np.testing.assert_array_equal(made[split][name], again[split][name])
    # Every row is what the Transform graph the Trainer uses gives for it.
    layer = tft_output.transform_features_layer()
    import tensorflow as tf

    raw = tf.io.parse_example(
        tf.constant(list(writers.serialize_examples(splits["eval"]))), tft_output.raw_feature_spec()
    )
    expected = layer(raw)
    for name, value in made["eval"].items():
        np.testing.assert_array_equal(value, expected[name].numpy(), err_msg=name)
    ev = made["eval"]
    np.testing.assert_array_equal(ev["query"][0], ev["query"][1])  # text is lower-cased
    user_vocab = tft_output.vocabulary_by_name(_vocab_name("user_id"))
    assert ev["user_id"][2] >= len(user_vocab)  # an OOV id, past the vocabulary
    assert ev["tenure_days"][3] == 0.0  # missing: the training mean, z-scored
    assert not any(name.endswith(".csv") for name in os.listdir(cache / "k1"))
    assert not [n for n in os.listdir(cache) if n.startswith(".")]  # no half-made entry left


def _vocab_name(column):
    from components.preprocessing import vocabulary_name

    return vocabulary_name(column)


def test_the_key_covers_the_spec_and_the_description(tmp_path):
    spec = tmp_path / "feature_spec.yaml"
    shutil.copy(harness.SPEC_PATH, spec)
    key = features.cache_key({"rows": 1}, str(spec), harness.SCHEMA_PATH)
    assert key == features.cache_key({"rows": 1}, str(spec), harness.SCHEMA_PATH)
    assert key != features.cache_key({"rows": 2}, str(spec), harness.SCHEMA_PATH)
    spec.write_text(spec.read_text() + "\n# edited\n")
    assert key != features.cache_key({"rows": 1}, str(spec), harness.SCHEMA_PATH)


def test_a_failed_build_leaves_no_entry(cache):
    def fit_csv(folder):
        raise RuntimeError("the data could not be written")

    with pytest.raises(RuntimeError, match="could not be written"):
        features.cached("k2", harness.SPEC_PATH, harness.SCHEMA_PATH, fit_csv, dict)
    assert os.listdir(cache) == []
