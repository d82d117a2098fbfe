import csv
import os

import pytest

from components.feature_spec import FeatureSpecError, load_feature_spec
from data_tools import aliexpress, wide_to_tasks

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "aliexpress")
SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "aliexpress", "feature_spec.yaml")


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_round_trip_task_examples_back_to_the_wide_rows(tmp_path):
    reports = aliexpress.convert_tree(FIXTURE, str(tmp_path))
    assert [r.bad_rows for _, r in reports] == [0, 0, 0]
    wide = _read(os.path.join(FIXTURE, "AliExpress_NL", "train.csv"))
    long = _read(tmp_path / "train" / "NL.csv")
    assert len(long) == 2 * len(wide)
    # Pivot back: (search_id, task) -> label, context columns identical per search_id.
    by_id = {}
    for row in long:
        assert row["country"] == "NL"
        entry = by_id.setdefault(row["search_id"], {"context": None, "labels": {}})
        context = {k: v for k, v in row.items() if k not in ("task", "label")}
        assert entry["context"] in (None, context)
        entry["context"] = context
        entry["labels"][row["task"]] = row["label"]
    assert len(by_id) == len(wide)
    for row in wide:
        entry = by_id[row["search_id"]]
        assert entry["labels"] == {"ctr": row["click"], "ctcvr": row["conversion"]}
        for key, value in entry["context"].items():
            if key != "country":
                assert row[key] == value, key
    assert len(_read(tmp_path / "eval" / "NL.csv")) == 24
    assert {r["country"] for r in _read(tmp_path / "train" / "ES.csv")} == {"ES"}


@pytest.mark.parametrize("chain", [False, True])
def test_conversion_given_click_on_the_aliexpress_layout_plain_and_chained(tmp_path, chain):
    text = open(SPEC).read().replace("conversion: ctcvr", "conversion: cvr")
    entry = "{given: ctr, chain: entire_space}" if chain else "{given: ctr}"
    (tmp_path / "spec.yaml").write_text(text + f"tasks:\n  ctr: {{}}\n  cvr: {entry}\n")
    wide = os.path.join(FIXTURE, "AliExpress_NL", "train.csv")
    out = tmp_path / "out.csv"
    report = wide_to_tasks.convert(load_feature_spec(str(tmp_path / "spec.yaml")), wide, str(out), {"country": "NL"})
    rows = _read(wide)
    long = _read(out)
    clicked = {r["search_id"] for r in rows if r["click"] == "1"}
    cvr = {r["search_id"]: r["label"] for r in long if r["task"] == "cvr"}
    assert [r["label"] for r in long if r["task"] == "ctr"] == [r["click"] for r in rows]
    if chain:  # every impression, labelled click and convert
        assert len(cvr) == len(rows) and report.outside == {}
        assert cvr == {r["search_id"]: str(int(r["click"] == "1" and r["conversion"] == "1")) for r in rows}
    else:  # the clicked impressions only, labelled convert
        assert set(cvr) == clicked and 0 < len(clicked) < len(rows)
        assert cvr == {r["search_id"]: r["conversion"] for r in rows if r["search_id"] in clicked}
        assert report.outside == {"cvr": {"ctr not 1": len(rows) - len(clicked)}}


def test_bad_rows_are_counted_reported_with_line_numbers_and_kept(tmp_path):
    ((path, report),) = aliexpress.convert_tree(os.path.join(FIXTURE, "bad"), str(tmp_path))
    assert (report.input_rows, report.bad_rows, report.output_rows) == (6, 3, 6)
    assert report.bad_examples[0].endswith("train.csv:3: expected 82 columns, found 79")
    assert report.bad_examples[1].endswith("train.csv:4: column 'numerical_4': 'abc' is not a number")
    assert report.bad_examples[2].endswith("train.csv:5: label column 'conversion': '3' is not one of ['0', '1', '2']")
    rejected = list(csv.reader(open(report.rejected_path)))
    assert [r[0] for r in rejected[1:]] == ["3", "4", "5"]
    assert "rejected 3 rows" in report.summary()
    # The rejected rows stay out of the split folder an ExampleGen reads.
    assert sorted(os.listdir(tmp_path / "train")) == ["NL.csv"]


def test_strict_makes_the_first_bad_row_fatal(tmp_path):
    with pytest.raises(wide_to_tasks.BadRowError, match="train.csv:3: expected 82 columns"):
        aliexpress.convert_tree(os.path.join(FIXTURE, "bad"), str(tmp_path), strict=True)


def test_any_wide_csv_with_a_spec_converts(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "columns:\n  user: categorical\n  price: numerical\n  task: task\n  label: label\n"
        "wide_labels: {clicked: click, bought: buy, returned: ret}\n"
    )
    wide = tmp_path / "wide.csv"
    wide.write_text("user,price,clicked,bought,returned\nu1,3.5,1,0,0\nu2,,0,0,1\n")
    report = wide_to_tasks.convert(load_feature_spec(str(spec_path)), str(wide), str(tmp_path / "out.csv"))
    assert (report.output_rows, report.bad_rows) == (6, 0)
    rows = _read(tmp_path / "out.csv")
    assert [(r["user"], r["task"], r["label"], r["price"]) for r in rows] == [
        ("u1", "click", "1", "3.5"),
        ("u1", "buy", "0", "3.5"),
        ("u1", "ret", "0", "3.5"),
        ("u2", "click", "0", ""),
        ("u2", "buy", "0", ""),
        ("u2", "ret", "1", ""),
    ]


def test_empty_label_cells_and_given_tasks_leave_rows_out_of_a_tasks_sample_space_and_say_so(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "columns:\n  user: categorical\n  task: task\n  label: label\n"
        "wide_labels: {clicked: click, bought: buy, rated: like}\n"
        "tasks: {click: {}, buy: {given: click}, like: {given: buy}}\n"
    )
    wide = tmp_path / "wide.csv"
    # u1 clicked and bought; u2 clicked, no purchase; u3 no click (its rating cell empty);
    # u4's purchase cell is empty; u5: a bad label.
    wide.write_text("user,clicked,bought,rated\nu1,1,1,0\nu2,1,0,1\nu3,0,0,\nu4,1,,1\nu5,1,x,1\n")
    report = wide_to_tasks.convert(load_feature_spec(str(spec_path)), str(wide), str(tmp_path / "out.csv"))
    rows = [(r["user"], r["task"], r["label"]) for r in _read(tmp_path / "out.csv")]
    assert rows == [
        ("u1", "click", "1"),
        ("u1", "buy", "1"),
        ("u1", "like", "0"),
        ("u2", "click", "1"),
        ("u2", "buy", "0"),
        ("u3", "click", "0"),
        ("u4", "click", "1"),
    ]
    assert (report.input_rows, report.output_rows, report.bad_rows) == (5, 7, 1)
    assert report.outside == {
        "buy": {"click not 1": 1, "empty label cell": 1},
        "like": {"buy not 1": 2, "empty label cell": 1},
    }
    assert (
        "examples not written, outside a task's sample space: buy 2 (click not 1: 1, empty label cell: 1); "
        "like 3 (buy not 1: 2, empty label cell: 1)" in report.summary()
    )
    assert "label column 'bought': 'x' is not one of ['0', '1']" in report.bad_examples[0]


def test_a_chained_task_gets_every_row_of_its_given_tasks_space_labelled_click_and_convert(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "columns:\n  user: categorical\n  task: task\n  label: label\n"
        "wide_labels: {clicked: click, bought: buy}\n"
        "tasks: {click: {}, buy: {given: click, chain: entire_space}}\n"
    )
    wide = tmp_path / "wide.csv"
    # u1 clicked and bought; u2 clicked only; u3 no click, its purchase cell empty; u4 no click and a stray
    # purchase (not a conversion without a click); u5 clicked, its purchase unknown; u6 outside click's space.
    wide.write_text("user,clicked,bought\nu1,1,1\nu2,1,0\nu3,0,\nu4,0,1\nu5,1,\nu6,,0\n")
    report = wide_to_tasks.convert(load_feature_spec(str(spec_path)), str(wide), str(tmp_path / "out.csv"))
    rows = [(r["user"], r["task"], r["label"]) for r in _read(tmp_path / "out.csv")]
    assert rows == [
        ("u1", "click", "1"),
        ("u1", "buy", "1"),
        ("u2", "click", "1"),
        ("u2", "buy", "0"),
        ("u3", "click", "0"),
        ("u3", "buy", "0"),
        ("u4", "click", "0"),
        ("u4", "buy", "0"),
        ("u5", "click", "1"),
    ]
    assert report.outside == {
        "click": {"empty label cell": 1},
        "buy": {"click outside its sample space": 1, "empty label cell": 1},
    }


def test_missing_input_column_is_named(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("search_id,click,conversion\n1,0,0\n")
    with pytest.raises(FeatureSpecError, match=r"wide.csv: column\(s\) \['categorical_1'"):
        wide_to_tasks.convert(load_feature_spec(SPEC), str(wide), str(tmp_path / "o.csv"), {"country": "NL"})


def test_cli_reports_and_exit_codes(tmp_path, capsys):
    assert aliexpress.main(["--input", os.path.join(FIXTURE, "bad"), "--out", str(tmp_path)]) == 0
    assert "rejected 3 rows" in capsys.readouterr().out
    assert aliexpress.main(["--input", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 1
    assert "no AliExpress_<CC>/train.csv" in capsys.readouterr().err


def test_a_drafted_wide_file_converts_without_writing_into_the_data_folder(tmp_path):
    from data_tools import draft_spec
    from tests.data_tools.wide_csv import write_wide_csv

    write_wide_csv(tmp_path / "wide.csv", rows=400)
    spec, guesses = draft_spec.draft(str(tmp_path / "wide.csv"), ["click", "conversion"])
    parsed = draft_spec.write_draft(spec, guesses, str(tmp_path / "spec"), "wide.csv")
    out = tmp_path / "data" / "train" / "data.csv"
    report = wide_to_tasks.convert(parsed, str(tmp_path / "wide.csv"), str(out))
    assert (report.bad_rows, report.output_rows) == (0, 800)
    assert os.listdir(tmp_path / "data") == ["train"] and os.listdir(tmp_path / "data" / "train") == ["data.csv"]
    rows = _read(out)
    assert {r["task"] for r in rows} == {"click", "conversion"}
    assert "?" not in {r["balance"] for r in rows} and "" in {r["balance"] for r in rows}  # markers -> empty
    assert "?" in {r["workclass"] for r in rows}  # a word category keeps its `?`

    # A decimal in an integer column and a label of 2: rejected beside the split folder, not in it.
    write_wide_csv(
        tmp_path / "bad.csv",
        rows=50,
        bad_rows={10: [40, "Gov", 3, "37.5", 0, "1.0", 1, 0], 20: [40, "Gov", 3, 37, 0, "1.0", 2, 0]},
    )
    report = wide_to_tasks.convert(parsed, str(tmp_path / "bad.csv"), str(out))
    assert report.bad_rows == 2 and report.output_rows == 96
    assert report.bad_examples[0].endswith(
        "bad.csv:12: column 'hours': '37.5' is not a whole number (the spec says dtype int)"
    )
    assert report.rejected_path == str(tmp_path / "data" / "train.rejected" / "data.csv")
    assert [r[0] for r in list(csv.reader(open(report.rejected_path)))[1:]] == ["12", "22"]
    assert os.listdir(tmp_path / "data" / "train") == ["data.csv"]


def test_line_breaks_in_text_cells_become_spaces_and_are_counted(tmp_path):
    """A review written in paragraphs: the pipeline reads one line per row, so the converter writes the
    line breaks of text cells as spaces (the tokenizer splits on any whitespace: the same tokens)."""
    from components.feature_spec import parse_feature_spec

    spec = parse_feature_spec(
        {
            "columns": {
                "task": {"role": "task"},
                "label": {"role": "label"},
                "review": {"role": "text"},
                "color": {"role": "categorical"},
            },
            "wide_labels": {"y": "y"},
        }
    )
    with open(tmp_path / "wide.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [["review", "color", "y"], ["Loved it.\nRuns small.\r\nBuy one.", "red", "1"], ["Fine", "blue", "0"]]
        )
    report = wide_to_tasks.convert(spec, str(tmp_path / "wide.csv"), str(tmp_path / "out.csv"))
    assert (report.input_rows, report.output_rows, report.bad_rows, report.line_breaks) == (2, 2, 0, 1)
    assert "1 text cells held line breaks, written as spaces" in report.summary()
    text = (tmp_path / "out.csv").read_text()
    assert text.count("\n") == 3  # a header and two rows: one line each
    rows = _read(tmp_path / "out.csv")
    assert rows[0]["review"] == "Loved it. Runs small. Buy one." and rows[0]["review"].split() == [
        "Loved",
        "it.",
        "Runs",
        "small.",
        "Buy",
        "one.",
    ]
