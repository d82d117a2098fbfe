import dataclasses
import os

import pytest

from components.feature_spec import FeatureSpecError, check_against_schema, load_feature_spec, parse_feature_spec

SCHEMAS = os.path.join(os.path.dirname(__file__), "..", "..", "schemas")
MINIMAL = "columns:\n  task: {role: task}\n  label: {role: label}\n"


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("dataset", ["synthetic", "aliexpress", "synthetic_tasks"])
def test_shipped_specs_agree_with_their_curated_schemas(dataset):
    spec = load_feature_spec(os.path.join(SCHEMAS, dataset, "feature_spec.yaml"))
    check_against_schema(spec, os.path.join(SCHEMAS, dataset, "schema.pbtxt"))


def test_roles_of_the_synthetic_spec():
    spec = load_feature_spec(os.path.join(SCHEMAS, "synthetic", "feature_spec.yaml"))
    assert [c.name for c in spec.task_columns] == ["task", "flow", "surface"]
    assert spec.label_column.name == "label" and spec.time_column.name == "ts"
    assert spec.column("image_emb").option("dim") == 16
    assert spec.column("hist_items").option("max_length") == 20
    features = {c.name for c in spec.feature_columns}
    assert not features & {"label", "ts", "oracle_p", "impression_id"}
    assert {"user_id", "price", "query", "hist_items", "image_emb", "task", "flow"} <= features


def test_aliexpress_spec_has_16_categorical_63_numerical_and_two_wide_labels():
    spec = load_feature_spec(os.path.join(SCHEMAS, "aliexpress", "feature_spec.yaml"))
    assert len(spec.by_role("categorical")) == 16 and len(spec.by_role("numerical")) == 63
    assert dict(spec.wide_labels) == {"click": "ctr", "conversion": "ctcvr"}


def test_json_spec_reads_like_yaml(tmp_path):
    path = _write(tmp_path, '{"columns": {"task": {"role": "task"}, "label": "label"}}', "spec.json")
    assert load_feature_spec(path).names == ["task", "label"]


@pytest.mark.parametrize(
    "text, fragments",
    [
        (MINIMAL + "  x: {role: color}\n", ["columns.x.role", "unknown role 'color'", "'x'"]),
        (MINIMAL + "  x: {role: numerical, dtype: string}\n", ["columns.x.dtype", "'x'", "['float', 'int']"]),
        (MINIMAL + "  x: {role: numerical}\n  x: {role: categorical}\n", ["`x`", "duplicate key", "line 5"]),
        (MINIMAL + "  x: {role: history, max_length: 0}\n", ["columns.x.max_length", "positive integer"]),
        (
            MINIMAL + "  x: {role: numerical, max_length: 3}\n",
            ["columns.x.max_length", "not valid for role 'numerical'"],
        ),
        (MINIMAL + "  x: {role: image_embedding}\n", ["columns.x.dim", "needs its vector length"]),
        (
            MINIMAL + "  x: {role: numerical, transform: sqrt}\n",
            ["columns.x.transform", "must be one of ['zscore', 'log1p', 'bucketize']", "'sqrt'"],
        ),
        (
            MINIMAL + "  x: {role: numerical, transform: bucketize, buckets: 8}\n",
            ["columns.x.buckets", "`transform: bucketize` feeds only buckets"],
        ),
        (
            MINIMAL + "  x: {role: numerical, num_buckets: 8}\n",
            ["columns.x.num_buckets", "only with `transform: bucketize`"],
        ),
        (
            MINIMAL + "  x: {role: numerical, transform: bucketize, num_buckets: 1}\n",
            ["columns.x.num_buckets", "at least 2 buckets"],
        ),
        (MINIMAL + "  x: {role: numerical, value_ids: 1}\n", ["columns.x.value_ids", "at least 2 values"]),
        (MINIMAL + "  x: {role: categorical, value_ids: 8}\n", ["columns.x.value_ids", "not valid for role"]),
        (
            MINIMAL + "  x: {role: categorical, hash_buckets: 64, max_ids: 10}\n",
            ["columns.x.max_ids", "has `hash_buckets`: no vocabulary, so no `max_ids`"],
        ),
        (
            MINIMAL + "  x: {role: categorical, hash_buckets: 64, oov_buckets: 10}\n",
            ["columns.x.oov_buckets", "no `oov_buckets`"],
        ),
        (MINIMAL + "  x: {role: categorical, hash_buckets: 1}\n", ["columns.x.hash_buckets", "at least 2 buckets"]),
        (MINIMAL + "  x: {role: categorical, min_count: 0}\n", ["columns.x.min_count", "positive integer"]),
        (MINIMAL + "  x: {role: aux_task, max_ids: 8}\n", ["columns.x.max_ids", "not valid for role 'aux_task'"]),
        (MINIMAL + "  x: {dtype: int}\n", ["columns.x", "needs a `role`"]),
        (MINIMAL + "  l2: {role: label}\n", ["`columns`", "role 'label' may be used once", "['label', 'l2']"]),
        (
            MINIMAL + "  a: {role: image_embedding, dim: 2}\n  b: {role: image_embedding, dim: 2}\n",
            ["`columns`", "role 'image_embedding' may be used once", "['a', 'b']"],
        ),
        ("columns:\n  label: {role: label}\n", ["`columns`", "no column has role 'task'"]),
        ("colums:\n  task: task\n", ["`colums`", "unknown top-level key"]),
        (MINIMAL + "wide_labels: {label: ctr}\n", ["wide_labels.label", "must not also be listed"]),
        ("columns: [a, b]\n", ["`columns`", "non-empty mapping"]),
        (MINIMAL + "tasks: [ctr]\n", ["`tasks`", "must map each main task's name"]),
        (MINIMAL + "tasks: {ctr: {weight: 0}}\n", ["`tasks.ctr.weight`", "positive number for task 'ctr'"]),
        (MINIMAL + "tasks: {ctr: {weight: yes}}\n", ["`tasks.ctr.weight`", "got True"]),
        (
            MINIMAL + "tasks: {ctr: {wieght: 2}}\n",
            ["`tasks.ctr.wieght`", "allowed: type, loss, scale, weight, given, chain"],
        ),
        (MINIMAL + "tasks: {ctr: {}, cvr: {chain: entire_space}}\n", ["`tasks.cvr.chain`", "needs `given:`"]),
        (
            MINIMAL + "tasks: {ctr: {}, cvr: {given: ctr, chain: esmm}}\n",
            ["`tasks.cvr.chain`", "one of ['entire_space']", "'esmm'"],
        ),
        (
            MINIMAL + "tasks: {a: {}, b: {given: a, chain: entire_space}, c: {given: b, chain: entire_space}}\n",
            ["`tasks.c.chain`", "'b' is chained itself"],
        ),
        (MINIMAL + "tasks: {ctr: {type: count}}\n", ["`tasks.ctr.type`", "one of ['binary', 'regression']", "'count'"]),
        (MINIMAL + "tasks: {ctr: {loss: mse}}\n", ["`tasks.ctr.loss`", "a binary task's loss is one of"]),
        (MINIMAL + "tasks: {ctr: {scale: zscore}}\n", ["`tasks.ctr.scale`", "regression tasks only"]),
        (
            MINIMAL + "tasks: {ctr: {type: regression, loss: l1}}\n",
            ["`tasks.ctr.loss`", "['mse', 'huber', 'log_mse']", "'l1'"],
        ),
        (
            MINIMAL + "tasks: {ctr: {type: regression}}\n",
            ["`columns.label.dtype`", "regression task(s) ['ctr']", "`dtype: float`"],
        ),
        (MINIMAL + "tasks: {ctr: {given: ctr}}\n", ["`tasks.ctr.given`", "another task of the section ([])", "'ctr'"]),
        (MINIMAL + "tasks: {ctr: {}, cvr: {given: [ctr]}}\n", ["`tasks.cvr.given`", "(['ctr'])", "got ['ctr']"]),
        (
            MINIMAL + "tasks: {a: {given: b}, b: {given: c}, c: {given: a}}\n",
            ["`tasks.a.given`", "the conditions form a cycle: a -> b -> c -> a"],
        ),
        (MINIMAL + "tasks: {ctr: 2}\n", ["`tasks.ctr`", "must be a mapping of options"]),
        (MINIMAL + "loss_weighting: gradnorm\n", ["`loss_weighting`", "['static', 'uncertainty']", "'gradnorm'"]),
        (
            MINIMAL + "wide_labels: {click: ctr, buy: cvr}\ntasks: {ctr: {}}\n",
            ["`tasks`", "`wide_labels` holds task(s) ['cvr'] that the section does not name"],
        ),
        ("columns: {task: task\n", ["not valid YAML"]),
    ],
)
def test_every_spec_error_names_file_key_and_column(tmp_path, text, fragments):
    path = _write(tmp_path, text)
    with pytest.raises(FeatureSpecError) as err:
        load_feature_spec(path)
    message = str(err.value)
    assert message.startswith(path)
    for fragment in fragments:
        assert fragment in message


def test_the_tasks_section_weighs_each_task_and_reads_back(tmp_path):
    spec = load_feature_spec(
        _write(tmp_path, MINIMAL + "tasks:\n  ctr: {weight: 0.5}\n  cvr:\nloss_weighting: uncertainty\n")
    )
    assert (spec.task_weight("ctr"), spec.task_weight("cvr"), spec.loss_weighting) == (0.5, 1.0, "uncertainty")
    assert parse_feature_spec(spec.to_dict()) == dataclasses.replace(spec, path="<dict>")
    spec.check_tasks(["ctr", "cvr"], "the data")  # every task named: no error
    with pytest.raises(FeatureSpecError, match=r"the data holds task\(s\) \['atc'\] that the section does not name"):
        spec.check_tasks(["ctr", "cvr", "atc"], "the data")
    with pytest.raises(FeatureSpecError, match=r"task\(s\) \['cvr'\] are named but the data holds none"):
        spec.check_tasks(["ctr"], "the data")
    plain = load_feature_spec(_write(tmp_path, MINIMAL, "plain.yaml"))
    assert (plain.tasks, plain.task_weight("any"), plain.loss_weighting) == ({}, 1.0, "static")
    plain.check_tasks(["whatever"], "the data")  # without the section, every task of the data, weight 1
    assert "tasks" not in plain.to_dict() and "loss_weighting" not in plain.to_dict()
    funnel = load_feature_spec(_write(tmp_path, MINIMAL + "tasks: {ctr: {}, cvr: {given: ctr}}\n", "funnel.yaml"))
    assert (funnel.given("cvr"), funnel.given("ctr"), plain.given("cvr")) == ("ctr", None, None)
    assert parse_feature_spec(funnel.to_dict()).tasks == {"ctr": {}, "cvr": {"given": "ctr"}}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FeatureSpecError, match="nope.yaml: feature spec file not found"):
        load_feature_spec(str(tmp_path / "nope.yaml"))


def test_duplicate_key_in_json_is_named(tmp_path):
    path = _write(tmp_path, '{"columns": {"task": "task", "task": "label"}}', "spec.json")
    with pytest.raises(FeatureSpecError, match="`task`: duplicate key"):
        load_feature_spec(path)


def test_column_missing_from_data_is_named():
    spec = parse_feature_spec({"columns": {"task": "task", "label": "label", "price": "numerical"}}, "s.yaml")
    with pytest.raises(FeatureSpecError, match=r"\['price'\].*missing from the data in data.csv"):
        spec.check_columns_present(["task", "label"], "data.csv")


def test_schema_disagreement_names_the_column(tmp_path):
    spec_path = os.path.join(SCHEMAS, "synthetic", "feature_spec.yaml")
    schema_text = open(os.path.join(SCHEMAS, "synthetic", "schema.pbtxt")).read()
    # price declared FLOAT in the schema -> make it INT; drop the `surface` feature.
    broken = schema_text.replace('name: "price"\n  type: FLOAT', 'name: "price"\n  type: INT')
    start = broken.index('feature {\n  name: "surface"')
    end = broken.index("feature {", start + 1)
    broken = broken[:start] + broken[end:]
    schema_path = _write(tmp_path, broken, "schema.pbtxt")
    with pytest.raises(FeatureSpecError) as err:
        check_against_schema(load_feature_spec(spec_path), schema_path)
    message = str(err.value)
    assert "column 'price': feature spec dtype 'float' needs schema type FLOAT, schema has INT" in message
    assert "column 'surface' is in the feature spec but not in the schema" in message


@pytest.mark.parametrize("dataset", ["synthetic", "aliexpress", "synthetic_tasks"])
def test_to_dict_reads_back_as_the_same_spec(dataset):
    spec = load_feature_spec(os.path.join(SCHEMAS, dataset, "feature_spec.yaml"))
    again = parse_feature_spec(spec.to_dict(), spec.path)
    assert again == spec and again.to_dict() == spec.to_dict()


def test_column_names_a_served_model_cannot_take_are_refused_before_anything_runs(tmp_path, capsys):
    """TensorFlow refuses a SavedModel input named "Class Name" (the export failed after training on the
    Women's Clothing Reviews file); the pipeline now stops first, naming the column and a name that works."""
    from components.feature_spec import parse_feature_spec
    from components.serving_names import check_serving_names
    from pipelines import local_runner

    def spec(*names):
        columns = {"task": {"role": "task"}, "label": {"role": "label"}}
        columns.update({name: {"role": "categorical"} for name in names})
        return parse_feature_spec({"columns": columns}, "s.yaml")

    check_serving_names(spec("educational-num", "hours-per-week", "user_id", "a/b", "x.y"))  # TF writes them with _
    with pytest.raises(
        FeatureSpecError,
        match=r"\['Class Name', '_x'\] cannot be named so in a served model.*"
        r"e\.g\. \{'Class Name': 'Class_Name', '_x': 'x'\}",
    ):
        check_serving_names(spec("Class Name", "_x", "ok"))
    with pytest.raises(FeatureSpecError, match=r"columns \[\['a-b', 'a_b'\]\] would be one input"):
        check_serving_names(spec("a-b", "a_b"))
    path = tmp_path / "feature_spec.yaml"
    path.write_text("columns:\n  task: {role: task}\n  label: {role: label}\n  Class Name: {role: categorical}\n")
    code = local_runner.main(["--spec", str(path), "--data-root", str(tmp_path / "none")])
    assert code == 2 and "column(s) ['Class Name'] cannot be named so" in capsys.readouterr().err
