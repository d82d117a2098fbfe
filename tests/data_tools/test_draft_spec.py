"""Drafting a feature spec and schema from a CSV nobody wrote a spec for."""

import csv

import pytest

from components.feature_spec import FeatureSpecError, check_against_schema, load_feature_spec
from data_tools import draft_spec
from tests.data_tools.wide_csv import write_wide_csv


def test_a_wide_file_drafts_roles_dtypes_and_wide_labels(tmp_path, capsys):
    write_wide_csv(tmp_path / "wide.csv")
    assert draft_spec.main(["--input", str(tmp_path / "wide.csv"), "--labels", "click,conversion",
                            "--out", str(tmp_path / "spec")]) == 0  # fmt: skip
    spec = load_feature_spec(str(tmp_path / "spec" / "feature_spec.yaml"))
    check_against_schema(spec, str(tmp_path / "spec" / "schema.pbtxt"))
    got = {c.name: (c.role, c.dtype, dict(c.options)) for c in spec.columns}
    assert got == {
        "task": ("task", "string", {}),
        "label": ("label", "int", {}),
        # 73 distinct whole numbers: a count, not codes; few values, so each frequent one gets an id too.
        "age": ("numerical", "int", {"buckets": 32, "value_ids": 256}),
        "workclass": ("categorical", "string", {}),  # `?` is one more category
        "industry_code": ("categorical", "int", {}),  # 12 distinct whole numbers: codes
        "hours": ("numerical", "int", {"buckets": 32, "value_ids": 256}),
        "capital_gain": ("numerical", "int", {"buckets": 32, "value_ids": 256}),  # mostly 0, a long tail
        # Decimals with `?` for missing: thousands of distinct values, no value ids.
        "balance": ("numerical", "float", {"buckets": 32}),
    }
    assert spec.wide_labels == {"click": "click", "conversion": "conversion"}
    table = capsys.readouterr().out
    assert "heavy right tail (skewness" in table and "12 distinct whole numbers: codes" in table


def test_ids_row_keys_constants_and_text_are_flagged(tmp_path):
    path = tmp_path / "long.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row_id", "task", "label", "user_id", "country", "title", "emb", "genres"])
        for i in range(300):
            writer.writerow([i, "ctr", i % 2, f"u{i % 40}", "NL", f"red shoe {i % 7}", f"0.{i % 9} 0.2 -1.5",
                             f"Comedy Drama{' War' * (i % 2)}"])  # fmt: skip
    spec, guesses = draft_spec.draft(str(path))
    by_name = {g.name: g for g in guesses}
    assert spec["columns"]["row_id"]["role"] == "ignore" and by_name["row_id"].review
    assert spec["columns"]["country"]["role"] == "ignore"  # one value in every row
    assert spec["columns"]["title"]["role"] == "text" and by_name["title"].review
    assert spec["columns"]["emb"] == {"role": "image_embedding", "dtype": "string", "dim": 3}
    assert spec["columns"]["user_id"]["role"] == "categorical"
    # The model reads one text column: a second one is ignored, and said so.
    assert spec["columns"]["genres"]["role"] == "ignore" and "a second text column" in by_name["genres"].why
    assert "wide_labels" not in spec


@pytest.mark.parametrize(
    "rows, labels, expected",
    [
        ([["a", "y"], ["1", ">50K"]], ["y"], "label column 'y' has values like ['>50K']; labels must be 0/1"),
        ([["a", "y"], ["1", "0"]], ["z"], "--labels column(s) ['z'] are not in the header"),
        ([["a", "y"], ["1", "0"]], [], "no 'task' column; for a wide file name its 0/1 label columns with --labels"),
        ([["task", "y"], ["1", "0"]], ["y"], "column 'task' exists; in a wide file it would clash"),
    ],
)
def test_what_cannot_be_drafted_says_what_to_pass(tmp_path, rows, labels, expected):
    path = tmp_path / "x.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(FeatureSpecError) as info:
        draft_spec.draft(str(path), labels)
    assert expected in str(info.value) and str(path) in str(info.value)
