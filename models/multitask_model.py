"""Base class of GRec and the baselines: the task loss, the auxiliary losses, their metrics."""

from __future__ import annotations

import keras
from keras import ops

from models.input_config import InputConfig, example_inputs


class MultiTaskModel(keras.Model):
    """A Keras model over task examples: ``features -> probability of the main task``.

    The task (loss and metrics) is kept apart from the model wiring
    (TensorFlow Recommenders' split): ``compute_loss`` is binary
    cross-entropy of each example's main-task label, weighted by the sample
    weight, plus the auxiliary losses layers add in training (``self.losses``,
    e.g. the MoE load-balancing and z-losses). Keras reports the total as
    ``loss`` and this class reports ``task_loss``; MoE layers report their own
    ``load_balancing_loss`` and ``router_z_loss``.
    """

    def build_from_config_inputs(self, batch_size=2):
        """Builds the weights by calling on random inputs (from ``self.input_config``); returns them."""
        inputs = example_inputs(InputConfig.from_dict(self.input_config), batch_size)
        self(inputs)
        return inputs

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        # The loss to optimise goes through Keras' own reduction, which also divides it by the number of
        # replicas under a tf.distribute strategy (whose gradients are summed across replicas).
        self._task_loss_fn = keras.losses.BinaryCrossentropy(reduction="mean_with_sample_weight")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y_true = ops.reshape(ops.cast(y, "float32"), (-1, 1))
        y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1, 1))
        weights = None if sample_weight is None else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        # The task loss as reported (per replica, never scaled)...
        per_example = keras.losses.binary_crossentropy(y_true, y_pred)
        if weights is not None:
            task_loss = ops.sum(per_example * weights) / ops.maximum(ops.sum(weights), 1e-9)
        else:
            task_loss = ops.mean(per_example)
        self.task_loss_tracker.update_state(task_loss)
        # ...and as optimised: the same value, scaled for distribution by Keras.
        total = self._task_loss_fn(y_true, y_pred, sample_weight=weights)
        if training and self.losses:
            # Keras 3: an overridden compute_loss must add the layers' losses itself; the base
            # class sums them (scaled for distribution too) when no compiled loss is set.
            total = total + super().compute_loss(x, y, y_pred, sample_weight, training)
        return total
