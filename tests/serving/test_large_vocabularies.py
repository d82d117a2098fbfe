"""A model whose user ids are hashed (`hash_buckets`) and whose item ids are bounded (`max_ids`) trains,
exports and serves; an id never seen in training scores through the same rule as one seen: the same
bucket as any user of its hash, the OOV id of the items left out of the vocabulary."""

import collections
import csv

import numpy as np
import pytest
import tensorflow as tf

from serving.client import GRecClient
from serving.launcher import ServerProcess
from serving.sample_model import SAMPLE, SAMPLE_ROW, SCHEMA, SPEC, export_sample_model

USER_BUCKETS = 32
ITEM_IDS = 20


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    root = tmp_path_factory.mktemp("bounded")
    with open(SPEC) as f:
        text = f.read()
    text = text.replace(
        "user_id:       {role: categorical, oov_buckets: 10}",
        f"user_id: {{role: categorical, hash_buckets: {USER_BUCKETS}}}",
    )
    text = text.replace(
        "item_id:       {role: categorical, oov_buckets: 10}", f"item_id: {{role: categorical, max_ids: {ITEM_IDS}}}"
    )
    assert "hash_buckets" in text and "max_ids" in text
    (root / "feature_spec.yaml").write_text(text)
    exported = export_sample_model(str(root), spec_path=str(root / "feature_spec.yaml"), schema_path=SCHEMA)
    with ServerProcess(exported.base_path) as process:
        client = GRecClient(process.target)
        yield exported, client
        client.close()


def _seen(column):
    with open(SAMPLE) as f:
        return collections.Counter(row[column] for row in csv.DictReader(f))


def _bucket(value: str) -> int:
    return int(tf.strings.to_hash_bucket_fast([value], USER_BUCKETS).numpy()[0])


def test_the_tables_are_as_the_spec_bounds_them(bounded):
    from models.tables import embedding_tables

    exported, _ = bounded
    tables = embedding_tables(exported.model)
    assert all(t.bytes == t.rows * t.width * 4 for t in tables)  # float32 rows
    rows = {t.feature: t.rows for t in tables}
    assert rows["user_id"] == USER_BUCKETS and rows["item_id"] == ITEM_IDS + 1  # + 1 OOV id
    assert len(_seen("user_id")) > USER_BUCKETS and len(_seen("item_id")) > ITEM_IDS  # both bounded


def test_an_unseen_user_scores_as_the_seen_users_of_its_hash_bucket(bounded):
    exported, client = bounded
    users = sorted(_seen("user_id"))
    seen_buckets = dict(zip(users, tf.strings.to_hash_bucket_fast(users, USER_BUCKETS).numpy(), strict=True))
    # The first unseen id whose bucket holds a seen user (most do: 69 users in 32 buckets).
    unseen = next(f"u_never_seen_{k}" for k in range(100) if _bucket(f"u_never_seen_{k}") in seen_buckets.values())
    same = next(u for u, b in seen_buckets.items() if b == _bucket(unseen))
    other = next(u for u, b in seen_buckets.items() if b != _bucket(unseen))
    rows = [dict(SAMPLE_ROW, user_id=u) for u in (unseen, same, other)]
    scores = client.predict(rows)
    np.testing.assert_allclose(scores, exported.in_process(rows), atol=1e-5)
    assert scores[0] == pytest.approx(scores[1], abs=1e-6) and abs(scores[0] - scores[2]) > 1e-6


def test_an_unseen_item_scores_as_the_items_left_out_of_the_vocabulary(bounded):
    exported, client = bounded
    counts = _seen("item_id")
    vocabulary = {v.decode() for v in exported.transform_output.vocabulary_by_name("vocab_item_id")}
    assert len(vocabulary) == ITEM_IDS and max(counts, key=counts.get) in vocabulary  # the most frequent
    assert min(counts[i] for i in vocabulary) >= max(n for i, n in counts.items() if i not in vocabulary)
    kept = max(counts, key=counts.get)
    left_out = sorted(set(counts) - vocabulary)
    rows = [dict(SAMPLE_ROW, item_id=i) for i in ("i_never_seen", left_out[0], left_out[-1], kept)]
    scores = client.predict(rows)
    np.testing.assert_allclose(scores, exported.in_process(rows), atol=1e-5)
    assert np.ptp(scores[:3]) < 1e-6 and abs(scores[0] - scores[3]) > 1e-6
    ids = exported.transformed(rows)["item_id"].numpy()
    assert list(ids) == [ITEM_IDS] * 3 + [ids[3]] and ids[3] < ITEM_IDS
