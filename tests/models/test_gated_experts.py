"""MMoE/PLE mixtures run only the row's own task's gate and experts: the dense formula's scores, at a cost
that does not grow with the number of tasks."""

import numpy as np
import pytest
import tensorflow as tf

from models.gated_experts import GatedExperts


def _leaky(x):
    return np.where(x > 0, x, 0.2 * x)


def _every_task_then_pick(layer, x, task_ids):
    """The dense formula in numpy: every task's gate and experts for every row, then the row's own task's."""
    w = {v.path.split("/")[-1]: np.asarray(v) for v in layer.weights}
    experts = _leaky(np.einsum("bi,eih->beh", x, w["shared_w"]) + w["shared_b"])
    if layer.num_task_experts:
        every = _leaky(np.einsum("bi,nmih->bnmh", x, w["task_w"]) + w["task_b"])
        experts = np.concatenate([experts, every[np.arange(len(x)), task_ids]], axis=1)
    gates = (np.einsum("bi,ine->bne", x, w["gate_w"]) + w["gate_b"])[np.arange(len(x)), task_ids]
    gates = np.exp(gates - gates.max(-1, keepdims=True))
    gates /= gates.sum(-1, keepdims=True)
    return np.einsum("beh,be->bh", experts, gates)


@pytest.mark.parametrize("task_experts", [0, 2])  # MMoE, PLE's extraction layer
def test_scores_equal_the_every_task_formula(task_experts):
    rng = np.random.default_rng(0)
    layer = GatedExperts(num_tasks=5, num_shared_experts=3, num_task_experts=task_experts, expert_dim=4)
    x = rng.normal(size=(9, 6)).astype("float32")
    task_ids = np.array([0, 1, 2, 3, 4, 4, 2, 0, 1])
    got = np.asarray(layer(x, task_ids))
    np.testing.assert_allclose(got, _every_task_then_pick(layer, x, task_ids), rtol=1e-5, atol=1e-6)


def _tensors_with_a_task_axis(num_tasks, batch=7, width=6):
    """Shapes of every tensor the layer's graph builds that has a batch axis followed by an N axis."""
    layer = GatedExperts(num_tasks=num_tasks, num_shared_experts=3, num_task_experts=2, expert_dim=4)
    layer(np.zeros((batch, width), "float32"), np.zeros((batch,), "int32"))
    graph = (
        tf.function(layer.call)
        .get_concrete_function(tf.TensorSpec((batch, width), tf.float32), tf.TensorSpec((batch,), tf.int32))
        .graph
    )
    found = []
    for op in graph.get_operations():
        for out in op.outputs:
            dims = out.shape.as_list() if out.shape.rank else []
            if batch in dims and num_tasks in dims:
                found.append((op.type, dims))
    return found, sum(
        np.prod(out.shape.as_list())
        for op in graph.get_operations()
        for out in op.outputs
        if out.shape.is_fully_defined() and out.shape.rank and out.shape[0] == batch
    )


def test_per_row_work_does_not_grow_with_the_number_of_tasks():
    """No [B, ..., N, ...] tensor is built, and the rows' intermediate tensors are the same size at N=11 and N=13."""
    few, few_size = _tensors_with_a_task_axis(11)
    many, many_size = _tensors_with_a_task_axis(13)
    assert few == [] and many == []
    assert few_size == many_size


def test_rows_in_task_blocks_lays_each_task_out_in_whole_blocks():
    """Tasks 2, 0, 2, 2, 1 in blocks of 2 (4 tasks): task 0 slots 0-1, task 1 slots 2-3, task 2 slots 4-7,
    task 3 (absent) none; padding slots say -1, whether the batch size is known when tracing or not. Under
    XLA (static shapes only) the slots are the bound (ceil(5 / 2) + min(4, 5)) * 2 = 14, the last 6 unused."""
    from models.gated_experts import rows_in_task_blocks

    task_ids = np.array([2, 0, 2, 2, 1], dtype="int32")
    layouts = [
        (
            tf.function(
                lambda t: rows_in_task_blocks(t, 4, 2), input_signature=[tf.TensorSpec(shape, tf.int32)], **xla
            ),
            n,
        )
        for shape, xla, n in (([None], {}, 8), ([5], {}, 8), ([5], {"jit_compile": True}, 14))
    ]
    for layout, slots in layouts:
        row_slot, slot_row, block_task = (np.asarray(t) for t in layout(task_ids))
        assert len(slot_row) == slots and len(block_task) == slots // 2
        assert block_task[:4].tolist() == [0, 1, 2, 2]
        assert slot_row[:4].tolist() == [1, -1, 4, -1] and sorted(slot_row[4:7]) == [0, 2, 3]
        assert np.all(slot_row[7:] == -1)
        assert row_slot[1] == 0 and row_slot[4] == 2 and sorted(row_slot[[0, 2, 3]]) == [4, 5, 6]
        np.testing.assert_array_equal(slot_row[row_slot], np.arange(5))


@pytest.mark.parametrize("batch", [None, 256])
def test_one_task_sentence_runs_the_same_blocks_at_2_and_64_tasks(batch):
    """One task sentence x 256 rows, the batch size unknown or known when tracing (not under XLA): the own
    experts run on 256 slots (32 whole blocks) at N=2 and N=64 alike, not on a bound that counts a partial
    block for every task ((32 + 64) x 8 = 768 slots at N=64), and the scores are the dense formula's."""
    from models.gated_experts import TASK_BLOCK, rows_in_task_blocks

    slots = {}
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 6)).astype("float32")
    task_ids = np.ones(256, "int32")
    spec = (tf.TensorSpec([batch, 6], tf.float32), tf.TensorSpec([batch], tf.int32))
    for n in (2, 64):
        layer = GatedExperts(num_tasks=n, num_shared_experts=2, num_task_experts=2, expert_dim=4)
        layer(x[:2], task_ids[:2])
        forward = tf.function(
            lambda inputs, ids, layer=layer, n=n: (layer(inputs, ids), rows_in_task_blocks(ids, n, TASK_BLOCK)[1]),
            input_signature=spec,
        )
        scores, slot_row = forward(x, task_ids)
        slots[n] = len(slot_row)
        np.testing.assert_allclose(scores.numpy(), _every_task_then_pick(layer, x, task_ids), rtol=1e-5, atol=1e-6)
    assert int(slots[2]) == int(slots[64]) == 256


def test_own_experts_in_blocks_equal_per_row_weights_in_value_and_gradient():
    """Several blocks per task and a batch size unknown when tracing: the scores and the gradient of the own
    experts' weights equal those of gathering each row's weights (the implementation this replaced)."""
    rng = np.random.default_rng(1)
    layer = GatedExperts(num_tasks=4, num_shared_experts=2, num_task_experts=2, expert_dim=3, block_size=4)
    x = tf.constant(rng.normal(size=(23, 5)).astype("float32"))
    task_ids = tf.constant(rng.choice([0, 1, 3], size=23).astype("int32"))  # task 2 absent, 6-9 rows each other
    layer(x, task_ids)

    def per_row(inputs, ids):
        own = tf.einsum("bi,bmih->bmh", inputs, tf.gather(layer.task_w, ids)) + tf.gather(layer.task_b, ids)
        return tf.reduce_sum(tf.nn.leaky_relu(own, 0.2) * tf.range(1.0, 4.0))

    def blocked(inputs, ids):
        return tf.reduce_sum(layer._own_in_blocks(inputs, ids) * tf.range(1.0, 4.0))

    spec = (tf.TensorSpec([None, 5], tf.float32), tf.TensorSpec([None], tf.int32))
    results = []
    for fn in (per_row, blocked):

        @tf.function(input_signature=spec)
        def value_and_grad(inputs, ids, fn=fn):
            with tf.GradientTape() as tape:
                value = fn(inputs, ids)
            return value, tape.gradient(value, [layer.task_w, layer.task_b])

        value, (grad_w, grad_b) = value_and_grad(x, task_ids)
        results.append((float(value), tf.convert_to_tensor(grad_w).numpy(), tf.convert_to_tensor(grad_b).numpy()))
    (want, want_w, want_b), (got, got_w, got_b) = results
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-5, atol=1e-6)
    assert np.all(got_w[2] == 0) and np.any(got_w[3] != 0)  # the absent task's experts get no gradient


def test_own_experts_run_in_blocks_only_when_padding_at_most_doubles_the_rows():
    """20 rows of 2 tasks (24 slots <= 40; XLA's bound (ceil(20/8) + 2) * 8 = 40 <= 40) run in blocks; 2 rows
    of 2 tasks (16 slots > 4; XLA's 24) gather each row's weights. Traced for XLA with the batch size known,
    the graph has one path; otherwise one graph takes both paths at run time. Every way, the scores are the
    dense formula's."""
    rng = np.random.default_rng(2)
    layer = GatedExperts(num_tasks=2, num_shared_experts=2, num_task_experts=2, expert_dim=3)
    layer(np.zeros((2, 5), "float32"), np.zeros((2,), "int32"))
    spec = (tf.TensorSpec([None, 5], tf.float32), tf.TensorSpec([None], tf.int32))
    served = tf.function(layer.call, input_signature=spec)
    for rows, blocked in ((20, True), (2, False)):
        x = rng.normal(size=(rows, 5)).astype("float32")
        task_ids = (np.arange(rows) % 2).astype("int32")
        xla = tf.function(layer.call, jit_compile=True)
        graph = xla.get_concrete_function(x, task_ids).graph
        assert any(op.type == "ScatterNd" for op in graph.get_operations()) == blocked  # only blocks scatter
        want = _every_task_then_pick(layer, x, task_ids)
        for forward in (layer, served, xla, tf.function(layer.call)):
            np.testing.assert_allclose(np.asarray(forward(x, task_ids)), want, rtol=1e-5, atol=1e-6)


def test_ple_executed_flops_count_the_block_padding_as_served():
    """Served (batch size unknown): 20 rows of 2 tasks -> 2 x 16 = 32 slots <= 40, 12 of them padding, each
    Et = 2 own experts of one Dense on both levels (7 tokens x 64 -> 128 -> 128); 64 rows fill their blocks;
    2 rows of 2 tasks are not run in blocks."""
    from benchmarks.request_shapes import config_with_tasks
    from models import presets
    from models.flops import executed_flops, model_flops

    config, params = config_with_tasks(2), presets.small("ple")
    per_slot = 2 * 2 * (7 * 64 * 128 + 128 * 128)
    for rows, padding in ((20, 12), (64, 0), (2, 0)):
        extra = executed_flops("ple", config, rows, 2, **params) - rows * model_flops("ple", config, **params)
        assert extra == padding * per_slot
