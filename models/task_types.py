"""What a main task is and how its loss counts: the per-task options of the feature spec's ``tasks:`` section and
the loss weightings. Pure Python (no Keras), so the spec's parser reads the same names the model does.

* ``type``: ``binary`` (default: a 0/1 label, the served value a probability) or ``regression`` (a float label,
  the served value in the label's units).
* ``loss``: binary ``cross_entropy``; regression ``mse`` (default), ``huber`` (delta 1 on the scaled target) or
  ``log_mse`` (squared error of log1p: heavy-tailed non-negative targets such as watch time; the served value
  is expm1 of the prediction, a geometric-mean-like estimate below the mean of a skewed target).
* ``scale``: regression only, ``zscore``: Transform standardises the task's target (log1p first for ``log_mse``)
  with its training mean and deviation, the loss is taken on that scale, and the export undoes it, so serving
  answers in the label's units. Without it the tower fits the raw target.
* ``weight``: a static factor on the task's examples' loss (default 1): the loss is the weighted mean over the
  batch, so only the ratios between tasks count.
* ``given``: another (binary) main task whose positives are this task's sample space (conversion given click):
  in a wide file the converter writes this task's example only for a row whose ``given`` task's label is 1; in
  a long file the user's rows are the sample space. The served value is then p(task | given task), said so in
  the export's feature manifest.
* ``chain``: with ``given``, ``entire_space`` (ESMM, Ma et al. 2018, "Entire space multi-task model"): the task's
  rows are every row of the given task's sample space and its label is 1 when both labels are (click and
  convert); the model answers p(given) x p(task | given), the given task's head on the same row times this
  task's head, and is trained on that product, so the conditional head learns from every impression rather than
  from the clicked ones alone (a wide file's converter writes these rows and labels; in a long file the user's
  rows must be so). The served value is the chained probability p(given and task).
* ``loss_weighting`` (the spec's top level): ``static`` (the weights above) or ``uncertainty`` (Kendall, Gal and
  Cipolla 2018, "Multi-task learning using uncertainty to weigh losses": a learned log-variance s per task; a
  binary task's loss L counts as exp(-s) L + s / 2, a regression task's as exp(-s) L / 2 + s / 2, on top of
  its static weight).
"""

from __future__ import annotations

TASK_OPTIONS = ("type", "loss", "scale", "weight", "given", "chain")  # keys of one task's entry under `tasks:`
TASK_TYPES = ("binary", "regression")  # the first is the default
LOSSES = {"binary": ("cross_entropy",), "regression": ("mse", "huber", "log_mse")}  # the first is the default
TARGET_SCALES = ("zscore",)  # `scale:` values (regression only)
CHAINS = ("entire_space",)  # `chain:` values (with `given:`)
DEFAULT_TASK_WEIGHT = 1.0
LOSS_WEIGHTINGS = ("static", "uncertainty")  # the first is the default


def is_regression(loss: str) -> bool:
    """Whether a task with this loss is a regression task (its value is no probability)."""
    return loss in LOSSES["regression"]


def is_log_target(loss: str) -> bool:
    """Whether a task with this loss is fit on log1p of its target (``log_mse``: values >= 0, answered by expm1)."""
    return loss == "log_mse"
