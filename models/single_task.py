"""Single-task baseline: one model per task (the harness trains one per task on its own examples)."""

from __future__ import annotations

import keras

from models.shared_bottom import SharedBottom


@keras.saving.register_keras_serializable(package="grec")
class SingleTask(SharedBottom):
    """The Shared-Bottom network trained on one task's examples only.

    The architecture is Shared-Bottom's (encoders -> MLP -> tower); what makes it
    single-task is the harness, which gives each task its own model
    (``benchmarks/harness.py``), so nothing is shared across tasks and the
    tower index is constant.
    """
