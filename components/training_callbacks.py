"""Keras callbacks of the Trainer: per-task AP, AUC, normalized entropy (a regression task's RMSE and MAE) and
loss weight, and per-task expert utilisation, in TensorBoard.

Keras' own metrics (``ap``, ``auc``, ``val_ap``...) are over all rows; a
multi-task model needs them per main task while it trains, the way the
Evaluator slices them afterwards. Keras has no sliced metric, so this callback
keeps a fixed set of eval batches, scores them at the end of each epoch and
runs one ``keras.metrics.AUC`` per task on its rows.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from components.task_metrics import mae, normalized_entropy, rmse
from models.task_types import is_regression


class PerTaskMetrics(keras.callbacks.Callback):
    """Writes ``ap/<task>``, ``auc/<task>``, ``ne/<task>`` (normalized entropy; for tasks with both classes in
    the batches), ``rmse/<task>`` and ``mae/<task>`` for a regression task (the model's ``task_losses``),
    ``rows/<task>``, ``loss_weight/<task>`` (static x learned: ``MultiTaskModel.effective_loss_weights``)
    (and, for a routed model,
    ``busiest_expert_share/<task>`` and a histogram ``expert_shares/<task>``) to ``<log_dir>/per_task``.

    Args:
        dataset: eval batches ``(features, labels[, weights])``; the first ``num_batches`` are kept.
        task_feature: name of the main-task id feature in ``features``.
        task_names: name of each task id; ids past the list (OOV buckets) are ``oov``, ``oov_1``, ...
        log_dir: TensorBoard log directory (the Trainer's ``model_run_dir``).
        num_batches: how many eval batches to keep.

    Attributes:
        history: per epoch, ``{task: {"ap": .., "auc": .., "ne": .., "rows": .., "loss_weight": ..}}``.
    """

    def __init__(self, dataset, task_feature, task_names, log_dir, num_batches=20):
        super().__init__()
        self.batches = [(batch[0], np.asarray(batch[1]).reshape(-1)) for batch in dataset.take(num_batches)]
        if not self.batches:
            raise ValueError("PerTaskMetrics: the eval dataset gave no batches")
        if task_feature not in self.batches[0][0]:
            raise ValueError(f"PerTaskMetrics: no feature {task_feature!r} in the eval batches")
        self.task_feature = task_feature
        self.task_names = [name.decode() if isinstance(name, bytes) else str(name) for name in task_names]
        self.writer = tf.summary.create_file_writer(f"{log_dir.rstrip('/')}/per_task")
        self.history = []
        self._train_shares = None
        self._score = None

    def _task_name(self, task_id):
        if 0 <= task_id < len(self.task_names):
            return self.task_names[task_id]
        bucket = task_id - len(self.task_names)  # OOV buckets follow the vocabulary
        return "oov" if bucket == 0 else f"oov_{bucket}"

    def on_test_begin(self, logs=None):
        # Keras resets every metric, expert utilisation too, before validation; keep the epoch's training counts.
        if getattr(self.model, "use_moe", False):
            self._train_shares = self.model.moe.utilization.shares_by_task()

    def on_epoch_end(self, epoch, logs=None):
        ids = np.concatenate([np.asarray(x[self.task_feature]).reshape(-1) for x, _ in self.batches])
        labels = np.concatenate([y for _, y in self.batches])
        if self._score is None:
            # A plain local call: every worker scores its own copy of the batches. (predict_on_batch
            # would split each batch across the workers of a multi-worker strategy and gather it back.)
            self._score = tf.function(lambda x: self.model(x, training=False))
        scores = np.concatenate([np.asarray(self._score(x)).reshape(-1) for x, _ in self.batches])
        results = {}
        # A MultiTaskModel's loss weight per task id (any other Keras model has none to report).
        weights = self.model.effective_loss_weights() if hasattr(self.model, "effective_loss_weights") else None
        for task_id in np.unique(ids):
            rows = ids == task_id
            values = {"rows": int(rows.sum())}
            if weights is not None:
                values["loss_weight"] = float(weights[task_id])
            losses = getattr(self.model, "task_losses", None)
            if losses is not None and task_id < len(losses) and is_regression(losses[task_id]):
                values.update(rmse=rmse(labels[rows], scores[rows]), mae=mae(labels[rows], scores[rows]))
            elif labels[rows].min() != labels[rows].max():  # AP and AUC need both classes
                ap, auc = keras.metrics.AUC(curve="PR"), keras.metrics.AUC()
                ap.update_state(labels[rows], scores[rows])
                auc.update_state(labels[rows], scores[rows])
                values.update(
                    ap=float(ap.result()), auc=float(auc.result()), ne=normalized_entropy(labels[rows], scores[rows])
                )
            results[self._task_name(int(task_id))] = values
        self.history.append(results)
        with self.writer.as_default(step=epoch):
            for task, values in results.items():
                for key, value in values.items():
                    tf.summary.scalar(f"{key}/{task}", value)
            self._write_expert_shares()
        self.writer.flush()
        if logs is not None:  # also in Keras' History (model.fit's return value)
            for metric in ("ap", "rmse", "mae"):  # a binary task's AP, a regression task's errors
                logs.update({f"val_{metric}/{task}": v[metric] for task, v in results.items() if metric in v})
            logs.update({f"loss_weight/{task}": v["loss_weight"] for task, v in results.items() if "loss_weight" in v})

    def _write_expert_shares(self):
        if not getattr(self.model, "use_moe", False):  # only routed GRec has experts to report
            return
        # This epoch's training assignments (Keras resets metrics at each epoch start).
        by_task = self._train_shares if self._train_shares is not None else self.model.moe.utilization.shares_by_task()
        self._train_shares = None
        for task_id, shares in enumerate(by_task):
            if shares.sum() > 0:
                task = self._task_name(task_id)
                tf.summary.scalar(f"busiest_expert_share/{task}", float(shares.max()))
                tf.summary.histogram(f"expert_shares/{task}", shares)
