"""How every model is trained: the one recipe the Trainer, the Tuner and the benchmarks share.

Adam at ``LEARNING_RATE``, lazy on embedding tables (``OPTIMIZERS``); after each validation round, the learning rate is
halved when the validation loss did not improve (``ReduceLROnPlateau``), and
training stops after ``EARLY_STOPPING_PATIENCE`` rounds without improvement,
keeping the best round's weights.

The choices and the measurements behind them: docs/decisions.md, "The training recipe".
"""

from __future__ import annotations

import keras

LEARNING_RATE = 1e-3  # Adam's, for every model
BATCH_SIZE = 256  # examples per step, for every model
MAX_STEPS = 3000  # the pipeline's default training budget: early stopping on validation ends most runs sooner
STEPS_PER_ROUND = 250  # steps between validation rounds (plateau halving, early stopping)
MIN_ROUNDS = 4  # a short run still validates this often
PLATEAU_FACTOR = 0.5  # the learning rate's factor after a validation round without improvement
MIN_LEARNING_RATE = 1e-5
EARLY_STOPPING_PATIENCE = 3  # validation rounds without improvement before stopping


def validation_rounds(train_steps: int) -> int:
    """Rounds (Keras epochs) ``train_steps`` are split into: rounds of ``STEPS_PER_ROUND`` steps, at least
    ``MIN_ROUNDS`` (at most one a step)."""
    return max(1, min(train_steps, max(MIN_ROUNDS, train_steps // STEPS_PER_ROUND)))


# The recipe's optimizers by name; ``OPTIMIZERS[0]`` is the default. ``lazy_adam``: Adam whose embedding
# tables' sparse gradients update only the rows a batch touched (models/lazy_adam.py), so a step costs the
# same at 10 thousand or millions of ids; quality level with Adam's (docs/decisions.md, the training recipe).
OPTIMIZERS = ("lazy_adam", "adam")


def optimizer(learning_rate: float | None = None, name: str = OPTIMIZERS[0]) -> keras.optimizers.Optimizer:
    """A fresh optimizer of the recipe (``learning_rate`` None: ``LEARNING_RATE``; ``name`` of ``OPTIMIZERS``)."""
    name, _ = split_optimizer({"optimizer": name})  # checked
    if name == "lazy_adam":
        from models.lazy_adam import LazyAdam

        return LazyAdam(learning_rate or LEARNING_RATE)
    return keras.optimizers.Adam(learning_rate or LEARNING_RATE)


def split_optimizer(overrides: dict | None) -> tuple[str, dict]:
    """(the optimizer's name, the model's keys) of a variant's or a run's settings: ``optimizer`` is the
    recipe's key (``OPTIMIZERS``, default the first), the rest the model's.

    Raises:
        ValueError: an optimizer that is not one of ``OPTIMIZERS``, named.
    """
    rest = dict(overrides or {})
    name = rest.pop("optimizer", OPTIMIZERS[0])
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    return name, rest


def callbacks(patience: int = EARLY_STOPPING_PATIENCE, monitor: str = "val_loss") -> list[keras.callbacks.Callback]:
    """Fresh callbacks of the recipe for one ``fit`` that validates every round: learning rate halved on a
    plateau, early stopping with the best round's weights restored."""
    return [
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=PLATEAU_FACTOR, patience=1, min_lr=MIN_LEARNING_RATE),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True),
    ]
