"""The one activation every hidden layer of GRec and its baselines uses."""

from __future__ import annotations

import keras
from keras import ops

LEAKY_SLOPE = 0.2  # LeakyReLU(0.2), as in the paper's reference implementation


@keras.saving.register_keras_serializable(package="grec")
def leaky_relu(x):
    """LeakyReLU with ``LEAKY_SLOPE``."""
    return ops.leaky_relu(x, LEAKY_SLOPE)
