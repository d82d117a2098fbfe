"""Dense experts mixed by per-task softmax gates: the building block of MMoE and PLE."""

from __future__ import annotations

import keras
from keras import ops

from models.activation import leaky_relu
from models.validation import require_positive

# Rows per block of a task's own experts: a batch of 256 training rows over 8 tasks pads ~11 % of its own-expert
# rows (the XLA bound pads 25 %); one row a task (a context scored for every task) would pad 8x, so such
# requests gather each row's weights instead (``GatedExperts._own_experts``).
TASK_BLOCK = 8


def in_xla_context() -> bool:
    """Whether the layer is being traced for XLA (``jit_compile``: Keras on a GPU), which cannot size a tensor
    from the data, so the layout takes its static bound. TensorFlow has no public way to ask; this is the
    check its own control-flow code makes. If the private module moves, the answer is True: the bound is
    correct everywhere, only slower when it counts a partial block for every task."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:
        return True
    if tf.executing_eagerly():
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def whole_blocks(rows, block_size):
    """``rows`` (an int or a tensor of counts) rounded up to a multiple of ``block_size``."""
    return (rows + block_size - 1) // block_size * block_size


def task_block_slots(counts, batch, num_tasks, block_size):
    """Slots ``rows_in_task_blocks`` lays out: with a ``batch`` size (XLA) the bound
    ``(ceil(B / block) + min(N, B)) * block`` (an int), else, from the [N] task ``counts``, each task's
    rows rounded up to whole blocks (a tensor)."""
    if batch is not None:  # a bound known when tracing, as XLA needs: each task present wastes less than a block
        return (-(-batch // block_size) + min(num_tasks, batch)) * block_size
    return ops.sum(whole_blocks(counts, block_size))


def static_batch(task_ids):
    """The batch size when the layout must be static (known when tracing, under XLA), else None: everywhere
    else the slots are counted from the rows present, so the cost does not grow with N."""
    batch = task_ids.shape[0]
    return batch if batch is not None and in_xla_context() else None


def rows_in_task_blocks(task_ids, num_tasks, block_size):
    """Lays the rows out task by task, each task's rows padded to whole blocks of ``block_size``.

    Only the tasks present take slots: S = sum over tasks of its row count rounded up to ``block_size``,
    whether the batch size is known when tracing or not. Under XLA (static shapes only, ``static_batch``)
    S is the bound ``(ceil(B / block) + min(N, B)) * block``, the unused blocks on zeros, which grows with N.
    No [B, N] tensor is built; the counts are one [N] vector.

    Args:
        task_ids: <int>[B] in [0, num_tasks).

    Returns:
        (row_slot <int32>[B] each row's slot, slot_row <int32>[S] each slot's row or -1 for padding,
        block_task <int32>[S / block_size] the task of each block).
    """
    task_ids = ops.cast(task_ids, "int32")
    order = ops.cast(ops.argsort(task_ids), "int32")
    sorted_task = ops.take(task_ids, order)
    counts = ops.cast(ops.bincount(task_ids, minlength=num_tasks), "int32")
    padded = whole_blocks(counts, block_size)
    first_sorted = ops.cumsum(counts) - counts  # a task's first position among the sorted rows
    first_slot = ops.cumsum(padded) - padded  # and its first slot
    position = ops.arange(ops.shape(task_ids)[0], dtype="int32")
    sorted_slot = ops.take(first_slot, sorted_task) + position - ops.take(first_sorted, sorted_task)
    num_slots = task_block_slots(counts, static_batch(task_ids), num_tasks, block_size)
    slot_row = ops.scatter(ops.expand_dims(sorted_slot, -1), order + 1, ops.expand_dims(num_slots, 0)) - 1
    row_slot = ops.scatter(ops.expand_dims(order, -1), sorted_slot, ops.expand_dims(ops.shape(task_ids)[0], 0))
    # A used block's first slot always holds a row (a task's padding is shorter than a block); unused ones
    # (static bound) take row 0's task and are never read back.
    block_first_row = ops.take(slot_row, ops.arange(0, num_slots, block_size, dtype="int32"))
    block_task = ops.take(task_ids, ops.maximum(block_first_row, 0))
    return row_slot, slot_row, block_task


@keras.saving.register_keras_serializable(package="grec")
class GatedExperts(keras.layers.Layer):
    """Shared experts plus optional task-specific experts, mixed by the example's task gate.

    MMoE (Ma et al. 2018): ``num_task_experts=0``; every task has a softmax gate
    over the shared experts. PLE's extraction layer (CGC, Tang et al. 2020):
    each task also owns ``num_task_experts`` experts, and its gate mixes the
    shared ones with its own. Each row is one (context, task) example, so only
    that task's gate and own experts run on it, and a row costs the same
    whatever the number of tasks N (no [B, N, ...] tensor is built). The gate's
    weights are gathered per row (``ops.take``: [F_in, E] each, small); the
    own experts' ([Et, F_in, h] a task) per block of rows of one task
    (``rows_in_task_blocks``): gathering them per row copied [Et, F_in, h]
    floats a row and made PLE ~6x slower than MMoE at equal FLOPs. Every shared
    expert runs on every row, which is the cost profile of these models.

    Args:
        num_tasks: N.
        num_shared_experts: experts shared by all tasks.
        num_task_experts: experts owned by each task (0 for MMoE).
        expert_dim: output width of each expert (one Dense + LeakyReLU).
        block_size: rows per block of the own experts (padding granularity: a task's rows in a batch are
            rounded up to a multiple of it).

    Call args:
        inputs: <float>[B, F_in]; task_ids: <int>[B].

    Returns:
        <float>[B, expert_dim].
    """

    def __init__(
        self, num_tasks, num_shared_experts=8, num_task_experts=0, expert_dim=256, block_size=TASK_BLOCK, **kwargs
    ):
        super().__init__(**kwargs)
        require_positive(num_tasks=num_tasks, num_shared_experts=num_shared_experts, expert_dim=expert_dim)
        self.num_tasks = num_tasks
        self.num_shared_experts = num_shared_experts
        self.num_task_experts = num_task_experts
        self.expert_dim = expert_dim
        self.block_size = block_size

    def build(self, inputs_shape, task_ids_shape=None):
        width = inputs_shape[-1]
        n, es, et, h = self.num_tasks, self.num_shared_experts, self.num_task_experts, self.expert_dim
        self.shared_w = self.add_weight(name="shared_w", shape=(es, width, h), initializer="glorot_uniform")
        self.shared_b = self.add_weight(name="shared_b", shape=(es, h), initializer="zeros")
        if et:
            self.task_w = self.add_weight(name="task_w", shape=(n, et, width, h), initializer="glorot_uniform")
            self.task_b = self.add_weight(name="task_b", shape=(n, et, h), initializer="zeros")
        self.gate_w = self.add_weight(name="gate_w", shape=(width, n, es + et), initializer="glorot_uniform")
        self.gate_b = self.add_weight(name="gate_b", shape=(n, es + et), initializer="zeros")

    def call(self, inputs, task_ids):
        task_ids = ops.cast(task_ids, "int32")
        # Shape: [B, F_in] x [Es, F_in, h] -> [B, Es, h].
        experts = leaky_relu(ops.einsum("bi,eih->beh", inputs, self.shared_w) + self.shared_b)
        if self.num_task_experts:
            experts = ops.concatenate([experts, self._own_experts(inputs, task_ids)], axis=1)
        # The row's task's gate only: [F_in, B, Es + Et] weights -> [B, Es + Et].
        gate_w, gate_b = ops.take(self.gate_w, task_ids, axis=1), ops.take(self.gate_b, task_ids, axis=0)
        gates = ops.softmax(ops.einsum("bi,ibe->be", inputs, gate_w) + gate_b, axis=-1)
        return ops.einsum("beh,be->bh", experts, gates)

    def _own_experts(self, inputs, task_ids):
        """The row's task's own experts only: <float>[B, Et, h], in blocks of one task's rows unless padding
        would more than double the rows (a few rows per task, e.g. one context scored for every task), then
        with each row's weights gathered. Decided when tracing if the batch size settles it (under XLA, by
        the static bound), else by one cond on the rows present."""
        batch = task_ids.shape[0]
        if batch is not None:
            most = task_block_slots(None, batch, self.num_tasks, self.block_size)  # a partial block per task
            fewest = whole_blocks(batch, self.block_size)  # every row one task's
            if most <= 2 * batch or static_batch(task_ids) is not None:  # settled, or XLA must settle it
                blocked = most <= 2 * batch
                return self._own_in_blocks(inputs, task_ids) if blocked else self._own_per_row(inputs, task_ids)
            if fewest > 2 * batch:
                return self._own_per_row(inputs, task_ids)
        counts = ops.bincount(ops.cast(task_ids, "int32"), minlength=self.num_tasks)
        blocked = task_block_slots(counts, None, self.num_tasks, self.block_size) <= 2 * ops.shape(task_ids)[0]
        return ops.cond(
            blocked, lambda: self._own_in_blocks(inputs, task_ids), lambda: self._own_per_row(inputs, task_ids)
        )

    def _own_per_row(self, inputs, task_ids):
        # Shape: [B, F_in] x [B, Et, F_in, h] gathered weights -> [B, Et, h].
        own_w, own_b = ops.take(self.task_w, task_ids, axis=0), ops.take(self.task_b, task_ids, axis=0)
        return leaky_relu(ops.einsum("bi,bmih->bmh", inputs, own_w) + own_b)

    def _own_in_blocks(self, inputs, task_ids):
        row_slot, slot_row, block_task = rows_in_task_blocks(task_ids, self.num_tasks, self.block_size)
        et, h = self.num_task_experts, self.expert_dim
        # Shape: [S, F_in] -> [S / block, block, F_in]; padding slots read row 0 and are never read back.
        x_blocks = ops.reshape(
            ops.take(inputs, ops.maximum(slot_row, 0), axis=0), (-1, self.block_size, inputs.shape[-1])
        )
        # Shape: [blocks, block, F_in] x [blocks, Et, F_in, h] -> [blocks, block, Et, h].
        own = ops.einsum("nri,nmih->nrmh", x_blocks, ops.take(self.task_w, block_task, axis=0))
        own = leaky_relu(own + ops.expand_dims(ops.take(self.task_b, block_task, axis=0), 1))
        return ops.take(ops.reshape(own, (-1, et, h)), row_slot, axis=0)

    def compute_output_shape(self, inputs_shape, task_ids_shape=None):
        return (inputs_shape[0], self.expert_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_tasks=self.num_tasks,
            num_shared_experts=self.num_shared_experts,
            num_task_experts=self.num_task_experts,
            expert_dim=self.expert_dim,
            block_size=self.block_size,
        )
        return config
