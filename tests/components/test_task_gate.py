"""The per-task gate on scores with a known answer: a broken sparse task fails, noise passes, few positives
are named."""

import numpy as np
import pytest

from components.task_gate import TaskGates, format_verdicts, judge

GATES = TaskGates(task_column="task", label_column="label")


def _data(seed=0, dense=4_000, sparse=1_000, sparse_rate=0.04):
    """A dense task (30 % positives) and a sparse one (about 40 positives), scored by a good model."""
    rng = np.random.default_rng(seed)
    tasks = np.array(["ctr"] * dense + ["cvr"] * sparse)
    labels = np.concatenate([rng.random(dense) < 0.3, rng.random(sparse) < sparse_rate]).astype(int)
    scores = 1 / (1 + np.exp(-(2.5 * labels - 1.2 + rng.normal(0, 1, len(labels)))))
    return tasks, labels, scores, rng


def test_a_candidate_better_overall_but_broken_on_a_sparse_task_fails_naming_it():
    tasks, labels, baseline, rng = _data()
    candidate = baseline.copy()
    dense = tasks == "ctr"
    candidate[dense] = 1 / (1 + np.exp(-(3.5 * labels[dense] - 1.7 + rng.normal(0, 1, dense.sum()))))  # better on ctr
    sparse = tasks == "cvr"
    candidate[sparse] = rng.permutation(candidate[sparse])  # as if trained with cvr's labels shuffled
    verdicts = {v.task: v for v in judge(tasks, labels, candidate, baseline, GATES)}
    assert verdicts["ctr"].verdict == "pass"
    assert verdicts["ctr"].values["auc"]["diff"] > 0.02  # the overall slice, dominated by ctr, improves
    cvr = verdicts["cvr"]
    assert cvr.verdict == "FAIL" and len(cvr.failures) == 2  # AP and AUC
    ap = cvr.values["average_precision"]
    message = cvr.failures[0]
    assert message.startswith(f"task 'cvr': average_precision {ap['new']:.4f} vs {ap['baseline']:.4f}")
    assert f"[{ap['low']:+.4f}, {ap['high']:+.4f}]" in message and f"over {cvr.positives} positives" in message
    assert ap["high"] < 0 and ap["new"] < ap["baseline"] - 0.2


def test_noise_on_a_sparse_task_is_blessed():
    tasks, labels, baseline, rng = _data(seed=1)
    # Another training run of the same model: every score moved a little, this time downwards on cvr.
    candidate = 1 / (1 + np.exp(-(np.log(baseline / (1 - baseline)) + rng.normal(0, 0.4, len(baseline)))))
    verdicts = {v.task: v for v in judge(tasks, labels, candidate, baseline, GATES)}
    cvr = verdicts["cvr"]
    assert cvr.verdict == "pass" and cvr.failures == []
    assert cvr.values["average_precision"]["low"] < 0 < cvr.values["average_precision"]["high"]


def test_a_tight_interval_does_not_block_a_negligible_drop():
    tasks, labels, baseline, _ = _data(dense=20_000, sparse=0)
    candidate = baseline - 0.01 * labels  # every positive a little lower: a real, tiny drop
    (ctr,) = judge(tasks, labels, candidate, baseline, GATES)
    for metric in ("average_precision", "auc"):
        entry = ctr.values[metric]
        assert entry["high"] < 0 and entry["diff"] > -GATES.max_drop, (metric, entry)  # significant, negligible
    assert ctr.verdict == "pass"
    strict = TaskGates("task", "label", max_drop=0.0)
    assert judge(tasks, labels, candidate, baseline, strict)[0].verdict == "FAIL"


def test_few_positives_are_reported_not_gated_and_floors_apply_without_a_baseline():
    tasks, labels, scores, _ = _data(sparse=100, sparse_rate=0.05)
    gates = TaskGates("task", "label", floors={"ctr": {"auc": 0.99}})
    verdicts = {v.task: v for v in judge(tasks, labels, scores, None, gates)}
    cvr_positives = int(labels[tasks == "cvr"].sum())
    assert cvr_positives < 20 and verdicts["cvr"].verdict == f"not gated: {cvr_positives} positives"
    assert verdicts["ctr"].failures == [
        f"task 'ctr': auc {verdicts['ctr'].values['auc']['new']:.4f} is below its floor 0.99"
    ]
    table = format_verdicts(list(verdicts.values()))
    assert "no baseline" in table and f"not gated: {cvr_positives} positives" in table
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['ap'\]"):
        TaskGates("task", "label", floors={"cvr": {"ap": 0.1}})


def test_normalized_entropy_and_calibration_are_reported_and_gated_when_asked():
    tasks, labels, baseline, _ = _data(dense=8_000, sparse=0)
    # The same ranking, every probability raised (its square root): AP and AUC cannot see it, NE and
    # calibration do.
    candidate = np.sqrt(baseline)
    (ctr,) = judge(tasks, labels, candidate, baseline, GATES)
    assert ctr.verdict == "pass"  # by default only AP and AUC are compared
    assert ctr.values["auc"]["diff"] == pytest.approx(0, abs=1e-12)
    ne, calibration = ctr.values["normalized_entropy"], ctr.values["calibration_error"]
    assert ne["low"] > 0.01 and ne["verdict"] == "not gated"
    mean_label, mean_score = labels.mean(), candidate.mean()
    assert calibration["new"] == pytest.approx(abs(mean_score / mean_label - 1), rel=1e-9)
    assert calibration["new"] > calibration["baseline"]
    compared = TaskGates("task", "label", compare=("auc", "normalized_entropy"))
    (ctr,) = judge(tasks, labels, candidate, baseline, compared)
    assert ctr.verdict == "FAIL" and len(ctr.failures) == 1
    assert ctr.failures[0].startswith("task 'ctr': normalized_entropy ") and "is a rise beyond" in ctr.failures[0]
    # A floor of a lower-is-better metric is its ceiling.
    ceiling = TaskGates("task", "label", floors={"ctr": {"calibration_error": 0.05}})
    (ctr,) = judge(tasks, labels, candidate, None, ceiling)
    assert ctr.failures == [f"task 'ctr': calibration_error {calibration['new']:.4f} is above its ceiling 0.05"]
    assert ctr.values["calibration_error"]["verdict"] == "FAIL"
    with pytest.raises(ValueError, match=r"compare: unknown metric\(s\) \['logloss'\]"):
        TaskGates("task", "label", compare=("logloss",))


def test_a_regression_task_is_judged_on_rmse_in_its_units_beside_the_binary_ones():
    tasks, labels, baseline, rng = _data(seed=2)
    labels, baseline = labels.astype(float), baseline.copy()
    n = 3_000
    truth = rng.lognormal(3.0, 0.5, n)  # spend, about 20 a row
    signal = truth * np.exp(rng.normal(0, 0.2, n))  # what a good model predicts
    tasks = np.concatenate([tasks, ["spend"] * n])
    labels = np.concatenate([labels, truth])
    gates = TaskGates("task", "label", regression_tasks=("spend",), floors={"spend": {"mae": 100.0}})
    good = np.concatenate([baseline, signal])
    # Another run of the same quality: the gate passes; a run that lost the signal on spend fails on RMSE.
    rerun = np.concatenate([baseline, truth * np.exp(rng.normal(0, 0.2, n))])  # the same error, drawn again
    lost = np.concatenate([baseline, np.full(n, truth.mean()) * np.exp(rng.normal(0, 0.2, n))])
    verdicts = {v.task: v for v in judge(tasks, labels, rerun, good, gates)}
    spend = verdicts["spend"]
    assert spend.kind == "regression" and spend.positives == n and spend.verdict == "pass"
    assert set(spend.values) == {"rmse", "mae"} and verdicts["ctr"].verdict == "pass"
    from components.task_metrics import rmse

    assert spend.values["rmse"]["baseline"] == pytest.approx(rmse(truth, signal))
    failed = {v.task: v for v in judge(tasks, labels, lost, good, gates)}["spend"]
    assert failed.verdict == "FAIL" and len(failed.failures) == 1  # RMSE is compared, MAE only reported
    assert "task 'spend': rmse" in failed.failures[0] and f"over {n} rows" in failed.failures[0]
    assert failed.values["rmse"]["low"] > 0 and failed.values["mae"]["verdict"] == "pass"  # under its ceiling
    assert "examples" in judge(tasks[-10:], labels[-10:], good[-10:], None, gates)[0].verdict  # few rows: not gated
    assert "spend" in format_verdicts([failed]) and "rmse" in format_verdicts([failed])
