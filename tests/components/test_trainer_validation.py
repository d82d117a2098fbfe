"""The Trainer's validation rounds score the same rows every round (early stopping compares like with like)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.trainer import validation_batches


def _rows(n=1_100, batch=256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (rng.random(n) < 0.3).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def _val_losses(validation, steps, rounds=3):
    """val_loss of each round of a model that does not learn (learning rate 0): equal iff each round saw the
    same rows."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    history = model.fit(
        _rows().repeat(),
        epochs=rounds,
        steps_per_epoch=2,
        validation_data=validation,
        validation_steps=steps,
        verbose=0,
    )
    return history.history["val_loss"]


@pytest.mark.parametrize("num_batches, expected", [(None, 5), (2, 2), (9, 5)])
def test_validation_batches_counts_the_split_or_its_first_batches(num_batches, expected):
    batches, steps = validation_batches(_rows(), num_batches)  # 1,100 rows in batches of 256: 5 batches
    assert steps == expected
    assert sum(int(y.shape[0]) for _, y in batches) == min(1_100, 256 * expected)


@pytest.mark.parametrize("num_batches", [None, 2])
def test_every_round_validates_on_the_same_rows(num_batches):
    batches, steps = validation_batches(_rows(), num_batches)
    losses = _val_losses(batches.repeat(), steps)
    assert losses[0] == pytest.approx(losses[1], rel=1e-6) and losses[1] == pytest.approx(losses[2], rel=1e-6)


def test_an_endless_shuffled_split_validated_a_different_sample_each_round():
    # What the Trainer did before: Keras keeps one validation iterator across rounds, so each round read the
    # next 2 batches of an endless, shuffled split.
    losses = _val_losses(_rows().unbatch().shuffle(1_100, seed=0).batch(256).repeat(), 2)
    assert len({round(loss, 6) for loss in losses}) == 3


def test_an_empty_validation_split_is_an_error():
    with pytest.raises(ValueError, match="validation split has no examples"):
        validation_batches(_rows().take(0), None)
