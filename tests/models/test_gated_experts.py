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
    return found, sum(np.prod(out.shape.as_list()) for op in graph.get_operations() for out in op.outputs
                      if out.shape.is_fully_defined() and out.shape.rank and out.shape[0] == batch)  # fmt: skip


def test_per_row_work_does_not_grow_with_the_number_of_tasks():
    """No [B, ..., N, ...] tensor is built, and the rows' intermediate tensors are the same size at N=11 and N=13."""
    few, few_size = _tensors_with_a_task_axis(11)
    many, many_size = _tensors_with_a_task_axis(13)
    assert few == [] and many == []
    assert few_size == many_size
