"""LazyAdam updates an embedding table's touched rows as Adam would and leaves the other rows and their moments
alone; the models' Embedding reads only the rows it looks up and computes what Keras' Embedding does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import training
from models.embedding import Embedding
from models.lazy_adam import LazyAdam

ROWS, WIDTH = 6, 3


def _table(seed=0):
    return keras.Variable(np.random.default_rng(seed).normal(size=(ROWS, WIDTH)).astype("float32"), name="table")


def _sparse(rows, seed):
    """A sparse gradient over ``rows`` (repeats allowed) and the dense gradient it stands for."""
    values = np.random.default_rng(seed).normal(size=(len(rows), WIDTH)).astype("float32")
    dense = np.zeros((ROWS, WIDTH), "float32")
    np.add.at(dense, rows, values)
    return tf.IndexedSlices(tf.constant(values), tf.constant(rows, tf.int32), tf.constant([ROWS, WIDTH])), dense


def _slots(optimizer, variable):
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index].numpy(), optimizer._velocities[index].numpy()


def test_touched_rows_move_as_adam_on_the_dense_gradient_and_the_others_keep_value_and_moments():
    lazy_table, dense_table = _table(), _table()
    lazy, adam = LazyAdam(0.1), keras.optimizers.Adam(0.1)
    lazy.build([lazy_table])
    adam.build([dense_table])
    # Step 1 touches rows 0, 2 and 2 again (summed), step 2 only row 0: row 2 is left out of step 2.
    for step, rows in enumerate(([0, 2, 2], [0])):
        sparse, dense = _sparse(rows, seed=step)
        before = lazy_table.numpy()
        lazy_m, lazy_v = (s.copy() for s in _slots(lazy, lazy_table))
        lazy.apply_gradients([(sparse, lazy_table)])
        adam.apply_gradients([(tf.constant(dense), dense_table)])
        touched = sorted(set(rows))
        np.testing.assert_allclose(lazy_table.numpy()[touched], dense_table.numpy()[touched], rtol=1e-5, atol=1e-6)
        for lazy_slot, adam_slot in zip(_slots(lazy, lazy_table), _slots(adam, dense_table), strict=True):
            np.testing.assert_allclose(lazy_slot[touched], adam_slot[touched], rtol=1e-5, atol=1e-7)
        others = [r for r in range(ROWS) if r not in touched]
        np.testing.assert_array_equal(lazy_table.numpy()[others], before[others])
        np.testing.assert_array_equal(_slots(lazy, lazy_table)[0][others], lazy_m[others])
        np.testing.assert_array_equal(_slots(lazy, lazy_table)[1][others], lazy_v[others])
    # Dense Adam kept moving row 2 on its momentum in step 2; the lazy one did not.
    assert np.abs(lazy_table.numpy()[2] - dense_table.numpy()[2]).min() > 1e-3
    assert int(lazy.iterations.numpy()) == 2


def test_a_dense_gradient_gets_keras_adam_unchanged():
    lazy_weight, adam_weight = _table(1), _table(1)
    lazy, adam = LazyAdam(0.01), keras.optimizers.Adam(0.01)
    gradient = tf.constant(np.random.default_rng(3).normal(size=(ROWS, WIDTH)).astype("float32"))
    for _ in range(3):
        lazy.apply_gradients([(gradient, lazy_weight)])
        adam.apply_gradients([(gradient, adam_weight)])
    np.testing.assert_array_equal(lazy_weight.numpy(), adam_weight.numpy())


def test_the_recipe_names_its_optimizers_and_a_variant_may_choose_one():
    assert isinstance(training.optimizer(), LazyAdam)  # the default
    assert type(training.optimizer(None, "adam")) is keras.optimizers.Adam
    assert training.split_optimizer({"optimizer": "adam", "dim": 32}) == ("adam", {"dim": 32})
    assert training.split_optimizer(None) == ("lazy_adam", {})
    with pytest.raises(ValueError, match="'sgd': expected one of lazy_adam, adam"):
        training.split_optimizer({"optimizer": "sgd"})
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)


def test_the_embedding_computes_what_keras_does_reading_only_its_rows():
    ids = np.array([[0, 5], [5, -1], [2, 2]], "int32")
    ours, keras_own = Embedding(ROWS, WIDTH), keras.layers.Embedding(ROWS, WIDTH)
    ours.build((None, 2))
    keras_own.build((None, 2))
    keras_own.set_weights(ours.get_weights())
    np.testing.assert_array_equal(ours(ids).numpy(), keras_own(ids).numpy())  # -1: the last row, as ops.take
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ours(ids))
    (gradient,) = tape.gradient(loss, ours.trainable_variables)
    assert isinstance(gradient, tf.IndexedSlices)  # sparse, as the optimizer needs
    graph = tf.function(lambda x: ours(x)).get_concrete_function(tf.TensorSpec((None, 2), tf.int32)).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "ResourceGather" in op_types and "ReadVariableOp" not in op_types  # no whole-table read


def test_a_model_trained_with_lazy_adam_saves_and_loads(tmp_path):
    ids = keras.Input((2,), dtype="int32")
    model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Flatten()(Embedding(ROWS, WIDTH)(ids))))
    model.compile(optimizer=training.optimizer(0.1, "lazy_adam"), loss="mse")
    x, y = np.array([[1, 2], [3, 1]], "int32"), np.array([[1.0], [0.0]], "float32")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LazyAdam) and isinstance(loaded.layers[1], Embedding)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_the_lazy_step_compiles_with_xla_and_trains_as_without_it(monkeypatch):
    from models import lazy_adam

    traced = []  # the static-slot summing (no tf.unique) is what XLA compiles; the plain step uses tf.unique
    summed_rows = lazy_adam._summed_rows
    monkeypatch.setattr(lazy_adam, "_summed_rows", lambda i, v: traced.append(1) or summed_rows(i, v))
    x = np.array([[1, 2], [3, 1], [1, 1], [5, 0]], "int32")
    y = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
    tables = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        ids = keras.Input((2,), dtype="int32")
        table = Embedding(ROWS, WIDTH)
        model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Flatten()(table(ids))))
        model.compile(optimizer=training.optimizer(0.1, "lazy_adam"), loss="mse", jit_compile=jit)
        initial = table.get_weights()[0]
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False)
        assert bool(traced) == jit
        tables.append(table.get_weights()[0])
        assert np.array_equal(tables[-1][4], initial[4]) and not np.allclose(tables[-1][1], initial[1])
    np.testing.assert_allclose(tables[1], tables[0], rtol=1e-5, atol=1e-6)  # row 4 never looked up: never moved
