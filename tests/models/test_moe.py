import math

import numpy as np
import pytest
import tensorflow as tf

from models.dispatch import auto_dispatch, dense_dispatch, dense_is_cheaper, sparse_dispatch
from models.moe_losses import load_balancing_loss, router_z_loss
from models.routing import ROUTING_MODES, router_input, top_k_plan
from models.sparse_moe import SparseMoE
from tests.models.harness import run_layer_test

RNG = np.random.default_rng(1)
B, T, S, D = 6, 4, 2, 16
TOKENS = RNG.normal(size=(B, T, D)).astype("float32")
SENTENCE = RNG.normal(size=(B, S, D)).astype("float32")
TASKS = np.array([0, 1, 2, 0, 1, 2])


def test_load_balancing_loss_by_hand():
    # Uniform probabilities, balanced assignments: E * sum(1/E * 1/E) = 1.
    probs = np.full((4, 4), 0.25, "float32")
    assert float(load_balancing_loss(probs, np.array([[0, 1], [2, 3], [0, 1], [2, 3]]))) == pytest.approx(1.0)
    # Everything on expert 0 with probability 1: E * (1 * 1) = E.
    collapsed = np.tile(np.array([[1.0, 0, 0, 0]], "float32"), (4, 1))
    assert float(load_balancing_loss(collapsed, np.zeros((4, 1), "int32"))) == pytest.approx(4.0)
    # f = (0.75, 0.25, 0, 0), P = (0.5, 0.3, 0.1, 0.1): 4 * (0.375 + 0.075) = 1.8.
    probs = np.tile(np.array([[0.5, 0.3, 0.1, 0.1]], "float32"), (4, 1))
    assert float(load_balancing_loss(probs, np.array([[0], [0], [0], [1]]))) == pytest.approx(1.8)


def test_router_z_loss_by_hand():
    assert float(router_z_loss(np.zeros((3, 4), "float32"))) == pytest.approx(math.log(4) ** 2)
    logits = np.array([[2.0, 0.0], [0.0, 0.0]], "float32")
    expected = (math.log(math.exp(2) + 1) ** 2 + math.log(2) ** 2) / 2
    assert float(router_z_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_top_k_plan_by_hand():
    plan = top_k_plan(np.log(np.array([[0.1, 0.6, 0.3]], "float32")), top_k=2)
    assert np.array(plan.expert_index).tolist() == [[1, 2]]
    np.testing.assert_allclose(np.array(plan.combine_weights), [[2 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(np.array(plan.router_probs), [[0.1, 0.6, 0.3]], rtol=1e-6)


def test_router_inputs_per_mode():
    assert tuple(router_input("token", TOKENS, None).shape) == (B * T, D)
    np.testing.assert_allclose(np.array(router_input("sentence", TOKENS, None)), TOKENS.mean(1), rtol=1e-6)
    np.testing.assert_allclose(np.array(router_input("task", TOKENS, SENTENCE)), SENTENCE[:, 0])
    np.testing.assert_allclose(np.array(router_input("task_sentence", TOKENS, SENTENCE)), SENTENCE.mean(1), rtol=1e-6)
    with pytest.raises(ValueError, match="needs the task sentence"):
        router_input("task", TOKENS, None)


def _expert_params(e, d, f, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in [(e, d, f), (e, f), (e, f, d), (e, d)]]


@pytest.mark.parametrize("groups, rows, experts, top_k, block", [(37, 3, 5, 2, 4), (64, 1, 8, 4, 16), (5, 7, 64, 4, 1)])
def test_sparse_dispatch_matches_dense_reference(groups, rows, experts, top_k, block):
    rng = np.random.default_rng(groups)
    x = rng.normal(size=(groups, rows, 8)).astype("float32")
    index = np.stack([rng.permutation(experts)[:top_k] for _ in range(groups)]).astype("int32")
    weights = rng.random((groups, top_k)).astype("float32")
    weights /= weights.sum(1, keepdims=True)
    params = _expert_params(experts, 8, 6)
    np.testing.assert_allclose(
        np.array(sparse_dispatch(x, index, weights, *params, block_size=block)),
        np.array(dense_dispatch(x, index, weights, *params)),
        atol=1e-5,
    )


def test_sparse_dispatch_when_every_group_picks_the_same_experts():
    # One task in the batch: all groups on the same K experts; nothing is dropped.
    x = RNG.normal(size=(40, 2, 8)).astype("float32")
    index = np.tile(np.array([[3, 1]], "int32"), (40, 1))
    weights = np.tile(np.array([[0.7, 0.3]], "float32"), (40, 1))
    params = _expert_params(4, 8, 6)
    out = np.array(sparse_dispatch(x, index, weights, *params, block_size=8))
    np.testing.assert_allclose(out, np.array(dense_dispatch(x, index, weights, *params)), atol=1e-5)
    assert np.all(np.abs(out).sum(-1) > 0)


def test_dense_is_cheaper_below_the_padded_slots():
    """E=8, K=4, block 16: G groups run (ceil(4G/16) + 8) * 16 sparse slots or 8G dense ones."""
    assert dense_is_cheaper(2, 4, 8, 16)  # 16 < 144
    assert dense_is_cheaper(31, 4, 8, 16)  # 248 < 256
    assert not dense_is_cheaper(32, 4, 8, 16)  # 256 = 256
    assert not dense_is_cheaper(256, 4, 8, 16)  # 2048 > 1152


def test_auto_dispatch_takes_the_cheaper_path_and_gives_the_same_result():
    """With G unknown when tracing (the served signatures) one traced function answers a small request by the
    dense path and a large one by the sparse path (the graph holds both, under one cond), both equal to the
    reference; with G known it traces only the path it takes."""
    params = _expert_params(8, 8, 6)
    spec = [
        tf.TensorSpec([None, 3, 8], tf.float32),
        tf.TensorSpec([None, 4], tf.int32),
        tf.TensorSpec([None, 4], tf.float32),
    ]
    traced = tf.function(lambda a, b, c: auto_dispatch(a, b, c, *params, block_size=16), input_signature=spec)
    for groups in (2, 40):
        x = RNG.normal(size=(groups, 3, 8)).astype("float32")
        index = np.stack([RNG.permutation(8)[:4] for _ in range(groups)]).astype("int32")
        weights = np.full((groups, 4), 0.25, "float32")
        want = np.array(dense_dispatch(x, index, weights, *params))
        np.testing.assert_allclose(np.array(traced(x, index, weights)), want, atol=1e-5)
        static = tf.function(lambda a, b, c: auto_dispatch(a, b, c, *params, block_size=16))
        graph = static.get_concrete_function(x, index, weights).graph
        scatters = [op for op in graph.get_operations() if op.type == "ScatterNd"]  # only the sparse path scatters
        assert (len(scatters) > 0) == (groups == 40)
    ops_types = {op.type for op in traced.get_concrete_function().graph.get_operations()}
    assert ops_types & {"If", "StatelessIf"}


def test_sparse_dispatch_compiles_with_xla():
    x = RNG.normal(size=(12, 2, 8)).astype("float32")
    index = np.stack([RNG.permutation(6)[:2] for _ in range(12)]).astype("int32")
    weights = np.full((12, 2), 0.5, "float32")
    params = _expert_params(6, 8, 4)
    compiled = tf.function(lambda a, b, c: sparse_dispatch(a, b, c, *params, block_size=4), jit_compile=True)
    np.testing.assert_allclose(
        np.array(compiled(x, index, weights)), np.array(dense_dispatch(x, index, weights, *params)), atol=1e-5
    )


MOE_KWARGS = dict(
    num_experts=4,
    top_k=2,
    routing="task_sentence",
    expert_hidden_dim=8,
    jitter=0.01,
    load_balance_coef=0.01,
    z_loss_coef=0.001,
    dispatch="sparse",
    block_size=2,
    num_tasks=3,
    fixed_combine_weights=None,
)


def test_sparse_moe_harness():
    run_layer_test(SparseMoE, MOE_KWARGS, (TOKENS, SENTENCE), (B, T, D), call_kwargs=dict(task_ids=TASKS))


@pytest.mark.parametrize("routing", ROUTING_MODES)
def test_sparse_layer_matches_dense_layer_in_every_mode(routing):
    sparse = SparseMoE(**{**MOE_KWARGS, "routing": routing})
    dense = SparseMoE(**{**MOE_KWARGS, "routing": routing, "dispatch": "dense"})
    sparse(TOKENS, SENTENCE)
    dense(TOKENS, SENTENCE)
    dense.set_weights(sparse.get_weights())
    np.testing.assert_allclose(np.array(sparse(TOKENS, SENTENCE)), np.array(dense(TOKENS, SENTENCE)), atol=1e-5)


def test_task_sentence_routing_depends_only_on_the_sentence():
    layer = SparseMoE(**{**MOE_KWARGS, "num_experts": 8})
    layer(TOKENS, SENTENCE)
    sentence = np.repeat(SENTENCE[:1], B, axis=0)  # one sentence, six different contexts
    plan, _ = layer.plan(TOKENS, sentence)
    assert len({tuple(r) for r in np.array(plan.expert_index)}) == 1
    token_layer = SparseMoE(**{**MOE_KWARGS, "num_experts": 8, "routing": "token"})
    token_layer(TOKENS, SENTENCE)
    token_plan, _ = token_layer.plan(TOKENS, sentence)
    assert len({tuple(r) for r in np.array(token_plan.expert_index)}) > 1


def test_jitter_only_in_training():
    layer = SparseMoE(**{**MOE_KWARGS, "jitter": 0.5})
    layer(TOKENS, SENTENCE)
    a, _ = layer.plan(TOKENS, SENTENCE, training=False)
    b, _ = layer.plan(TOKENS, SENTENCE, training=False)
    np.testing.assert_array_equal(np.array(a.router_logits), np.array(b.router_logits))
    c, _ = layer.plan(TOKENS, SENTENCE, training=True)
    assert not np.allclose(np.array(a.router_logits), np.array(c.router_logits))


def test_aux_losses_and_utilization_only_in_training():
    layer = SparseMoE(**MOE_KWARGS)
    layer(TOKENS, SENTENCE, TASKS)
    assert layer.losses == []
    assert float(layer.utilization.result()["busiest_expert_share"]) == 0.0
    layer(TOKENS, SENTENCE, TASKS, training=True)
    balance, z_loss = (float(x) for x in layer.losses)
    plan, _ = layer.plan(TOKENS, SENTENCE)  # no jitter: the same decision up to noise
    assert balance == pytest.approx(0.01 * float(layer.load_balancing_tracker.result()))
    assert z_loss == pytest.approx(0.001 * float(layer.z_loss_tracker.result()))
    counts = np.array(layer.utilization.counts)
    assert counts.sum() == B * 2 and counts[0].sum() == 2 * 2  # two examples of task 0, K = 2 each
    assert plan.expert_index.shape == (B, 2)


def test_router_is_float32_under_mixed_precision():
    layer = SparseMoE(**MOE_KWARGS, dtype="mixed_bfloat16")
    out = layer(TOKENS, SENTENCE)
    assert layer.router.compute_dtype == "float32"
    assert str(out.dtype) == "<dtype: 'bfloat16'>"
    plan, _ = layer.plan(TOKENS, SENTENCE)
    assert plan.router_logits.dtype == tf.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_experts=8, top_k=9), "Received: `top_k=9`, `num_experts=8`"),
        (dict(routing="expert_choice"), "Received: `routing='expert_choice'`"),
        (dict(dispatch="magic"), "Received: `dispatch='magic'`"),
        (dict(jitter=1.0), "Received: `jitter=1.0`"),
        (dict(num_experts=4, top_k=2, fixed_combine_weights=[1.0]), "top_k == num_experts"),
    ],
)
def test_bad_moe_configuration_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        SparseMoE(**kwargs)


def test_learned_and_fixed_routers_return_the_same_plan_type():
    from models.routing import FixedRouter, LearnedRouter, RoutingPlan

    learned = LearnedRouter(num_experts=4, top_k=2, routing="task_sentence")
    learned.build(D)
    plan = learned.plan(TOKENS, SENTENCE)
    fixed = FixedRouter([0.75, 0.25]).plan(TOKENS, SENTENCE)
    for p in (plan, fixed):
        assert isinstance(p, RoutingPlan) and p.expert_index.shape == (B, 2) and p.combine_weights.shape == (B, 2)
    np.testing.assert_allclose(np.sum(np.array(plan.combine_weights), axis=1), 1.0, rtol=1e-6)
    assert plan.router_logits.shape == (B, 4) and fixed.router_logits is None  # no logits, so no router losses
    np.testing.assert_array_equal(np.array(fixed.expert_index), np.tile([0, 1], (B, 1)))
    np.testing.assert_allclose(np.array(fixed.combine_weights), np.tile([0.75, 0.25], (B, 1)))
    # Per token: one group for each of the T tokens of each example.
    assert FixedRouter([1.0], per_example=False).plan(TOKENS).expert_index.shape == (B * T, 1)


def test_feed_forward_is_one_expert_on_every_token():
    from models.dispatch import dense_dispatch
    from models.feed_forward import FeedForward

    layer, _ = run_layer_test(FeedForward, dict(hidden_dim=8), TOKENS, (B, T, D))
    normed = np.array(layer.norm(TOKENS))
    (w_in, b_in), (w_out, b_out) = layer.inner.get_weights(), layer.outer.get_weights()
    groups = normed.reshape(B * T, 1, D)  # the expert of models/dispatch.py with these weights, weight 1
    expert = dense_dispatch(
        groups,
        np.zeros((B * T, 1), "int32"),
        np.ones((B * T, 1), "float32"),
        w_in[None],
        b_in[None],
        w_out[None],
        b_out[None],
    )
    np.testing.assert_allclose(np.array(layer(TOKENS)), TOKENS + np.array(expert).reshape(B, T, D), atol=1e-5)
