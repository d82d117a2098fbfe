"""Adam whose sparse gradients update only the rows they touch (TF1's ``LazyAdamOptimizer`` semantics).

An embedding table's gradient is sparse (``tf.IndexedSlices``: the rows a batch looked up). Keras 3's Adam
(3.12 here) turns it into dense updates of the whole table and of both its moment slots, so every step pays
for every row of every table: 34-47 ms per million rows on this machine (results/embedding_tables.md;
keras-team/keras#19992), which rules out tables of millions of ids. Keras 3 has no lazy variant and the
libraries that had one (tensorflow-addons, TF1's ``tf.contrib.opt``) are Keras 2 or gone, hence this class.

For a sparse gradient, the rows a batch touched (duplicates summed) get Adam's update: their moments move
towards the gradient and the row moves by the bias-corrected step, with the step count shared with the
dense variables. Rows the batch did not touch keep their values and moments (dense Adam would decay their
moments and keep moving them). Dense gradients get Keras' Adam unchanged. The cost of a step is then in
the rows touched, not the rows held. Other weights gathered by id (the per-task towers' and gates'
weights, by the main task) have sparse gradients too: a task absent from a batch leaves its weights as
they are, where Adam would keep moving them on their momentum. Each touched row is found with
``tf.unique``, which has no XLA kernel; a step compiled with XLA (Keras' default on a GPU) sums the rows by
sorting into slots of a static size instead (``_summed_rows``): the same updates, more work where many
lookups share few rows.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="grec")
class LazyAdam(keras.optimizers.Adam):
    """Keras' Adam with sparse (embedding-row) updates; dense gradients as Adam. No ``amsgrad``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("LazyAdam: amsgrad is not supported (its maximum is over every row)")

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf  # the TensorFlow backend's sparse gradient; any other backend: Adam

        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        alpha = ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(beta_2, step)) / (1 - ops.power(beta_1, step))
        values = tf.cast(gradient.values, dtype)
        if _in_xla():
            rows, grad, touched = _summed_rows(gradient.indices, values)
        else:  # each touched row once: cheaper where many lookups share few rows (a task's tower weights)
            rows, position = tf.unique(gradient.indices)
            grad, touched = tf.math.unsorted_segment_sum(values, position, tf.shape(rows)[0]), 1.0
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_old, v_old = tf.gather(m.value, rows), tf.gather(v.value, rows)
        m_rows = beta_1 * m_old + (1 - beta_1) * grad
        v_rows = beta_2 * v_old + (1 - beta_2) * tf.square(grad)
        # Written as increments (scatter-add): XLA's padding slots add zeros to row 0, whatever rows are touched.
        self.assign_add(m, tf.IndexedSlices((m_rows - m_old) * touched, rows))
        self.assign_add(v, tf.IndexedSlices((v_rows - v_old) * touched, rows))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon) * touched
        self.assign_sub(variable, tf.IndexedSlices(step_rows, rows))


def _in_xla() -> bool:
    """Whether the step is being compiled by XLA (``jit_compile``): TensorFlow's own test of the graph being
    built (an internal module, TF 2.16 here); when it cannot be asked, the XLA-safe path."""
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:
        return True
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()))


def _summed_rows(indices, values):
    """(rows, their summed gradients, a 1/0 mask), each row once, in slots of a static size (the lookups'
    count, so XLA compiles it: ``tf.unique`` has no XLA kernel): sorted, each run of one row summed into a
    slot; the slots after the last row are padding (row 0, gradient 0, mask 0)."""
    import tensorflow as tf

    slots = tf.shape(indices)[0]
    order = tf.argsort(indices)
    ids = tf.gather(indices, order)
    previous = tf.concat([tf.constant([-1], ids.dtype), ids], 0)[:-1]  # ids are >= 0
    first = tf.not_equal(ids, previous)  # the first lookup of each row
    slot = tf.cumsum(tf.cast(first, tf.int32)) - 1  # each lookup's row's slot
    summed = tf.math.unsorted_segment_sum(tf.gather(values, order), slot, slots)
    used = tf.range(slots) < tf.reduce_sum(tf.cast(first, tf.int32))
    rows = tf.where(used, tf.math.unsorted_segment_max(ids, slot, slots), tf.zeros_like(ids))
    mask_shape = tf.concat([[slots], tf.ones([tf.rank(values) - 1], tf.int32)], 0)
    return rows, summed, tf.reshape(tf.cast(used, values.dtype), mask_shape)
