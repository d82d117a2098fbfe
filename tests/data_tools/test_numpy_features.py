"""The benchmarks' numpy preprocessing against the pipeline's preprocessing_fn (TFT) on the same rows.

Fitted on the same 300 rows, both must give every row the same model inputs: the same vocabulary entry
for each id (compared as the values the ids stand for, since tie order within equal counts is free),
the same z-scores, the same token sequences and image vectors.
"""

import csv

import numpy as np
import pandas as pd
import pytest

from components.feature_spec import load_feature_spec
from components.preprocessing import vocabulary_name
from data_tools.numpy_features import NumpyPreprocessor
from serving.sample_model import SAMPLE, SPEC


@pytest.fixture(scope="module")
def both(exported):
    """(numpy inputs, numpy preprocessor, TFT inputs) for every row of the sample file."""
    spec = load_feature_spec(SPEC)
    frame = pd.read_csv(SAMPLE, keep_default_na=False, na_values={c.name: [""] for c in spec.by_role("numerical")})
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    pre = NumpyPreprocessor(spec).fit(columns)
    features = {c.name for c in spec.feature_columns}
    with open(SAMPLE) as f:
        rows = [{k: v for k, v in row.items() if k in features} for row in csv.DictReader(f)]
    tft_inputs = {name: np.asarray(value) for name, value in exported.transformed(rows).items()}
    return pre.transform(columns), pre, tft_inputs, exported.transform_output, spec


def _decode(ids, vocabulary, offset=0):
    """Ids -> the values they stand for ('' for padding when offset is 1, '<oov>' past the vocabulary)."""
    table = ([""] if offset else []) + [v.decode() if isinstance(v, bytes) else str(v) for v in vocabulary]
    return np.vectorize(lambda i: table[i] if i < len(table) else "<oov>", otypes=[object])(ids)


def test_ids_stand_for_the_same_values(both):
    ours, pre, theirs, tft_output, spec = both
    for column in [*spec.task_columns, *spec.by_role("categorical")]:
        tft_vocab = tft_output.vocabulary_by_name(vocabulary_name(column.name))
        assert len(pre.vocabularies[column.name]) == len(tft_vocab), column.name
        np.testing.assert_array_equal(
            _decode(ours[column.name], pre.vocabularies[column.name]),
            _decode(theirs[column.name].reshape(-1), tft_vocab),
            err_msg=column.name,
        )


def test_token_sequences_are_the_same(both):
    ours, pre, theirs, tft_output, spec = both
    for column in [*spec.by_role("text"), *spec.by_role("history")]:
        tft_vocab = tft_output.vocabulary_by_name(vocabulary_name(column.name))
        np.testing.assert_array_equal(
            _decode(ours[column.name], pre.vocabularies[column.name], offset=1),
            _decode(theirs[column.name], tft_vocab, offset=1),
            err_msg=column.name,
        )


def test_numbers_and_image_vectors_are_the_same(both):
    ours, _, theirs, _, spec = both
    for column in [*spec.by_role("numerical"), *spec.by_role("image_embedding")]:
        np.testing.assert_allclose(ours[column.name], theirs[column.name].reshape(ours[column.name].shape),
                                   atol=1e-4, err_msg=column.name)  # fmt: skip


@pytest.mark.parametrize("options", ["transform: log1p", "transform: bucketize", "buckets: 8"])
def test_numerical_transforms_it_does_not_implement_are_refused_not_skipped(options):
    from components.feature_spec import parse_feature_spec

    spec = parse_feature_spec({"columns": {"task": "task", "label": "label", "x": {
        "role": "numerical", **{k: (int(v) if v.isdigit() else v) for k, v in [options.split(": ")]}}}})  # fmt: skip
    columns = {"task": np.array(["ctr"] * 4), "label": np.array([0, 1, 0, 1]), "x": np.array([1.0, 2.0, 3.0, 4.0])}
    with pytest.raises(ValueError, match="column 'x' asks for"):
        NumpyPreprocessor(spec).fit(columns)
