"""What a main task's loss may be: the per-task options of the feature spec's ``tasks:`` section and the loss
weightings. Pure Python (no Keras), so the spec's parser reads the same names the model does.

* ``weight``: a static factor on the task's examples' loss (default 1): the loss is the weighted mean over the
  batch, so only the ratios between tasks count.
* ``loss_weighting`` (the spec's top level): ``static`` (the weights above) or ``uncertainty`` (Kendall, Gal and
  Cipolla 2018, "Multi-task learning using uncertainty to weigh losses": a learned log-variance s per task; a
  binary task's loss L counts as exp(-s) L + s / 2, on top of its static weight).
"""

from __future__ import annotations

TASK_OPTIONS = ("weight",)  # keys of one task's entry under `tasks:`
DEFAULT_TASK_WEIGHT = 1.0
LOSS_WEIGHTINGS = ("static", "uncertainty")  # the first is the default
