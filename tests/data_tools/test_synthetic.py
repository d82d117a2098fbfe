import hashlib
import os

import numpy as np
import pytest

from components.feature_spec import load_feature_spec
from data_tools import generate_synthetic, synthetic

SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "synthetic", "feature_spec.yaml")
CONFIG = synthetic.SyntheticConfig(num_rows=40_000, seed=3)


@pytest.fixture(scope="module")
def data():
    return synthetic.generate(CONFIG)


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = synthetic.SyntheticConfig(num_rows=3_000, seed=11)
    generate_synthetic.write_dataset(config, str(tmp_path / "a"))
    generate_synthetic.write_dataset(config, str(tmp_path / "b"))
    other = synthetic.SyntheticConfig(num_rows=3_000, seed=12)
    generate_synthetic.write_dataset(other, str(tmp_path / "c"))
    for split in ("train", "eval"):
        a = _digest(tmp_path / "a" / split / "data.csv")
        assert a == _digest(tmp_path / "b" / split / "data.csv")
        assert a != _digest(tmp_path / "c" / split / "data.csv")


def test_exact_row_count_sorted_by_time_and_eval_split_is_the_last_week(data):
    assert len(data["label"]) == CONFIG.num_rows
    assert all(len(v) == CONFIG.num_rows for v in data.values())
    assert np.all(np.diff(data["ts"]) >= 0)
    eval_share = np.mean(data["ts"] >= CONFIG.eval_start_ts)
    # 7 of 97 days are eval: 7.2 % of rows, give or take sampling noise.
    assert 0.05 < eval_share < 0.095


def test_columns_match_the_feature_spec(data):
    spec = load_feature_spec(SPEC)
    assert list(data) == spec.names == list(synthetic.COLUMNS)


def test_default_is_eight_tasks_four_metrics_two_flows(data):
    tasks = sorted(set(synthetic.task_names(data)))
    assert len(tasks) == 8
    assert {t.split("/")[1] for t in tasks} == {"new_line", "upgrade"}
    assert len(synthetic.task_list(32)) == 32
    assert synthetic.task_list(2) == [("ctr", "new_line"), ("atc", "new_line")]


def test_sparse_and_dense_rates(data):
    names = synthetic.task_names(data)
    for task in set(names):
        rate = data["label"][names == task].mean()
        if task.startswith(("cvr", "churn")):
            assert 0.008 <= rate <= 0.032, (task, rate)  # sparse: 1-3 %, sampling noise allowed
        else:
            assert 0.18 <= rate <= 0.42, (task, rate)  # dense: 20-40 %


def _per_impression(data, metric, flow="upgrade"):
    rows = (data["task"] == metric) & (data["flow"] == flow)
    order = np.argsort(data["impression_id"][rows])
    return data["impression_id"][rows][order], data["oracle_p"][rows][order], data["label"][rows][order]


def _logit(p):
    return np.log(p / (1 - p))


def test_related_tasks_correlate_and_conflicting_pair_anticorrelates(data):
    ids_ctr, p_ctr, y_ctr = _per_impression(data, "ctr")
    ids_atc, p_atc, y_atc = _per_impression(data, "atc")
    ids_churn, p_churn, y_churn = _per_impression(data, "churn")
    assert np.array_equal(ids_ctr, ids_atc) and np.array_equal(ids_ctr, ids_churn)
    assert np.corrcoef(_logit(p_ctr), _logit(p_atc))[0, 1] > 0.6
    assert np.corrcoef(_logit(p_ctr), _logit(p_churn))[0, 1] < -0.3
    # Visible in the labels too: positives of one task raise the other's rate.
    assert y_atc[y_ctr == 1].mean() > 1.5 * y_atc[y_ctr == 0].mean()
    assert y_churn[y_ctr == 1].mean() < 0.7 * y_churn[y_ctr == 0].mean()


def test_same_metric_in_two_flows_differs_by_the_flow_term(data):
    # Upgrade favours long tenure, new_line short tenure (module docstring).
    for flow, sign in (("upgrade", 1), ("new_line", -1)):
        rows = (data["task"] == "cvr") & (data["flow"] == flow) & ~np.isnan(data["tenure_days"])
        corr = np.corrcoef(np.log1p(data["tenure_days"][rows]), _logit(data["oracle_p"][rows]))[0, 1]
        assert sign * corr > 0.1, (flow, corr)


def test_every_modality_carries_signal(data):
    rows = data["task"] == "ctr"
    logit = _logit(data["oracle_p"][rows])
    has_cat_word = np.array(["c" in q.split(" ")[0][:1] for q in data["query"][rows]])
    assert logit[has_cat_word].mean() > logit[~has_cat_word].mean() + 0.2  # text
    cvr = data["task"] == "cvr"
    intent = np.array([sum(w in synthetic.INTENT_WORDS for w in q.split()) for q in data["query"][cvr]])
    assert _logit(data["oracle_p"][cvr])[intent == 2].mean() > _logit(data["oracle_p"][cvr])[intent == 0].mean() + 1
    hist_len = np.array([len(h.split()) for h in data["hist_items"]])
    assert hist_len.max() <= CONFIG.history_length and (hist_len == 0).any()
    image = np.array([np.array(v.split(), dtype=float) for v in data["image_emb"][:100]])
    assert image.shape == (100, CONFIG.image_dim)
    price = data["price"][cvr]
    assert np.corrcoef(np.log(price), _logit(data["oracle_p"][cvr]))[0, 1] < -0.2  # numerical


def test_long_tails_missing_values_and_unseen_users(data):
    users = data["user_id"]
    _, counts = np.unique(users, return_counts=True)
    assert len(counts) > 2_000 and counts.max() > 20 * np.median(counts)
    assert 0.03 < np.mean(np.isnan(data["tenure_days"])) < 0.07
    assert 0.06 < np.mean(np.isnan(data["data_gb"])) < 0.10
    train_users = set(users[data["ts"] < CONFIG.eval_start_ts])
    eval_users = users[data["ts"] >= CONFIG.eval_start_ts]
    unseen = np.mean([u not in train_users for u in eval_users])
    assert 0.10 < unseen < 0.35


def test_oracle_never_reaches_the_features():
    spec = load_feature_spec(SPEC)
    assert "oracle_p" not in [c.name for c in spec.feature_columns]
    assert spec.column("oracle_p").role == "ignore"
    from components.schema_draft import draft_schema

    feature = [f for f in draft_schema(spec).feature if f.name == "oracle_p"][0]
    assert "SERVING" in feature.not_in_environment
    assert "not_a_feature" in feature.annotation.tag


def test_oracle_ap_is_a_ceiling_above_the_positive_rate(tmp_path):
    manifest = generate_synthetic.write_dataset(synthetic.SyntheticConfig(num_rows=20_000), str(tmp_path))
    for task, stats in manifest["tasks"]["train"].items():
        # A random ranking has AP = positive rate; the oracle is well above it.
        lift = 3 * stats["positive_rate"] if stats["positive_rate"] < 0.05 else stats["positive_rate"] + 0.2
        assert stats["oracle_ap"] > lift, (task, stats)
    summary = generate_synthetic.format_summary(manifest, str(tmp_path))
    assert "cvr/upgrade" in summary and "oracle AP" in summary


def test_tfrecord_output_parses_back_to_the_same_values(tmp_path):
    import tensorflow as tf

    config = synthetic.SyntheticConfig(num_rows=500, seed=5)
    generate_synthetic.write_dataset(config, str(tmp_path), "tfrecord")
    columns = synthetic.generate(config)
    records = list(tf.data.TFRecordDataset(str(tmp_path / "train" / "data.tfrecord")).take(3))
    for i, record in enumerate(records):
        example = tf.train.Example.FromString(record.numpy())
        features = example.features.feature
        assert features["task"].bytes_list.value[0].decode() == columns["task"][i]
        assert features["hist_items"].bytes_list.value[0].decode() == columns["hist_items"][i]
        assert features["label"].int64_list.value[0] == columns["label"][i]
        if np.isnan(columns["tenure_days"][i]):
            assert len(features["tenure_days"].float_list.value) == 0
        else:
            assert features["tenure_days"].float_list.value[0] == pytest.approx(columns["tenure_days"][i], rel=1e-6)


def test_bad_config_names_the_argument():
    with pytest.raises(ValueError, match="num_tasks=0"):
        synthetic.SyntheticConfig(num_tasks=0)
    with pytest.raises(ValueError, match="image_dim=4"):
        synthetic.SyntheticConfig(image_dim=4)


def test_cli_prints_where_and_what(tmp_path, capsys):
    assert generate_synthetic.main(["--out", str(tmp_path), "--rows", "2000", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "rows/s" in out and "ctr/new_line" in out
    assert (tmp_path / "manifest.json").exists()


def test_funnel_writes_a_conversion_only_after_a_click_at_the_conditional_rate(data):
    funnel = synthetic.generate(synthetic.SyntheticConfig(num_rows=40_000, seed=3, funnel=True))
    ctr, cvr = funnel["task"] == "ctr", funnel["task"] == "cvr"
    rows = zip(funnel["impression_id"][ctr], funnel["flow"][ctr], funnel["label"][ctr], strict=True)
    clicks = {(i, f) for i, f, y in rows if y}
    converted = set(zip(funnel["impression_id"][cvr], funnel["flow"][cvr], strict=False))
    assert converted == clicks  # every clicked impression has its cvr row, and no other impression has one
    assert len(funnel["label"]) == CONFIG.num_rows - (np.sum(data["task"] == "cvr") - len(converted))
    # Given a click, conversion's rate is cvr's base rate over ctr's (6.7 %); over all impressions, the base rate.
    rate = funnel["label"][cvr].mean()
    assert 0.05 < rate < 0.085
    assert 0.015 < rate * funnel["label"][ctr].mean() < 0.025
    # The oracle is p(convert | click): a ceiling above the rate; the other tasks' rows are the plain data's.
    from sklearn.metrics import average_precision_score

    assert average_precision_score(funnel["label"][cvr], funnel["oracle_p"][cvr]) > 2 * rate
    assert np.array_equal(funnel["label"][ctr], data["label"][data["task"] == "ctr"])


def test_regression_puts_spend_in_churns_place_with_its_expectation_as_the_oracle(data):
    both = synthetic.generate(synthetic.SyntheticConfig(num_rows=40_000, seed=3, funnel=True, regression=True))
    spend = both["task"] == "spend"
    assert "churn" not in set(both["task"]) and spend.sum() > 5_000
    y, expected = both["label"][spend], both["oracle_p"][spend]
    assert y.min() > 0 and 15 < np.median(y) < 25 and y.max() > 10 * np.median(y)  # log-normal: a heavy tail
    # The oracle is E[y | features]: its mean matches the labels' and it beats the best constant in squared error.
    assert abs(expected.mean() / y.mean() - 1) < 0.05
    assert np.mean((y - expected) ** 2) < 0.9 * np.var(y)
    # The binary tasks are untouched: ctr's rows and labels are the plain funnel data's, still 0 or 1.
    funnel = synthetic.generate(synthetic.SyntheticConfig(num_rows=40_000, seed=3, funnel=True))
    ctr = both["task"] == "ctr"
    assert np.array_equal(both["label"][ctr], funnel["label"][funnel["task"] == "ctr"])
    assert set(np.unique(both["label"][~spend])) == {0.0, 1.0}


def test_cli_regression_summary_shows_the_oracle_rmse(tmp_path, capsys):
    assert generate_synthetic.main(["--out", str(tmp_path), "--rows", "4000", "--regression", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "spend/new_line" in out and "(regression: mean, oracle RMSE)" in out
    import pandas as pd

    written = pd.read_csv(tmp_path / "train" / "data.csv", dtype={"label": str})
    spend = written["task"] == "spend"
    assert set(written["label"][~spend]) == {"0", "1"}  # binary labels as written before
    assert (written["label"][spend].astype(float) > 0).all() and "." in "".join(written["label"][spend])
