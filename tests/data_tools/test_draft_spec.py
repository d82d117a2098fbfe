"""Drafting a feature spec and schema from a CSV nobody wrote a spec for."""

import collections
import csv

import numpy as np
import pytest

from components.feature_spec import FeatureSpecError, check_against_schema, load_feature_spec
from data_tools import draft_spec
from tests.data_tools.wide_csv import write_wide_csv


def test_a_wide_file_drafts_roles_dtypes_and_wide_labels(tmp_path, capsys):
    write_wide_csv(tmp_path / "wide.csv")
    assert (
        draft_spec.main(
            ["--input", str(tmp_path / "wide.csv"), "--labels", "click,conversion", "--out", str(tmp_path / "spec")]
        )
        == 0
    )
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
        writer.writerow(["row_id", "task", "label", "user_id", "country", "title", "emb", "genres", "review"])
        for i in range(300):
            writer.writerow(
                [
                    i,
                    "ctr",
                    i % 2,
                    f"u{i % 40}",
                    "NL",
                    f"red shoe model {i * 7919 % 1000}",
                    f"0.{i % 9} 0.2 -1.5",
                    f"Comedy Drama{' War' * (i % 2)}",
                    f"{['great', 'poor', 'fine'][i % 3]} fit and {i} stars",
                ]
            )
    spec, guesses = draft_spec.draft(str(path))
    by_name = {g.name: g for g in guesses}
    assert spec["columns"]["row_id"]["role"] == "ignore" and by_name["row_id"].review
    assert by_name["row_id"].rule == "row key"
    assert spec["columns"]["country"]["role"] == "ignore" and by_name["country"].rule == "constant"
    # Phrases that do not repeat are text, every such column (the model reads each as its own token).
    assert spec["columns"]["title"]["role"] == "text" and by_name["title"].review and by_name["title"].rule == "phrases"
    assert spec["columns"]["review"]["role"] == "text"
    assert spec["columns"]["emb"] == {"role": "image_embedding", "dtype": "string", "dim": 3}
    assert spec["columns"]["user_id"]["role"] == "categorical"
    # Two phrases repeated over 300 rows: a categorical, whatever its words.
    assert spec["columns"]["genres"] == {"role": "categorical", "dtype": "string"}
    assert by_name["genres"].rule == "repeats" and "2 distinct values in 300 rows" in by_name["genres"].why
    assert "wide_labels" not in spec
    assert set(draft_spec.RULES) >= {g.rule for g in guesses}  # every rule the table shows is documented


def test_survey_phrases_are_categorical_and_codes_by_name(tmp_path):
    """The shape of a public survey file: categorical answers written as phrases, integer recodes with many
    values, ages and counts with few."""
    rng = __import__("numpy").random.default_rng(0)
    answers = [
        "Not applicable",
        "Married, spouse present",
        "Never married",
        "Bachelor's degree (BA)",
        "Child under 18 in household",
        "Joint filer, both under 65",
    ]
    path = tmp_path / "survey.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["age", "children count", "detailed industry recode", "marital stat", "city", "y"])
        for i in range(2_000):
            # city: 400 names, the 50 most frequent covering over 90 % of the rows (a long tail).
            city = f"City {int(rng.integers(0, 50))}" if rng.random() < 0.95 else f"Town {int(rng.integers(0, 350))}"
            writer.writerow(
                [
                    int(rng.integers(18, 33)),
                    int(rng.integers(0, 6)),
                    int(rng.integers(0, 51)),
                    answers[int(rng.integers(0, len(answers)))],
                    city,
                    i % 2,
                ]
            )
    spec, guesses = draft_spec.draft(str(path), ["y"])
    by_name = {g.name: g for g in guesses}
    roles = {name: entry["role"] for name, entry in spec["columns"].items()}
    assert roles == {  # names with spaces: as a served model's inputs are named (under wide_names)
        "task": "task",
        "label": "label",
        "age": "numerical",
        "children_count": "numerical",
        "detailed_industry_recode": "categorical",
        "marital_stat": "categorical",
        "city": "categorical",
    }
    assert by_name["age"].rule == "count name" and by_name["children_count"].rule == "count name"  # 15 and 6 values
    assert by_name["detailed_industry_recode"].rule == "code name"  # 51 values: codes by name, not numerical
    assert by_name["marital_stat"].rule == "repeats"
    assert by_name["city"].rule == "repeats" and "the 50 most frequent cover" in by_name["city"].why


def test_summary_ignore_and_strict(tmp_path, capsys):
    path = tmp_path / "long.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row_key", "task", "label", "color", "size", "note"])
        for i in range(200):
            writer.writerow([f"r{i}", "ctr", i % 2, ["red", "blue"][i % 2], i % 7, "x"])
    out = str(tmp_path / "spec")
    assert draft_spec.main(["--input", str(path), "--out", out]) == 0
    printed = capsys.readouterr().out
    # `size` has 7 values, but its name says an amount: numerical.
    assert (
        "1 task, 1 label, 1 categorical, 1 numerical; ignored: row_key (a different value in every row: a row key), "
        "note (one value ('x') in every row)" in printed
    )
    # --strict: a row key may carry information; a constant does not.
    assert draft_spec.main(["--input", str(path), "--out", out, "--strict"]) == 3
    assert "--strict: 1 column(s) that may carry information are ignored: row_key" in capsys.readouterr().err
    assert draft_spec.main(["--input", str(path), "--out", out, "--strict", "--ignore", "row_key,size"]) == 0
    assert (
        "1 task, 1 label, 1 categorical; ignored: row_key (named in --ignore), size (named in --ignore), "
        "note (one value" in capsys.readouterr().out
    )
    assert draft_spec.main(["--input", str(path), "--out", out, "--ignore", "nope"]) == 1
    assert "--ignore column(s) ['nope'] are not in the header" in capsys.readouterr().err


def test_empty_label_cells_of_a_wide_file_are_counted_as_outside_a_sample_space_not_bad(tmp_path):
    path = tmp_path / "funnel.csv"
    with open(path, "w", newline="") as f:  # bought is empty where nobody clicked: 1 row in 3
        csv.writer(f).writerows(
            [["color", "clicked", "bought"]]
            + [[f"c{i % 3}", i % 3 and 1, "" if i % 3 == 0 else i % 2] for i in range(30)]
        )
    spec, guesses = draft_spec.draft(str(path), ["clicked", "bought"])
    label = next(g for g in guesses if g.name == "label")
    assert label.why.endswith("empty cells (outside that task's sample space, no example): bought 10 of 30 rows")
    long = tmp_path / "long.csv"
    long.write_text("task,label,color\nclick,1,red\nclick,,blue\n")
    with pytest.raises(FeatureSpecError, match=r"label column 'label' has values like \[''\]"):
        draft_spec.draft(str(long))  # a long file's rows are its tasks' sample spaces: an empty label is bad


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


def test_names_a_served_model_cannot_take_are_drafted_renamed_and_converted_so(tmp_path, capsys):
    """Reviews' header has spaces (``Class Name``); TensorFlow refused them as input names after training.
    The drafter names them as TensorFlow would (``Class_Name``; ``_2`` when that is taken), records the
    file's names under ``wide_names``, and the converter writes the spec's names: no hand edit."""
    from components.serving_names import check_serving_names
    from data_tools import wide_to_tasks

    header = ["Class Name", "Class_Name", "_code", "Feedback Count", "ok"]
    with open(tmp_path / "wide.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(300):
            w.writerow([f"class {i % 4}", f"c{i % 3}", i % 5, i % 50, i % 2])
    out = tmp_path / "spec"
    args = ["--input", str(tmp_path / "wide.csv"), "--labels", "ok", "--out", str(out), "--strict"]
    assert draft_spec.main(args) == 0
    printed = capsys.readouterr().out
    assert "read from the file's column 'Class Name'" in printed and "REVIEW" not in printed
    spec = load_feature_spec(str(out / "feature_spec.yaml"))
    assert spec.wide_names == {"Class Name": "Class_Name_2", "_code": "code", "Feedback Count": "Feedback_Count"}
    assert [c.name for c in spec.feature_columns] == ["task", "Class_Name_2", "Class_Name", "code", "Feedback_Count"]
    check_serving_names(spec)  # the pipeline's check passes unedited
    with open(tmp_path / "wide.csv", "a", newline="") as f:
        csv.writer(f).writerow(["class 1", "c1", 2, "many", 1])  # a bad row: its reason names the file's column
    report = wide_to_tasks.convert(spec, str(tmp_path / "wide.csv"), str(tmp_path / "data" / "train.csv"))
    assert report.bad_rows == 1 and "column 'Feedback Count': 'many' is not a number" in report.bad_examples[0]
    assert "'Class Name' -> Class_Name_2" in report.summary()
    with open(tmp_path / "data" / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == spec.names and len(rows) == 300
    assert (rows[3]["Class_Name_2"], rows[3]["Class_Name"], rows[3]["code"]) == ("class 3", "c0", "3")


@pytest.mark.parametrize(
    "wide_names, message",
    [
        ({"Class Name": "nope"}, "'nope' must be a column under `columns`"),
        ({"Class Name": "label"}, "'label' must be a column under `columns`"),
        ({"a": "b"}, "'a' is also a column name here"),
        ({"x y": "b", "x-y": "b"}, "two file columns are given the same name"),
    ],
)
def test_wide_names_that_cannot_be_read_are_refused(wide_names, message):
    from components.feature_spec import parse_feature_spec

    raw = {
        "columns": {"task": "task", "label": "label", "a": "categorical", "b": "categorical"},
        "wide_labels": {"click": "ctr"},
        "wide_names": wide_names,
    }
    with pytest.raises(FeatureSpecError, match=message):
        parse_feature_spec(raw, "s.yaml")


def test_long_text_is_drafted_with_its_length_and_vocabulary(tmp_path):
    """A text column longer than the default length, or with more words, gets max_tokens and vocab_size from
    its sample (the 90th percentile length; words in 5+ rows), within the caps; short text keeps the defaults."""
    from data_tools.column_rules import MAX_DRAFT_TEXT_VOCAB, guess_column

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    reviews = [" ".join(rng.choice(words, size=40 if i % 10 else 200)) + "." for i in range(2000)]
    guess = guess_column("review_text", reviews)
    assert guess.entry["role"] == "text" and guess.entry["max_tokens"] == 40  # 90 % have 40 words
    counts = collections.Counter(w for r in reviews for w in set(r.rstrip(".").split()))
    assert guess.entry["vocab_size"] == min(MAX_DRAFT_TEXT_VOCAB, sum(n >= 5 for n in counts.values()) + 2)
    assert "max_tokens 40" in guess.why and "vocab_size" in guess.why
    titles = [f"{rng.choice(words)} {rng.choice(words)} {i}" for i in range(2000)]
    short = guess_column("title", titles)
    assert short.entry["role"] == "text" and "max_tokens" not in short.entry and "vocab_size" not in short.entry


def test_ids_growing_with_the_data_are_drafted_with_bounded_vocabularies():
    """A categorical column with more than MANY_IDS distinct values in the sample (users, items) gets
    `min_count` and `max_ids`, flagged for review; one with fewer keeps its full vocabulary."""
    from components.roles import VALUE_MIN_COUNT
    from data_tools.column_rules import DRAFT_MAX_IDS, MANY_IDS, guess_column

    rng = np.random.default_rng(0)
    # Half the rows from 50 frequent users, half from a long tail of a million.
    n = 4 * MANY_IDS
    ids = np.where(rng.random(n) < 0.5, rng.integers(0, 50, n), rng.integers(0, 10**6, n))
    many = [str(v) for v in ids]
    assert len(set(many)) > MANY_IDS
    guess = guess_column("user_id", many)
    assert guess.entry == {
        "role": "categorical",
        "dtype": "int",
        "oov_buckets": 10,
        "min_count": VALUE_MIN_COUNT,
        "max_ids": DRAFT_MAX_IDS,
    }
    assert guess.review and f"{len(set(many))} distinct in {len(many)} rows" in guess.why
    items = [f"sku{v}" for v in ids]
    assert guess_column("item", items).entry.get("max_ids") == DRAFT_MAX_IDS  # string ids (the words rule)
    few = [f"u{v}" for v in rng.integers(0, MANY_IDS // 2, size=4 * MANY_IDS)]
    assert "max_ids" not in guess_column("user", few).entry


def test_a_tasks_section_set_on_a_draft_is_written_and_reads_back(tmp_path):
    write_wide_csv(tmp_path / "wide.csv", rows=300, seed=2)
    drafted, guesses = draft_spec.draft(str(tmp_path / "wide.csv"), ["click", "conversion"])
    drafted["tasks"] = {"click": {}, "conversion": {"given": "click", "chain": "entire_space"}}
    draft_spec.write_draft(drafted, guesses, str(tmp_path / "spec"), "wide.csv")
    spec = load_feature_spec(str(tmp_path / "spec" / "feature_spec.yaml"))
    assert spec.tasks == drafted["tasks"] and spec.chain("conversion") == "entire_space"
