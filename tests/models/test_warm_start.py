"""Warm start carries each id-indexed row to the id with the same value the next day: the warm-started model
computes exactly what the old one did on rows whose values both know, for every model of the registry."""

import numpy as np
import pytest

from models import MODEL_NAMES, build_model, presets
from models.input_config import InputConfig
from models.warm_start import CannotWarmStart, id_axes, restore, save

OOV, PAD = "\0oov 0", "\0padding"
DAY_1 = {
    "task": ["ctr", "cvr", "atc", OOV],
    "flow": ["home", "search", OOV],
    "user": ["u1", "u2", "u3", "u4", "u5", OOV],
    "region": ["nl", "de", OOV],
    "query": [PAD, "red", "shoes", "blue", "bag", "\0oov"],
    "hist": [PAD, "i1", "i2", "i3", "\0oov"],
}
# The next day: ids given by another frequency order, u6 and "hat" new, u1 and "bag" gone.
DAY_2 = {
    "task": ["cvr", "atc", "ctr", OOV],
    "flow": ["search", "home", OOV],
    "user": ["u3", "u6", "u5", "u2", "u4", OOV],
    "region": ["de", "nl", OOV],
    "query": [PAD, "shoes", "hat", "red", "blue", "\0oov"],
    "hist": [PAD, "i3", "i1", "i2", "\0oov"],
}
ROWS = [  # values both days know
    {"task": t, "flow": f, "user": u, "region": r, "query": q, "hist": h}
    for t, f, u, r, q, h in [
        ("ctr", "home", "u3", "nl", ["red", "shoes"], ["i1", "i3"]),
        ("cvr", "search", "u2", "de", ["blue"], ["i2"]),
        ("atc", "home", "u5", "de", ["shoes", "blue", "red"], []),
        ("ctr", "search", "u4", "nl", [], ["i3", "i2", "i1"]),
    ]
]


def _config(keys):
    return InputConfig(
        task_columns=[("task", len(keys["task"])), ("flow", len(keys["flow"]))],
        categorical=[("user", len(keys["user"])), ("region", len(keys["region"]))],
        numerical=["price"],
        text=[("query", len(keys["query"]), 4)],
        history=[("hist", len(keys["hist"]), 3)],
        image=("img", 4),
    )


def _inputs(keys):
    """The same raw rows as each day's ids."""
    x = {}
    for name in ("task", "flow", "user", "region"):
        x[name] = np.array([keys[name].index(row[name]) for row in ROWS], dtype="int64")
    for name, length in (("query", 4), ("hist", 3)):
        ids = [[keys[name].index(v) for v in row[name]] for row in ROWS]
        x[name] = np.array([i + [0] * (length - len(i)) for i in ids], dtype="int64")
    x["price"] = np.linspace(-1, 1, len(ROWS)).astype("float32")
    x["img"] = np.ones((len(ROWS), 4), dtype="float32")
    return x


def _model(name, keys, seed):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(name, _config(keys), **presets.resolve(name))
    model.build_from_config_inputs()
    return model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_warm_started_model_scores_the_same_rows_as_the_old_one(tmp_path, name):
    old = _model(name, DAY_1, seed=1)
    for weight in old.weights:  # trained-looking weights: nothing left at its zero initialisation
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype(weight.dtype))
    settings = {"model": name}
    save(old, DAY_1, str(tmp_path), settings)
    new = _model(name, DAY_2, seed=2)
    fresh = np.asarray(new.predict(_inputs(DAY_2), verbose=0))
    report = restore(new, DAY_2, str(tmp_path), settings)
    want = np.asarray(old.predict(_inputs(DAY_1), verbose=0))
    got = np.asarray(new.predict(_inputs(DAY_2), verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fresh, want, atol=1e-3)  # the check can fail: a cold model scores otherwise
    assert report.ids["user"] == {"kept": 5, "new": 1, "dropped": 1}  # u3 u5 u2 u4 + OOV; u6 new; u1 gone
    assert report.ids["query"] == {"kept": 5, "new": 1, "dropped": 1}
    assert report.ids["task"] == {"kept": 4, "new": 0, "dropped": 0}
    assert report.remapped == len(id_axes(new)) and report.copied + report.remapped == len(new.weights)
    assert "remapped by id value" in report.summary()


def test_learned_task_loss_weights_follow_their_task_to_its_new_id(tmp_path):
    import keras

    def model(keys, seed):
        keras.utils.set_random_seed(seed)
        built = build_model("mmoe", _config(keys), **presets.resolve("mmoe"), loss_weighting="uncertainty")
        built.build_from_config_inputs()
        return built

    old = model(DAY_1, 1)
    old.task_log_variance.assign(np.array([0.1, 0.2, 0.3, 0.4], dtype="float32"))  # ctr, cvr, atc, OOV
    save(old, DAY_1, str(tmp_path), {"model": "mmoe"})
    new = model(DAY_2, 2)
    restore(new, DAY_2, str(tmp_path), {"model": "mmoe"})
    np.testing.assert_allclose(new.task_log_variance.numpy(), [0.2, 0.3, 0.1, 0.4])  # cvr, atc, ctr, OOV
    # A static model has one weight fewer: named, nothing changed.
    static = _model("mmoe", DAY_2, seed=3)
    with pytest.raises(CannotWarmStart, match="weights, this one"):
        restore(static, DAY_2, str(tmp_path), {"model": "mmoe"})


def test_new_ids_keep_their_initialisation_and_nothing_changes_when_the_architecture_differs(tmp_path):
    old = _model("grec", DAY_1, seed=1)
    save(old, DAY_1, str(tmp_path), {"model": "grec"})
    new = _model("grec", DAY_2, seed=2)
    table = new.encoder.context.embedding.embeddings  # users then regions, at offsets
    before = np.asarray(table.numpy()).copy()
    restore(new, DAY_2, str(tmp_path), {"model": "grec"})
    after, old_table = np.asarray(table.numpy()), np.asarray(old.encoder.context.embedding.embeddings.numpy())
    np.testing.assert_array_equal(after[1], before[1])  # u6: new, its own fresh row
    np.testing.assert_array_equal(after[0], old_table[2])  # u3 was id 2
    np.testing.assert_array_equal(after[6], old_table[7])  # region "de": id 1 of the second column (offset 6)

    wider = build_model("grec", _config(DAY_2), **presets.resolve("grec", {"dim": 32}))
    wider.build_from_config_inputs()
    untouched = [np.asarray(w.numpy()).copy() for w in wider.weights]
    with pytest.raises(CannotWarmStart, match=r"weight .* was \[\d+(, \d+)*\], is"):
        restore(wider, DAY_2, str(tmp_path), {"model": "grec"})
    assert all(np.array_equal(a, np.asarray(w.numpy())) for a, w in zip(untouched, wider.weights, strict=True))
    with pytest.raises(CannotWarmStart, match="the saved model has model 'grec', this run 'mmoe'"):
        restore(new, DAY_2, str(tmp_path), {"model": "mmoe"})
