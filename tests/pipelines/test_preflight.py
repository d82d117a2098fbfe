"""The pre-flight check: every data mistake of a first run is named before any component runs."""

import json
import os

import pytest

from components.schema_draft import draft_schema
from pipelines import local_runner
from pipelines.preflight import DataRootError, check_data_root, layout

SPEC = """name: mine
columns:
  task: {role: task}
  label: {role: label}
  age: {role: numerical, dtype: int}
  balance: {role: numerical}
  code: {role: categorical, dtype: int}
  city: {role: categorical}
"""
GOOD = "task,label,age,balance,code,city\nctr,1,73,10.5,3,Oslo\ncvr,0,31,,4,Rome\n"


def _spec(tmp_path, text=SPEC):
    from google.protobuf import text_format

    from components.feature_spec import load_feature_spec

    folder = tmp_path / "spec"
    folder.mkdir(exist_ok=True)
    (folder / "feature_spec.yaml").write_text(text)
    spec = load_feature_spec(str(folder / "feature_spec.yaml"))
    (folder / "schema.pbtxt").write_text(text_format.MessageToString(draft_schema(spec)))
    return spec


def _data(tmp_path, train=GOOD, evaluation=GOOD):
    for split, text in (("train", train), ("eval", evaluation)):
        if text is not None:
            (tmp_path / "data" / split).mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / split / "data.csv").write_text(text)
    return str(tmp_path / "data")


def test_good_data_passes_and_the_layout_is_known(tmp_path):
    spec = _spec(tmp_path)
    assert check_data_root(_data(tmp_path), spec).pattern is None  # train/ and eval/ as they are
    assert layout(_data(tmp_path / "one", evaluation=None)).pattern == "train/*"  # one input, split by ExampleGen


@pytest.mark.parametrize(
    "train, expected",
    [
        (
            GOOD.replace("73", "73.5"),
            "data.csv:2: column 'age': values like '73.5' are decimals; declare `dtype: float`",
        ),
        (GOOD.replace("10.5", "?"), "data.csv:2: column 'balance': '?' marks a missing value; write an empty cell"),
        (GOOD.replace("10.5", "abc"), "data.csv:2: column 'balance': 'abc' is not a number; declare `dtype: string`"),
        (GOOD.replace(",3,", ",x3,"), "data.csv:2: column 'code': 'x3' is not a whole number; declare `dtype: string`"),
        (GOOD.replace("ctr,1", "ctr,2"), "data.csv:2: column 'label': '2' is not a label; labels are 0 or 1"),
        (GOOD.replace("cvr,0", ",0"), "data.csv:3: column 'task': is empty, and a 'task' column needs a value"),
        (GOOD.replace(",Oslo", ""), "data.csv:2: expected 6 fields, found 5"),
        (GOOD.replace(",city", ""), "column(s) ['city'] of the feature spec"),
        (
            GOOD.replace(",city", ",city,extra").replace("Oslo", "Oslo,1").replace("Rome", "Rome,2"),
            "column(s) ['extra'] are not in the feature spec",
        ),
    ],
)
def test_a_value_that_does_not_fit_is_named_with_file_line_column_and_fix(tmp_path, train, expected):
    spec = _spec(tmp_path)
    with pytest.raises(DataRootError) as info:
        check_data_root(_data(tmp_path, train=train), spec, max_bad_rows=0)  # strict: one bad row stops the run
    assert expected in str(info.value)
    assert os.path.join("train", "data.csv") in str(info.value)
    if "feature spec" not in expected:  # a bad row, not a bad header: by default ExampleGen quarantines it
        found = check_data_root(_data(tmp_path, train=train), spec)
        assert len(found.bad_rows) == 1 and expected in found.bad_rows[0]


def test_a_task_the_tasks_section_does_not_name_stops_the_run_naming_file_line_and_task(tmp_path):
    spec = _spec(tmp_path, SPEC + "tasks: {ctr: {weight: 2}, cvr: {}}\n")
    assert check_data_root(_data(tmp_path), spec).bad_rows == ()
    with pytest.raises(DataRootError) as info:
        check_data_root(_data(tmp_path, train=GOOD.replace("cvr,0", "atc,0")), spec)
    message = str(info.value)
    assert os.path.join("train", "data.csv") + ":3: task 'atc' is not named under `tasks:`" in message
    assert "(it names ['ctr', 'cvr'])" in message


def test_a_stray_file_in_a_split_folder_is_named(tmp_path):
    spec = _spec(tmp_path)
    data_root = _data(tmp_path)
    stray = os.path.join(data_root, "train", "data.csv.rejected.csv")
    with open(stray, "w") as f:
        f.write("line,reason,task,label\n")
    with pytest.raises(DataRootError, match="data.csv.rejected.csv: header differs from the split's other files"):
        check_data_root(data_root, spec)
    os.remove(stray)
    os.makedirs(os.path.join(data_root, "train", "old"))
    with pytest.raises(DataRootError, match=r"holds folder\(s\) \['old'\]"):
        check_data_root(data_root, spec)


def test_the_runner_stops_before_any_component_with_the_message(tmp_path, monkeypatch, capsys):
    _spec(tmp_path)
    monkeypatch.setenv("GREC_HOME", str(tmp_path / "home"))
    data_root = _data(tmp_path, train=GOOD.replace("73", "73.5"))
    spec = str(tmp_path / "spec" / "feature_spec.yaml")
    assert local_runner.main(["--spec", spec, "--data-root", data_root, "--max-bad-rows", "0"]) == 2
    assert "column 'age': values like '73.5' are decimals" in capsys.readouterr().err
    # A model's key it does not take, named with the keys it does, before anything runs either.
    _data(tmp_path)
    bad = json.dumps({"num_heads": 4})
    assert (
        local_runner.main(["--spec", spec, "--data-root", data_root, "--model", "mmoe", "--hyperparameters", bad]) == 2
    )
    err = capsys.readouterr().err
    assert "model 'mmoe' does not take ['num_heads']" in err and "'num_experts'" in err
    assert local_runner.main(["--spec", spec, "--data-root", data_root, "--eval-steps", "0"]) == 2
    assert "--eval-steps 0: at least 1 batch" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()  # nothing ran, nothing written


def test_the_schema_must_stand_beside_the_spec_and_agree_with_it(tmp_path, monkeypatch, capsys):
    _spec(tmp_path)
    monkeypatch.setenv("GREC_HOME", str(tmp_path / "home"))
    schema = tmp_path / "spec" / "schema.pbtxt"
    schema.write_text(schema.read_text().replace("INT", "FLOAT", 1))
    spec = str(tmp_path / "spec" / "feature_spec.yaml")
    assert local_runner.main(["--spec", spec, "--data-root", _data(tmp_path)]) == 2
    assert "disagree" in capsys.readouterr().err
    schema.unlink()
    assert local_runner.main(["--spec", spec, "--data-root", _data(tmp_path)]) == 2
    assert "schema.pbtxt: missing; the schema goes beside the feature spec" in capsys.readouterr().err
