"""One shared layer-test harness (keras-hub's run_layer_test, cut to what GRec needs).

``run_layer_test`` checks, for one layer class and its arguments:
1. every ``__init__`` argument appears in ``get_config()`` with its value;
2. serialization round trip: ``from_config(get_config())`` gives the same
   config and, with the weights copied, the same output;
3. eager call: output shape (== ``compute_output_shape``) and dtype;
4. one training step: a gradient reaches every trainable weight and the
   weights change;
5. mixed precision: under ``mixed_float16`` the output is finite and the
   variables stay float32.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf


def init_arguments(cls) -> list[str]:
    names = []
    for klass in cls.__mro__:
        if klass in (keras.layers.Layer, keras.Model, keras.metrics.Metric, object):
            break
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name not in ("self", "args", "kwargs") and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                if name not in names:
                    names.append(name)
    return names


def assert_config_complete(obj, init_kwargs):
    config = obj.get_config()
    missing = [n for n in init_arguments(type(obj)) if n not in config]
    assert not missing, f"{type(obj).__name__}.get_config() lacks {missing}"
    for key, value in init_kwargs.items():
        got = config[key]
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(got, tuple):
            got = list(got)
        assert got == value, (key, got, value)


def _call(layer, inputs, call_kwargs, training=None):
    if isinstance(inputs, (tuple, list)):
        return layer(*inputs, training=training, **call_kwargs)
    return layer(inputs, training=training, **call_kwargs)


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def run_layer_test(
    cls,
    init_kwargs,
    inputs,
    expected_shape,
    expected_dtype="float32",
    call_kwargs=None,
    train_weights_expected=True,
    mixed_precision=True,
):
    call_kwargs = call_kwargs or {}
    layer = cls(**init_kwargs)
    assert_config_complete(layer, init_kwargs)

    output = _call(layer, inputs, call_kwargs)
    out = _first(output)
    assert tuple(out.shape) == tuple(expected_shape), (out.shape, expected_shape)
    assert keras.backend.standardize_dtype(out.dtype) == expected_dtype
    if hasattr(layer, "compute_output_shape") and not isinstance(inputs, dict):
        items = inputs if isinstance(inputs, (tuple, list)) else [inputs]
        shapes = [None if x is None else tuple(x.shape) for x in items]
        try:
            declared = layer.compute_output_shape(*shapes)
        except NotImplementedError:
            declared = None
        if declared is not None and not isinstance(declared[0], (tuple, list)):
            assert tuple(d for d in declared[1:]) == tuple(expected_shape[1:])

    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    _call(clone, inputs, call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_first(_call(clone, inputs, call_kwargs)), out, atol=1e-6)

    if train_weights_expected and layer.trainable_weights:
        before = [np.array(w) for w in layer.trainable_weights]
        optimizer = keras.optimizers.SGD(learning_rate=0.1)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.square(tf.cast(_first(_call(layer, inputs, call_kwargs, training=True)), "float32"))
            )
        grads = tape.gradient(loss, layer.trainable_weights)
        without = [w.path for w, g in zip(layer.trainable_weights, grads, strict=False) if g is None]
        assert not without, f"no gradient reaches {without}"
        optimizer.apply_gradients(zip(grads, layer.trainable_weights, strict=False))
        assert any(not np.allclose(b, np.array(w)) for b, w in zip(before, layer.trainable_weights, strict=False))

    if mixed_precision:
        mixed = cls(**init_kwargs, dtype="mixed_float16")
        mixed_out = _first(_call(mixed, inputs, call_kwargs))
        assert np.all(np.isfinite(np.array(tf.cast(mixed_out, "float32"))))
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in mixed.weights)
    return layer, out
