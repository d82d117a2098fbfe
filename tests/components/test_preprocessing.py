"""Golden-schema Transform test: preprocessing_fn under Beam on checked-in examples."""

import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

import schemas
from components.feature_spec import load_feature_spec
from components.model_inputs import input_config_from_transform
from components.transform_check import run_transform

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = schemas.path("synthetic", "sample.csv")
SPEC = schemas.path("synthetic", "feature_spec.yaml")
SCHEMA = schemas.path("synthetic", "schema.pbtxt")
GOLDEN = schemas.path("synthetic", "transformed_schema.pbtxt")


@pytest.fixture(scope="module")
def transform_output(tmp_path_factory):
    return run_transform(SAMPLE, SPEC, SCHEMA, str(tmp_path_factory.mktemp("tft")))


def test_transformed_schema_matches_the_golden_one(transform_output):
    with open(GOLDEN) as f:
        golden = text_format.Parse(f.read(), schema_pb2.Schema())
    got = transform_output.transformed_metadata.schema
    assert {f.name for f in got.feature} == {f.name for f in golden.feature}
    assert text_format.MessageToString(got) == text_format.MessageToString(golden)
    assert "oracle_p" not in {f.name for f in got.feature} and "ts" not in {f.name for f in got.feature}


def _raw_examples(rows):
    """Serialized raw tf.Examples as a client would send them (no label, no oracle)."""
    out = []
    for row in rows:
        feature = {}
        for key, value in row.items():
            if value is None:
                continue
            if isinstance(value, str):
                feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            elif isinstance(value, int):
                feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
            else:
                feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out


ROW = dict(
    task="ctr",
    flow="upgrade",
    surface="app",
    user_id="u1",
    item_id="i2",
    region="r3",
    device=2,
    price=50.0,
    tenure_days=400.0,
    data_gb=10.0,
    discount=0.1,
    query="c1x2 deal w3",
    hist_items="i5 i7",
    image_emb=" ".join(["0.1"] * 16),
)


def test_transform_values_follow_the_model_contract(transform_output):
    spec = load_feature_spec(SPEC)
    config = input_config_from_transform(spec, transform_output)
    raw_spec = transform_output.raw_feature_spec()
    request = {k: v for k, v in raw_spec.items() if k in ROW}
    unseen = dict(ROW, task="brand_new_task", user_id="u_never", tenure_days=None, query="zzz unknownword")
    parsed = tf.io.parse_example(_raw_examples([ROW, unseen]), request)
    out = transform_output.transform_features_layer()(parsed)
    for name, size in (*config.task_columns, *config.categorical):
        values = out[name].numpy()
        assert values.shape == (2,) and values.min() >= 0 and values.max() < size, name
    # An unseen task maps to the OOV id (== vocabulary size), never an error.
    assert out["task"].numpy()[1] == config.task_columns[0][1] - 1
    assert out["tenure_days"].numpy()[1] == 0.0  # missing -> the mean -> 0 after z-scoring
    assert np.all(np.isfinite(out["price"].numpy()))
    query = out["query"].numpy()
    assert query.shape == (2, 8) and (query[0] > 0).sum() == 3 and (query[0, 3:] == 0).all()
    assert (query[1, :2] == config.text[0][1] - 1).all()  # unknown words -> the OOV token id
    assert out["hist_items"].numpy().shape == (2, 20) and (out["hist_items"].numpy()[0] > 0).sum() == 2
    np.testing.assert_allclose(out["image_emb"].numpy()[0], [0.1] * 16, rtol=1e-6)


def _spec_with_schema(tmp_path, columns: str):
    """A spec of task, label and ``columns`` (YAML lines) in ``tmp_path``, its drafted schema beside it."""
    from google.protobuf import text_format as tf_text

    from components.schema_draft import draft_schema

    (tmp_path / "spec.yaml").write_text("columns:\n  task: {role: task}\n  label: {role: label}\n" + columns)
    spec = load_feature_spec(str(tmp_path / "spec.yaml"))
    (tmp_path / "schema.pbtxt").write_text(tf_text.MessageToString(draft_schema(spec)))
    return spec


def _transform_rows(tmp_path, header: str, lines):
    """Transform fitted on ``header`` and ``lines`` (CSV lines) with the spec and schema of ``_spec_with_schema``."""
    with open(tmp_path / "data.csv", "w") as f:
        f.write(header + "\n" + "".join(line + "\n" for line in lines))
    return run_transform(
        str(tmp_path / "data.csv"), str(tmp_path / "spec.yaml"), str(tmp_path / "schema.pbtxt"), str(tmp_path / "tft")
    )


def test_numerical_transforms_log1p_quantile_buckets_and_bucket_ids(tmp_path):
    """Integer data in a float column, log1p, quantile buckets (ids) and `buckets` beside a z-score."""
    spec = _spec_with_schema(
        tmp_path,
        "  gain: {role: numerical, dtype: int, transform: log1p, buckets: 4}\n"
        "  age: {role: numerical, transform: bucketize, num_buckets: 4}\n",
    )
    rng = np.random.default_rng(0)
    gains = [0] * 50 + [int(v) for v in rng.lognormal(5, 2, 149)]
    ages = list(range(20, 219))
    lines = [f"ctr,{age % 2},{gain},{age}" for gain, age in zip(gains, ages, strict=True)]
    output = _transform_rows(tmp_path, "task,label,gain,age", [*lines, "ctr,0,,"])  # the last: missing values
    config = input_config_from_transform(spec, output)
    assert config.numerical == ("gain",)
    assert config.categorical == (("age", 5), ("gain__bucket", 5))  # 4 buckets + missing
    present = [[0, 0], [1, 0], [2, 0]]  # the last row has neither gain nor age: missing values
    raw = {
        "task": tf.constant([["ctr"]] * 4),
        "label": tf.constant([[0]] * 4, tf.int64),
        "gain": tf.SparseTensor(present, tf.constant([0, 1000, 10**6], tf.int64), [4, 1]),
        "age": tf.SparseTensor(present, tf.constant([20.0, 120.0, 218.0]), [4, 1]),
    }
    out = output.transform_raw_features(raw)
    logs = np.log1p(np.array(gains, dtype=float))
    expected = (np.log1p([0, 1000, 10**6]) - logs.mean()) / logs.std()
    np.testing.assert_allclose(out["gain"].numpy()[:3], expected, rtol=1e-3)
    assert out["gain"].numpy()[3] == 0.0  # missing: the mean
    assert list(out["age"].numpy()) == [0, 2, 3, 4]  # quartiles of 20..218; missing = bucket 4
    bucket = out["gain__bucket"].numpy()
    # 0 is in the lowest quartile (a quarter of the rows are 0), 1000 and 10**6 above the top one (~570).
    assert bucket[0] in (0, 1) and bucket[1] == bucket[2] == 3 and bucket[3] == 4


def test_value_ids_give_frequent_exact_values_their_own_id(tmp_path):
    """`value_ids`: each value seen >= VALUE_MIN_COUNT times gets an id (most frequent first), rarer and
    unseen values share the OOV id, missing is a value of its own; int and float columns alike."""
    from components.feature_spec import VALUE_MIN_COUNT

    spec = _spec_with_schema(
        tmp_path, "  gain: {role: numerical, dtype: int, value_ids: 4}\n" "  rate: {role: numerical, value_ids: 8}\n"
    )
    # gain: 0 x 40, 7688 x 9, missing x 7, 123456789 x 6 (beyond float32's exact integers), 15024 x 5
    # (the 5th: beyond the top 4), 3 x (VALUE_MIN_COUNT - 1) (too rare). rate: 0.1 x 30, 2.5 x 30.
    gains = [0] * 40 + [7688] * 9 + [None] * 7 + [123456789] * 6 + [15024] * 5 + [3] * (VALUE_MIN_COUNT - 1)
    lines = [f"ctr,{i % 2},{'' if gain is None else gain},{0.1 if i % 2 else 2.5}" for i, gain in enumerate(gains)]
    output = _transform_rows(tmp_path, "task,label,gain,rate", lines)
    config = input_config_from_transform(spec, output)
    assert config.numerical == ("gain", "rate")  # the z-scores stay
    assert config.categorical == (("gain__value", 5), ("rate__value", 3))  # kept values + one OOV id
    present = [[i, 0] for i in range(6)]
    raw = {
        "task": tf.constant([["ctr"]] * 7),
        "label": tf.constant([[0]] * 7, tf.int64),
        "gain": tf.SparseTensor(present, tf.constant([0, 7688, 123456789, 123456790, 15024, 3], tf.int64), [7, 1]),
        "rate": tf.SparseTensor(present, tf.constant([0.1, 2.5, 0.1, 0.2, 2.5, 0.1]), [7, 1]),
    }
    out = output.transform_raw_features(raw)
    # Most frequent first: 0 -> 0, 7688 -> 1, missing -> 2, 123456789 -> 3; the rest (a neighbour of
    # 123456789 too) -> the OOV id 4.
    assert list(out["gain__value"].numpy()) == [0, 1, 3, 4, 4, 4, 2]
    # 0.1 and 2.5 tie (30 each); no rate was missing in training, so "nan" is OOV here.
    rate = out["rate__value"].numpy()
    assert rate[0] == rate[2] == rate[5] != rate[1] == rate[4] and {rate[0], rate[1]} == {0, 1}
    assert rate[3] == rate[6] == 2


def test_text_words_split_off_punctuation_as_the_drafter_counts_them(tmp_path):
    """Text is lower-cased and ASCII punctuation split off before the vocabulary: `Dress.` is `dress`; the
    apostrophe stays and words of other scripts stay whole. The drafter's word count reads the same words."""
    from data_tools.column_rules import text_words

    _spec_with_schema(tmp_path, "  review: {role: text, max_tokens: 6}\n")
    rows = ["Dress. dress, DRESS!", "don't (fit) café", "dress fit"] * 4
    output = _transform_rows(tmp_path, "task,label,review", [f'ctr,{i % 2},"{text}"' for i, text in enumerate(rows)])
    ids = output.transform_raw_features(
        {
            "task": tf.constant([["ctr"]] * 2),
            "label": tf.constant([[0]] * 2, tf.int64),
            "review": tf.SparseTensor(
                [[0, 0], [1, 0]], tf.constant(["Dress. dress, DRESS!", "don't (fit) café"]), [2, 1]
            ),
        }
    )["review"].numpy()
    dress = ids[0][0]
    assert list(ids[0]) == [dress] * 3 + [0] * 3  # one word three times, then padding
    assert len({dress, *ids[1][:3]}) == 4 and list(ids[1][3:]) == [0] * 3  # don't, fit, café: three words
    assert text_words("Dress. dress, DRESS!") == ["dress"] * 3
    assert text_words("don't (fit) café") == ["don't", "fit", "café"]


def test_bounded_and_hashed_ids_for_categorical_columns(tmp_path):
    """`max_ids` keeps the most frequent values, `min_count` those seen often enough (both: OOV ids for the
    rest, seen or unseen); `hash_buckets` gives every value, seen or not, its fingerprint bucket."""
    spec = _spec_with_schema(
        tmp_path,
        "  item: {role: categorical, max_ids: 3}\n"
        "  shop: {role: categorical, dtype: int, min_count: 4, oov_buckets: 2}\n"
        "  user: {role: categorical, hash_buckets: 16}\n",
    )
    # item: a x 6, b x 5, c x 4, d x 3, e x 2 (top 3: a b c). shop: 7 x 8, 9 x 4 (kept), 11 x 3 (too rare).
    items = list("aaaaaabbbbbccccdddee")
    shops = [7] * 8 + [9] * 4 + [11] * 3 + [7] * 5
    lines = [f"ctr,{i % 2},{item},{shop},u{i}" for i, (item, shop) in enumerate(zip(items, shops, strict=True))]
    output = _transform_rows(tmp_path, "task,label,item,shop,user", lines)
    config = input_config_from_transform(spec, output)
    assert config.categorical == (("item", 4), ("shop", 4), ("user", 16))  # 3 + 1 OOV, 2 + 2 OOV, 16 buckets
    values = {"item": ["a", "b", "c", "d", "never"], "shop": [7, 9, 11, 123, 7], "user": ["u1", "u7", "zz", "", "u1"]}
    raw = {
        "task": tf.constant([["ctr"]] * 5),
        "label": tf.constant([[0]] * 5, tf.int64),
        "item": tf.SparseTensor([[i, 0] for i in range(5)], tf.constant(values["item"]), [5, 1]),
        "shop": tf.SparseTensor([[i, 0] for i in range(5)], tf.constant(values["shop"], tf.int64), [5, 1]),
        "user": tf.SparseTensor([[i, 0] for i in range(3)], tf.constant(values["user"][:3]), [5, 1]),  # 2 missing
    }
    out = output.transform_raw_features(raw)
    assert list(out["item"].numpy()) == [0, 1, 2, 3, 3]  # d (kept out by max_ids) and an unseen value: OOV
    shop = out["shop"].numpy()
    assert list(shop[:2]) == [0, 1] and set(shop[2:4]) <= {2, 3} and shop[4] == 0  # 11 and 123: OOV ids
    expected = tf.strings.to_hash_bucket_fast(["u1", "u7", "zz", "", ""], 16).numpy()
    assert list(out["user"].numpy()) == list(expected)  # missing is the value "", hashed like any other
    assert len(set(expected[:3])) > 1  # (the check above could not pass by every value sharing one id)


def test_task_loss_weights_follow_the_task_ids_and_the_tasks_must_match_the_data(transform_output):
    import dataclasses

    from components.feature_spec import FeatureSpecError
    from components.model_inputs import task_loss, task_names
    from components.preprocessing import oov_buckets

    spec = load_feature_spec(SPEC)
    names = task_names(spec, transform_output)
    assert sorted(names) == ["atc", "churn", "ctr", "cvr"]
    plain = {"task_weights": None, "task_losses": None, "task_chain": None, "loss_weighting": "static"}
    assert task_loss(spec, transform_output) == plain  # no section
    weighted = dataclasses.replace(
        spec,
        tasks={"ctr": {"weight": 2.0}, "atc": {}, "cvr": {"weight": 0.5}, "churn": {}},
        loss_weighting="uncertainty",
    )
    found = task_loss(weighted, transform_output)
    expected = [{"ctr": 2.0, "cvr": 0.5}.get(name, 1.0) for name in names] + [1.0] * oov_buckets(spec.task_column)
    assert found == {"task_weights": expected, "task_losses": None, "task_chain": None, "loss_weighting": "uncertainty"}
    # A chained task: its given task's id at its own id, -1 elsewhere (OOV ids included).
    chained = dataclasses.replace(
        spec, tasks={"ctr": {}, "atc": {}, "cvr": {"given": "ctr", "chain": "entire_space"}, "churn": {}}
    )
    chain = task_loss(chained, transform_output)["task_chain"]
    assert chain == [names.index("ctr") if name == "cvr" else -1 for name in names] + [-1] * oov_buckets(
        spec.task_column
    )
    config = input_config_from_transform(spec, transform_output)
    assert len(found["task_weights"]) == config.num_tasks  # one per task id, OOV ids included
    short = dataclasses.replace(spec, tasks={"ctr": {}, "atc": {}, "cvr": {}})
    with pytest.raises(FeatureSpecError, match=r"column 'task'\) holds task\(s\) \['churn'\]"):
        task_loss(short, transform_output)
