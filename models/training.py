"""How every model is trained: the one recipe the Trainer, the Tuner and the benchmarks share.

Adam at ``LEARNING_RATE``; after each validation round, the learning rate is
halved when the validation loss did not improve (``ReduceLROnPlateau``), and
training stops after ``EARLY_STOPPING_PATIENCE`` rounds without improvement,
keeping the best round's weights.

Chosen on the synthetic quality set (400,000 rows, validation = the last 7
training days; one seed per recipe, mean test AP over the 8 tasks): Adam 2e-3
stopping after 2 flat rounds stopped GRec at 500 steps of 256 while its
validation loss was still noisy (0.2337; MMoE 0.2468). 1e-3 with halving on
a plateau and patience 3 trained GRec to 1,000 steps (0.2415; MMoE 0.2458).
With the periodic numerical embeddings of the ``small`` preset: GRec 0.2450
at 1e-3, 0.2456 at 5e-4; MMoE 0.2503 and 0.2495: equal within one seed's
noise, and 1e-3 keeps short pipeline runs converging. Tried on GRec with
halving on a plateau and not kept: at 2e-3, batch 1,024 (0.2370) and dropout
0.1 (0.2392); at 1e-3, AdamW weight decay 0.05 (0.2394) and a second block
(0.2370). With the ``small`` preset's GRec (0.2516 over 3 seeds,
results/real_data_synthetic.md), the paper's batch 2048 for at most the same
786k examples, Adam 4e-3 halved on a plateau: 0.2336 over 3 seeds, lower on all
8 tasks, every seed stopping at 128 steps
(``python -m benchmarks.real_data synthetic --seeds 3 --models grec
--batch-size 2048 --learning-rate 4e-3 --eval-every 32 --max-steps 384``,
results/real_data_synthetic_batch2048.md). A two-seed screen paired per task
against the preset (0.2516) agreed: batch 2048 at 2e-3 (0.2444, worse on 3
tasks) or with a 32-step warm-up to 4e-3 and cosine decay (0.2467, worse on 1),
and batch 256 with a warm-up and cosine decay to 1e-5 over 3,000 steps (0.2505,
no task different). Batch 256 and halving on a plateau stay.
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


def optimizer(learning_rate: float | None = None) -> keras.optimizers.Optimizer:
    """A fresh optimizer of the recipe (``learning_rate`` None: ``LEARNING_RATE``)."""
    return keras.optimizers.Adam(learning_rate or LEARNING_RATE)


def callbacks(patience: int = EARLY_STOPPING_PATIENCE, monitor: str = "val_loss") -> list[keras.callbacks.Callback]:
    """Fresh callbacks of the recipe for one ``fit`` that validates every round: learning rate halved on a
    plateau, early stopping with the best round's weights restored."""
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=PLATEAU_FACTOR, patience=1, min_lr=MIN_LEARNING_RATE
        ),  # fmt: skip
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True),
    ]
