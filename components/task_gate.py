"""Per-task blessing: a candidate that breaks one main task is not blessed, so not pushed.

TFMA's thresholds (``components/evaluation.py``) gate the overall slice, which
the dense tasks dominate: a model that gains on click and loses a third of its
AP on a rare conversion task would pass. This gate runs inside the pipeline's
Evaluator, after TFMA, on the same ``eval`` rows, and judges every main task:

* a **floor** per task and metric, if the pipeline sets one (default none): the
  worst acceptable value, the lowest AP or AUC, the highest normalized entropy or
  calibration error (``components/task_metrics.py``), the highest RMSE or MAE of
  a regression task;
* a **change** against the last blessed model for the metrics in ``compare``
  (default AP and AUC, and RMSE for a regression task): the candidate's value minus the baseline's, with a
  paired 95 % bootstrap interval over the task's eval rows
  (``components/intervals.py``). A task fails only when the change for the worse
  is beyond the interval (the whole interval on the bad side of 0) **and** larger
  than ``max_drop``: a sparse task's wide interval is not a coin flip, and a
  dense task's tight interval does not block a negligible drop (for RMSE and MAE,
  in the label's units, ``max_drop`` is relative: that share of the baseline's
  value). Every metric's change is reported, compared or not.
* a binary task with fewer than ``min_positives`` positive eval rows (a
  regression task with fewer eval rows) is reported as ``not gated: N
  positives`` (``N examples``), never silently skipped.

TFMA's intervals are not used: its validator compares point estimates only
(``tensorflow_model_analysis/evaluators/metrics_validator.py``), and its
per-slice bounds are not paired between candidate and baseline. Scoring the
task's rows with both SavedModels here costs seconds.

The verdict per task goes to ``<evaluation>/task_gate.json``; a failure flips
the Evaluator's blessing to not blessed (the artifact the Pusher and the
latest-blessed-model resolver read), and the run's output names the tasks.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import numpy as np

from components.intervals import Difference, paired_difference

GATE_FILE = "task_gate.json"
BINARY_METRICS = ("average_precision", "auc", "normalized_entropy", "calibration_error")
REGRESSION_METRICS = ("rmse", "mae")  # a regression task's (``TaskGates.regression_tasks``), in the label's units
METRICS = BINARY_METRICS + REGRESSION_METRICS
LOWER_IS_BETTER = ("normalized_entropy", "calibration_error", *REGRESSION_METRICS)
DEFAULT_COMPARE = ("average_precision", "auc", "rmse")  # judged against the last blessed model unless told otherwise
DEFAULT_MIN_POSITIVES = 20  # rationale: below this a task's AP moves by > 0.1 with one positive row
DEFAULT_MAX_DROP = 0.01  # as TFMA's overall AUC change threshold (components/evaluation.py)
RESAMPLES = 300  # rationale: the 95 % bounds move by < 0.005 AP beyond this here; seconds per task
log = logging.getLogger("grec.evaluator")


def _metric(name: str):
    from sklearn.metrics import average_precision_score, roc_auc_score

    from components.task_metrics import calibration_error, mae, normalized_entropy, rmse

    return {
        "average_precision": average_precision_score,
        "auc": roc_auc_score,
        "normalized_entropy": normalized_entropy,
        "calibration_error": calibration_error,
        "rmse": rmse,
        "mae": mae,
    }[name]


@dataclasses.dataclass(frozen=True)
class TaskGates:
    """What the gate demands of every main task (the pipeline's ``task_gates``)."""

    task_column: str
    label_column: str
    min_positives: int = DEFAULT_MIN_POSITIVES
    max_drop: float = DEFAULT_MAX_DROP
    floors: dict = dataclasses.field(default_factory=dict)  # task -> {metric: worst acceptable value}
    compare: tuple = DEFAULT_COMPARE  # metrics judged against the last blessed model
    regression_tasks: tuple = ()  # judged on REGRESSION_METRICS (the feature spec's regression tasks)

    def __post_init__(self):
        object.__setattr__(self, "compare", tuple(self.compare))
        object.__setattr__(self, "regression_tasks", tuple(self.regression_tasks))
        for task, floor in self.floors.items():
            unknown = sorted(set(floor) - set(METRICS))
            if unknown:
                raise ValueError(f"task_gates floors[{task!r}]: unknown metric(s) {unknown}; use {list(METRICS)}")
        unknown = sorted(set(self.compare) - set(METRICS))
        if unknown:
            raise ValueError(f"task_gates compare: unknown metric(s) {unknown}; use {list(METRICS)}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TaskGates:
        return cls(**json.loads(text))


@dataclasses.dataclass
class TaskVerdict:
    """One main task: its counts, each metric's new and baseline values and difference, and the failures."""

    task: str
    examples: int
    positives: int
    values: dict = dataclasses.field(default_factory=dict)  # metric -> {new, baseline, diff, low, high, verdict}
    failures: list = dataclasses.field(default_factory=list)
    kind: str = "binary"  # or "regression" (positives then counts the examples)

    @property
    def gated(self) -> bool:
        return bool(self.values)

    @property
    def verdict(self) -> str:
        if not self.gated:
            return f"not gated: {self.positives} {'examples' if self.kind == 'regression' else 'positives'}"
        return "FAIL" if self.failures else "pass"


def judge(tasks, labels, scores, baseline_scores, gates: TaskGates, seed: int = 0) -> list[TaskVerdict]:
    """The gate's verdict for each main task of the eval rows (``baseline_scores`` None: floors only)."""
    tasks, labels, scores = np.asarray(tasks), np.asarray(labels), np.asarray(scores)
    verdicts = []
    for task in sorted(set(tasks.tolist())):
        rows = tasks == task
        regression = task in gates.regression_tasks
        positives = int(rows.sum()) if regression else int(labels[rows].sum())
        verdict = TaskVerdict(task, int(rows.sum()), positives, kind="regression" if regression else "binary")
        verdicts.append(verdict)
        if positives < gates.min_positives or (not regression and positives == rows.sum()):
            continue
        for name in REGRESSION_METRICS if regression else BINARY_METRICS:
            metric = _metric(name)
            lower = name in LOWER_IS_BETTER
            new = float(metric(labels[rows], scores[rows]))
            entry = {"new": new}
            failures = len(verdict.failures)
            floor = gates.floors.get(task, {}).get(name)
            if floor is not None and (new > floor if lower else new < floor):
                side = "above its ceiling" if lower else "below its floor"
                verdict.failures.append(f"task {task!r}: {name} {new:.4f} is {side} {floor}")
            if baseline_scores is not None:
                base = np.asarray(baseline_scores)[rows]
                diff: Difference = paired_difference(metric, labels[rows], scores[rows], base, RESAMPLES, seed)
                entry.update(baseline=float(metric(labels[rows], base)), diff=diff.value, low=diff.low, high=diff.high)
                # An error in the label's units is judged against a share of the baseline's own.
                tolerance = gates.max_drop * abs(entry["baseline"]) if regression else gates.max_drop
                if lower:  # a rise is for the worse
                    worse = diff.low > 0 and diff.value > tolerance
                else:
                    worse = diff.high < 0 and diff.value < -tolerance
                if worse and name in gates.compare:
                    over = f"{positives} rows" if regression else f"{positives} positives"
                    verdict.failures.append(
                        f"task {task!r}: {name} {new:.4f} vs {entry['baseline']:.4f} for the last blessed model: "
                        f"{diff} (95 % interval over {over}) is a {'rise' if lower else 'drop'} "
                        f"beyond the interval and beyond max_drop {gates.max_drop}"
                        + (" of the baseline's value" if regression else "")
                    )
            gated = name in gates.compare or floor is not None
            entry["verdict"] = "FAIL" if len(verdict.failures) > failures else "pass" if gated else "not gated"
            verdict.values[name] = entry
    return verdicts


def format_verdicts(verdicts: list[TaskVerdict]) -> str:
    """The table ``pipelines.report`` prints: per task and metric, new, baseline, difference, verdict."""
    header = (
        f"{'task':<16}{'positives':>10}  {'metric':<18}{'new':>8}{'baseline':>10}  "
        f"{'difference [95 % interval]':<30}verdict"
    )
    lines = [header, "-" * len(header)]
    for v in verdicts:
        if not v.gated:
            lines.append(f"{v.task:<16}{v.positives:>10}  {'':<18}{'':>8}{'':>10}  {'':<30}{v.verdict}")
            continue
        for name, e in v.values.items():
            base = f"{e['baseline']:.4f}" if "baseline" in e else "-"
            diff = f"{e['diff']:+.4f} [{e['low']:+.4f}, {e['high']:+.4f}]" if "diff" in e else "no baseline"
            verdict = e.get("verdict", v.verdict)
            lines.append(f"{v.task:<16}{v.positives:>10}  {name:<18}{e['new']:>8.4f}{base:>10}  {diff:<30}{verdict}")
    return "\n".join(lines)


def write(evaluation_dir: str, verdicts: list[TaskVerdict], gates: TaskGates) -> str:
    path = os.path.join(evaluation_dir, GATE_FILE)
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(
            {
                "gates": json.loads(gates.to_json()),
                "tasks": [{**dataclasses.asdict(v), "verdict": v.verdict} for v in verdicts],
            },
            f,
            indent=1,
        )
    return path


def read(evaluation_dir: str) -> tuple[list[TaskVerdict], list[str]] | None:
    """(verdicts, failures) from an evaluation's ``task_gate.json``; None when it has none."""
    path = os.path.join(evaluation_dir, GATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        tasks = json.load(f)["tasks"]
    verdicts = [
        TaskVerdict(t["task"], t["examples"], t["positives"], t["values"], t["failures"], t.get("kind", "binary"))
        for t in tasks
    ]
    return verdicts, [failure for v in verdicts for failure in v.failures]
