import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import MODEL_NAMES, build_model
from models.grec import GRec
from models.input_config import InputConfig
from models.routing import FixedRouter
from tests.models import fixtures
from tests.models.harness import assert_config_complete


def _model(name, config=fixtures.FULL, **overrides):
    model = build_model(name, config, **{**fixtures.small_kwargs(name), **overrides})
    model.build_from_config_inputs()
    return model


def _labels(batch, seed=0):
    return np.random.default_rng(seed).integers(0, 2, size=batch)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_complete_and_round_trip(name):
    model = _model(name)
    assert_config_complete(model, fixtures.small_kwargs(name))
    x = fixtures.inputs()
    clone = type(model).from_config(model.get_config())
    clone.build_from_config_inputs()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.array(clone(x)), np.array(model(x)), atol=1e-6)
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_keras_file_and_savedmodel_export_reload_with_equal_predictions(name, tmp_path):
    model = _model(name)
    x = fixtures.inputs(batch=8)
    expected = np.array(model(x))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(np.array(reloaded(x)), expected, atol=1e-6)
    model.export(str(tmp_path / "saved"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(np.array(served.serve(x)), expected, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_fit_step_with_xla_and_finite_scores(name):
    model = _model(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = model.fit(fixtures.inputs(batch=32), _labels(32), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(history.history["task_loss"][0])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", ["grec", "ple"])
def test_mixed_precision_runs(name, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = _model(name)
        model.compile(optimizer="adam")
        history = model.fit(fixtures.inputs(batch=16), _labels(16), batch_size=16, epochs=1, verbose=0)
        scores = np.array(model(fixtures.inputs(batch=8)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"][0])
    assert scores.dtype == np.float32 and np.all((scores > 0) & (scores < 1))


def test_a_dataset_without_text_history_or_image_works():
    for name in MODEL_NAMES:
        model = _model(name, fixtures.MINIMAL)
        scores = np.array(model(fixtures.inputs(fixtures.MINIMAL, batch=5)))
        assert scores.shape == (5,)
    assert fixtures.MINIMAL.num_tokens == 2 and fixtures.FULL.num_tokens == 7


def test_auxiliary_losses_reach_the_optimised_total():
    model = _model("grec", load_balance_coef=0.5, z_loss_coef=0.25, jitter=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # lr 0: one step, nothing moves
    x, y = fixtures.inputs(batch=16), _labels(16)
    logs = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    expected = logs["task_loss"][0] + 0.5 * logs["load_balancing_loss"][0] + 0.25 * logs["router_z_loss"][0]
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert logs["loss"][0] > logs["task_loss"][0] + 0.4  # load balancing >= 1 by construction
    # ...and they carry gradient to the router.
    with tf.GradientTape() as tape:
        scores = model(x, training=True)
        total = model.compute_loss(x, y, scores, training=True)
    assert np.abs(np.array(tape.gradient(total, model.moe.router.kernel))).sum() > 0


def _cross_entropy(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.mark.parametrize("name", ["grec", "ple"])
def test_static_task_weights_weigh_each_examples_loss_by_its_task(name):
    weights = [1.0, 3.0, 0.5, 2.0, 1.0]
    model = _model(name, task_weights=weights)
    x, y = fixtures.inputs(batch=64, seed=3), _labels(64, seed=3)
    ce = _cross_entropy(y, np.asarray(model(x, training=False)).reshape(-1))
    w = np.asarray(weights)[x["task"].reshape(-1)]
    model.compile(optimizer="adam")
    found = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert found["task_loss"] == pytest.approx((w * ce).sum() / w.sum(), rel=1e-5)
    # With sample weights too, each example counts with their product.
    sample = np.random.default_rng(4).uniform(0.5, 2.0, 64)
    found = model.evaluate(x, y, sample_weight=sample, batch_size=64, verbose=0, return_dict=True)
    assert found["task_loss"] == pytest.approx((sample * w * ce).sum() / (sample * w).sum(), rel=1e-5)


def test_uncertainty_weighting_optimises_kendalls_objective_and_validates_on_the_static_one():
    weights = [1.0, 2.0, 1.0, 1.0, 1.0]
    model = _model("mmoe", task_weights=weights, loss_weighting="uncertainty")
    s = np.array([0.5, -1.0, 0.0, 2.0, 0.3], dtype="float32")
    model.task_log_variance.assign(s)
    x, y = fixtures.inputs(batch=64, seed=5), _labels(64, seed=5)
    scores = model(x, training=False)
    ce = _cross_entropy(y, np.asarray(scores).reshape(-1))
    t = x["task"].reshape(-1)
    w = np.asarray(weights)[t]
    trained = float(model.compute_loss(x, y, scores, training=True))
    expected = (w * (np.exp(-s[t]) * ce + s[t] / 2)).sum() / w.sum()
    assert trained == pytest.approx(expected, rel=1e-5)
    assert float(model.compute_loss(x, y, scores, training=False)) == pytest.approx((w * ce).sum() / w.sum(), rel=1e-5)
    assert model.loss_weights() == {"static": weights, "learned": pytest.approx(np.exp(-s).tolist(), rel=1e-6)}
    # The log-variances get gradient from the loss, and survive the config round trip as a setting.
    with tf.GradientTape() as tape:
        scores = model(x, training=True)
        total = model.compute_loss(x, y, scores, training=True)
    grad = tf.convert_to_tensor(tape.gradient(total, model.task_log_variance)).numpy()
    ce = _cross_entropy(y, np.asarray(scores).reshape(-1))
    # d/ds_k of sum_i w_i (exp(-s) CE_i + s / 2) / sum_i w_i, over task k's rows.
    expected = [(w * (t == k) * (0.5 - np.exp(-s[k]) * ce)).sum() / w.sum() for k in range(5)]
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-7)
    clone = type(model).from_config(model.get_config())
    assert (clone.task_weights, clone.loss_weighting) == (weights, "uncertainty")
    assert _model("mmoe").loss_weights() == {"static": [1.0] * 5, "learned": None}


def test_metrics_are_reported_separately_with_expert_utilization():
    model = _model("grec")
    model.compile(optimizer="adam")
    logs = model.fit(fixtures.inputs(batch=32), _labels(32), batch_size=16, epochs=1, verbose=0).history
    for key in ("loss", "task_loss", "load_balancing_loss", "router_z_loss", "busiest_expert_share", "expert_3_share"):
        assert key in logs, key
    assert sum(logs[f"expert_{e}_share"][0] for e in range(4)) == pytest.approx(1.0, rel=1e-5)
    by_task = model.moe.utilization.shares_by_task()
    assert by_task.shape == (5, 4)
    np.testing.assert_allclose(by_task.sum(1)[by_task.sum(1) > 0], 1.0, rtol=1e-5)


@pytest.mark.parametrize("routing", ["task", "task_sentence"])
def test_specialised_model_gives_identical_scores_for_its_task_sentence(routing):
    model = _model("grec", routing=routing, num_experts=8, top_k=2)
    model.compile(optimizer="adam")
    x = fixtures.inputs(batch=64, seed=3)
    model.fit(x, _labels(64), batch_size=32, epochs=1, verbose=0)
    sentence = [int(x["task"][0]), int(x["flow"][0]), int(x["surface"][0])]
    special = model.specialize(sentence)
    rows = (x["task"] == sentence[0]) & (x["flow"] == sentence[1]) & (x["surface"] == sentence[2])
    if routing == "task":
        rows = x["task"] == sentence[0]
    assert rows.sum() >= 1
    np.testing.assert_allclose(np.array(special(x))[rows], np.array(model(x))[rows], atol=1e-5)
    assert special.moe.w_in.shape[0] == 2 and isinstance(special.moe.router, FixedRouter)
    assert special.count_params() < model.count_params()


def test_dense_grec_has_one_expert_of_equal_active_width():
    dense = _model("dense_grec")
    sparse = _model("grec")
    assert not hasattr(dense, "moe") and dense.ffn.inner.kernel.shape[-1] == 2 * sparse.moe.w_in.shape[-1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(top_k=9, num_experts=8), "Received: `top_k=9`, `num_experts=8`"),
        (dict(dim=30, num_heads=4), "Received: `dim=30`, `num_heads=4`"),
        (dict(routing="random"), "Received: `routing='random'`"),
        (dict(loss_weighting="gradnorm"), "Received: `loss_weighting='gradnorm'`"),
        (dict(task_weights=[1.0, 2.0]), "one positive weight per main-task id \\(5\\)"),
        (dict(task_weights=[1.0, 1.0, 0.0, 1.0, 1.0]), "one positive weight per main-task id"),
    ],
)
def test_bad_model_configuration_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GRec(fixtures.FULL.to_dict(), **kwargs)


def test_empty_task_list_and_unknown_model_are_named():
    with pytest.raises(ValueError, match="task list must not be empty"):
        InputConfig(task_columns=[])
    with pytest.raises(ValueError, match="Received: `name='xgboost'`"):
        build_model("xgboost", fixtures.FULL)


def test_dcn_v2_crosses_are_x0_times_a_low_rank_map_of_x_plus_x_then_the_mlp():
    model = _model("dcn_v2", num_cross=2, cross_rank=3, hidden_layers=1)
    width = model.num_tokens * model.dim
    flat = np.random.default_rng(0).normal(size=(5, width)).astype("float32")
    x = flat
    for cross in model.crosses:
        (down,), (up, bias) = cross.layers[0].get_weights(), cross.layers[1].get_weights()
        assert down.shape == (width, 3) and up.shape == (3, width)  # rank 3, not width x width
        x = flat * (x @ down @ up + bias) + x
    kernel, bias = model.deep.layers[0].get_weights()
    hidden = x @ kernel + bias
    expected = np.where(hidden > 0, hidden, 0.2 * hidden)  # LeakyReLU(0.2)
    np.testing.assert_allclose(np.asarray(model.flat_body(flat, None)), expected, rtol=1e-4, atol=1e-4)


def test_every_model_serialises_exactly_its_constructor_arguments():
    """The skeleton's get_config: the shared keys and each model's CONFIG_KEYS are the constructor's keywords."""
    from models.presets import accepted_keys

    for name in MODEL_NAMES:
        config = _model(name).get_config()
        keras_keys = {"name", "trainable", "dtype"}
        assert set(config) - keras_keys == {"input_config", *accepted_keys(name)}, name


REGRESSION = dataclasses.replace(fixtures.FULL, target=("__target_shift", "__target_scale"))
LOSSES = ["cross_entropy", "mse", "log_mse", "huber", "cross_entropy"]  # by main-task id


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_regression_tasks_answer_in_label_units_and_are_fit_on_the_scaled_target(name):
    model = build_model(name, REGRESSION, task_losses=LOSSES, **fixtures.small_kwargs(name))
    x = fixtures.inputs(REGRESSION, batch=64, seed=7)
    t, shift, scale = x["task"].reshape(-1), x["__target_shift"], x["__target_scale"]
    logit = np.asarray(model.towers(model.body(*model.encoder(x), training=False), t, logits=True))
    out = np.asarray(model(x, training=False)).reshape(-1)
    # Binary rows: the probability; mse and huber rows: shift + scale x the head's value; log_mse: its expm1.
    expected = np.where(t == 1, shift + scale * logit, 1 / (1 + np.exp(-logit)))
    expected = np.where(t == 2, np.expm1(shift + scale * logit), expected)
    expected = np.where(t == 3, shift + scale * logit, expected)
    np.testing.assert_allclose(out, expected, rtol=2e-4, atol=1e-5)
    # The loss: cross-entropy on binary rows; on regression rows the error on the scaled target (squared, Huber
    # with delta 1), log1p(value) against log1p(label) for log_mse.
    y = np.where(
        np.isin(t, [1, 2, 3]), np.random.default_rng(8).gamma(2.0, 3.0, 64), np.random.default_rng(8).integers(0, 2, 64)
    )
    error = np.where(t == 2, (np.log1p(out.clip(-1 + 1e-6)) - np.log1p(y)) / scale, (out - y) / scale)
    huber = np.where(np.abs(error) <= 1, 0.5 * error**2, np.abs(error) - 0.5)
    per_row = np.where(t == 3, huber, np.where(np.isin(t, [1, 2]), error**2, _cross_entropy(y, out)))
    found = float(model.compute_loss(x, y.astype("float32"), out, training=False))
    assert found == pytest.approx(per_row.mean(), rel=1e-4)
    clone = type(model).from_config(model.get_config())
    assert clone.task_losses == LOSSES and clone.input_config["target"] == list(REGRESSION.target)
    binary_only = build_model(name, fixtures.FULL, task_losses=["cross_entropy"] * 5, **fixtures.small_kwargs(name))
    assert binary_only.task_losses is None  # every task binary: the model as without the argument
    if name != "grec":
        return  # the output and loss above are the skeleton's, shared by every model: one fit is enough
    # It trains: the regression rows' error falls (labels in their units; the mean of task 1 is far from 0).
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    before = np.abs(out - y)[t == 1].mean()
    model.fit(x, y.astype("float32"), batch_size=64, epochs=15, verbose=0)
    after = np.abs(np.asarray(model(x, training=False)).reshape(-1) - y)[t == 1].mean()
    assert after < 0.7 * before


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_chained_task_answers_its_given_tasks_probability_times_its_own(name):
    chain = [-1, -1, 1, -1, -1]  # task 2 is chained on task 1 (ESMM: p(click) x p(convert | click))
    model = build_model(name, fixtures.FULL, task_chain=chain, **fixtures.small_kwargs(name))
    x = fixtures.inputs(fixtures.FULL, batch=64, seed=3)
    t = x["task"].reshape(-1)
    assert (t == 2).sum() > 5
    out = np.asarray(model(x, training=False)).reshape(-1)
    own = np.asarray(model._answer(x, training=False)).reshape(-1)  # each row's own head
    as_given = np.asarray(model._answer({**x, "task": np.ones_like(x["task"])}, training=False)).reshape(-1)
    np.testing.assert_allclose(out, np.where(t == 2, own * as_given, own), rtol=1e-5, atol=1e-7)
    assert not np.allclose(out[t == 2], own[t == 2])  # the product, not the conditional head alone
    y = np.random.default_rng(4).integers(0, 2, 64).astype("float32")
    found = float(model.compute_loss(x, y, out, training=False))
    assert found == pytest.approx(_cross_entropy(y, out).mean(), rel=1e-4)  # the loss on the chained answer
    clone = type(model).from_config(model.get_config())
    assert clone.task_chain == chain
    assert build_model(name, fixtures.FULL, task_chain=[-1] * 5, **fixtures.small_kwargs(name)).task_chain is None
    with pytest.raises(ValueError, match="task_chain"):
        build_model(name, fixtures.FULL, task_chain=[-1, -1, 2, -1, -1], **fixtures.small_kwargs(name))
    if name != "grec":
        return
    model.compile(optimizer=keras.optimizers.Adam(0.01))  # it trains through the product
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] < before
