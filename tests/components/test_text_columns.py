"""Every text column a spec declares reaches the model: three text columns train, export, serve, and each
column's words move the score."""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf
import yaml


@pytest.mark.e2e
def test_three_text_columns_each_change_the_served_score(tmp_path):
    from google.protobuf import text_format

    from components.feature_spec import load_feature_spec
    from components.schema_draft import draft_schema
    from components.signatures import DTYPES
    from serving.client import serialize_rows
    from serving.sample_model import SAMPLE, SAMPLE_ROW, SPEC, export_sample_model

    # The synthetic sample with two more text columns beside `query`, each with its own words.
    titles, reviews = ["red shoe", "blue phone case", "fast charger"], ["great fit", "too small", "broke soon"]
    with open(SAMPLE) as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "sample.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, [*rows[0], "title", "review"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, "title": titles[i % 3], "review": reviews[i % 3]})
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    spec["columns"]["title"] = {"role": "text", "max_tokens": 4, "vocab_size": 16}
    spec["columns"]["review"] = {"role": "text", "max_tokens": 4, "vocab_size": 16}
    with open(tmp_path / "feature_spec.yaml", "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    parsed = load_feature_spec(str(tmp_path / "feature_spec.yaml"))
    assert [c.name for c in parsed.by_role("text")] == ["query", "title", "review"]
    (tmp_path / "schema.pbtxt").write_text(text_format.MessageToString(draft_schema(parsed)))

    exported = export_sample_model(
        str(tmp_path / "out"),
        spec_path=str(tmp_path / "feature_spec.yaml"),
        schema_path=str(tmp_path / "schema.pbtxt"),
        sample=str(tmp_path / "sample.csv"),
    )
    assert [name for name, _, _ in exported.input_config.text] == ["query", "title", "review"]
    assert exported.input_config.num_tokens == 1 + 3 + 1 + 1 + 3  # context, 3 texts, history, image, 3 task ids
    assert [layer.name for layer in exported.model.encoder.texts] == ["text", "text_1", "text_2"]

    served = tf.saved_model.load(os.path.join(exported.base_path, "1")).signatures["serving_default"]
    dtypes = {c.name: DTYPES[c.dtype] for c in parsed.feature_columns}
    base = dict(SAMPLE_ROW, title="red shoe", review="great fit")
    changed = [
        base,
        dict(base, query="c3x1 c3x4 w48"),
        dict(base, title="fast charger"),
        dict(base, review="broke soon"),
    ]
    scores = served(examples=tf.constant(serialize_rows(changed, dtypes)))["probability"].numpy().reshape(-1)
    assert np.allclose(scores, exported.in_process(changed).reshape(-1), atol=1e-5)  # the export is the model
    for i, column in enumerate(("query", "title", "review"), start=1):
        assert abs(scores[i] - scores[0]) > 1e-6, (column, scores)  # this column's words reached the score
