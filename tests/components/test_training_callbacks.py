"""Per-task AP/AUC and per-task expert utilisation in TensorBoard while the Trainer trains."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import average_precision_score, roc_auc_score

from components.task_metrics import normalized_entropy
from components.training_callbacks import PerTaskMetrics
from models import build_model
from tests.models.fixtures import FULL, inputs, small_kwargs
from tests.tensorboard_events import read_events


class PriceScore(keras.Model):
    """Scores every row sigmoid(price): a model whose per-task AP is known in advance."""

    def call(self, x):
        return keras.ops.sigmoid(keras.ops.reshape(x["price"], (-1,)))


def test_per_task_ap_and_auc_match_sklearn_on_each_tasks_rows(tmp_path):
    rng = np.random.default_rng(0)
    n = 2_000
    task = rng.integers(0, 4, n)
    price = rng.normal(size=n).astype("float32")
    noise = rng.normal(scale=0.5, size=n)
    # Task 0: label follows price (AP near 1); task 1: the opposite; task 2: noise only; task 3: no positives.
    label = np.where(task == 0, price + noise > 0, np.where(task == 1, price + noise < 0, rng.random(n) < 0.3))
    label = label & (task != 3)
    dataset = tf.data.Dataset.from_tensor_slices(({"task": task, "price": price}, label.astype("float32"))).batch(500)
    model = PriceScore()
    callback = PerTaskMetrics(dataset, "task", [b"ctr", b"atc", b"cvr"], str(tmp_path), num_batches=4)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    results = callback.history[0]
    assert set(results) == {"ctr", "atc", "cvr", "oov"}
    assert callback._task_name(4) == "oov_1"  # a second OOV bucket keeps its own entry
    assert results["oov"] == {"rows": (task == 3).sum()}  # one class only: no AP or AUC, not a misleading 0
    scores = 1 / (1 + np.exp(-price))
    for name, task_id in (("ctr", 0), ("atc", 1), ("cvr", 2)):
        rows = task == task_id
        assert results[name]["rows"] == rows.sum()
        # keras.metrics.AUC interpolates over 200 thresholds; sklearn is exact.
        assert results[name]["ap"] == pytest.approx(average_precision_score(label[rows], scores[rows]), abs=0.02)
        assert results[name]["auc"] == pytest.approx(roc_auc_score(label[rows], scores[rows]), abs=0.01)
        assert results[name]["ne"] == pytest.approx(normalized_entropy(label[rows], scores[rows]), rel=1e-6)
        assert "loss_weight" not in results[name]  # a plain Keras model has no task-loss weights
    assert results["ctr"]["ap"] > 0.8 > results["atc"]["ap"]
    # Scores that follow the label beat the base rate (NE < 1); scores against it are worse than it (NE > 1).
    assert results["ctr"]["ne"] < 1 < results["atc"]["ne"]
    assert logs["val_ap/ctr"] == results["ctr"]["ap"]
    events = read_events(tmp_path)
    assert float(events["ap/ctr"][0][1]) == pytest.approx(results["ctr"]["ap"])
    assert {"auc/atc", "rows/oov"} <= set(events) and "ap/oov" not in events


def test_a_routed_model_logs_per_task_expert_shares_each_epoch(tmp_path):
    x = inputs(FULL, batch=256, seed=1)
    y = (x["price"].reshape(-1) > 0).astype("float32")
    model = build_model("grec", FULL, **small_kwargs("grec"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    eval_batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    callback = PerTaskMetrics(eval_batches, "task", ["t0", "t1", "t2", "t3", "t4"], str(tmp_path), num_batches=4)
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0, validation_data=eval_batches, callbacks=[callback])
    assert len(callback.history) == 2 and "val_ap/t0" in history.history
    events = read_events(tmp_path)
    shares = [tag for tag in events if tag.startswith("busiest_expert_share/")]
    assert shares, sorted(events)
    for tag in shares:
        steps = [step for step, _ in events[tag]]
        values = [float(v) for _, v in events[tag]]
        assert steps == [0, 1] and all(1 / 4 <= v <= 1 for v in values), (tag, values)  # E=4: at least 1/E
    assert any(tag.startswith("expert_shares/") for tag in events)


def test_learned_task_loss_weights_are_logged_per_task_each_round(tmp_path):
    x = inputs(FULL, batch=256, seed=1)
    y = (x["price"].reshape(-1) > 0).astype("float32")
    static = [1.0, 2.0, 1.0, 1.0, 0.5]
    model = build_model("grec", FULL, **small_kwargs("grec"), task_weights=static, loss_weighting="uncertainty")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    eval_batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    callback = PerTaskMetrics(eval_batches, "task", ["t0", "t1", "t2", "t3", "t4"], str(tmp_path), num_batches=4)
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[callback])
    found = model.loss_weights()
    learned = np.exp(-np.asarray(model.task_log_variance.numpy()))
    np.testing.assert_allclose(found["learned"], learned, rtol=1e-6)
    assert not np.allclose(learned, 1.0)  # the log-variances trained
    seen = sorted(set(x["task"].reshape(-1).tolist()))
    for task_id in seen:
        name = f"t{task_id}"
        # The last round's logged weight is static x learned after training.
        assert history.history[f"loss_weight/{name}"][-1] == pytest.approx(static[task_id] * learned[task_id], rel=1e-5)
    events = read_events(tmp_path)
    assert [step for step, _ in events[f"loss_weight/t{seen[0]}"]] == [0, 1]
