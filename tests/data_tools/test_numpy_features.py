import numpy as np

from components.feature_spec import load_feature_spec
from data_tools import synthetic
from data_tools.numpy_features import NumpyPreprocessor
from tests.data_tools.test_synthetic import SPEC


def _split():
    config = synthetic.SyntheticConfig(num_rows=8_000, seed=2)
    columns = synthetic.generate(config)
    is_eval = columns["ts"] >= config.eval_start_ts
    return {k: v[~is_eval] for k, v in columns.items()}, {k: v[is_eval] for k, v in columns.items()}


def test_transformed_features_follow_the_input_config():
    train, evals = _split()
    pre = NumpyPreprocessor(load_feature_spec(SPEC)).fit(train)
    config = pre.input_config()
    out = pre.transform(evals)
    assert sorted(out) == sorted(config.feature_names())
    assert "oracle_p" not in out and "label" not in out
    for name, size in (*config.task_columns, *config.categorical):
        assert out[name].min() >= 0 and out[name].max() < size, name
    assert out["query"].shape == (len(evals["label"]), 8) and out["hist_items"].shape[1] == 20
    assert out["image_emb"].shape[1] == 16
    for name in config.numerical:
        assert np.isfinite(out[name]).all()
    # Training numericals are z-scored: mean 0 where present.
    assert abs(pre.transform(train)["price"].mean()) < 1e-3


def test_unseen_values_map_to_oov_ids_never_crash():
    train, evals = _split()
    pre = NumpyPreprocessor(load_feature_spec(SPEC)).fit(train)
    evals = dict(evals)
    evals["task"] = np.array(["brand_new_task"] + list(evals["task"][1:]), dtype=object)
    evals["user_id"] = np.array(["u_never_seen"] * len(evals["user_id"]), dtype=object)
    out = pre.transform(evals)
    task_vocab = len(pre.vocabularies["task"])
    assert out["task"][0] == task_vocab  # the one OOV bucket of `task`
    assert (out["user_id"] >= len(pre.vocabularies["user_id"])).all()
    # Padding is 0 and never a real token.
    lengths = np.array([len(q.split()) for q in evals["query"]])
    assert ((out["query"] > 0).sum(1) == np.minimum(lengths, 8)).all()
