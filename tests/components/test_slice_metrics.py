"""The Evaluator's direct engine: the same slices, metric keys, values and validation as TFMA on the same rows and
models, regression rows and example weights by hand, and the engine chosen by where Beam runs."""

import numpy as np
import pytest
import tensorflow as tf

from components import slice_metrics
from components.evaluation import engine, eval_config
from components.feature_spec import parse_feature_spec
from serving.contract import OUTPUT_KEY, VALUE_KEY

COLUMNS = {
    "task": {"role": "task"},
    "flow": {"role": "aux_task"},
    "x": {"role": "numerical"},
    "label": {"role": "label"},
}


def _feature(value):
    if isinstance(value, str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _write(path, rows: list[dict]) -> str:
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for row in rows:
            example = tf.train.Example(features=tf.train.Features(feature={k: _feature(v) for k, v in row.items()}))
            writer.write(example.SerializeToString())
    return str(path)


def _model(path, slope: float, noise: float) -> str:
    """A SavedModel whose serving signature answers sigmoid(slope * x + noise * z) for each serialized example."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(examples):
        parsed = tf.io.parse_example(examples, {name: tf.io.FixedLenFeature([], tf.float32) for name in "xz"})
        return {OUTPUT_KEY: tf.sigmoid(slope * parsed["x"] + noise * parsed["z"])[:, None]}

    module.serve = serve
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve.get_concrete_function()})
    return str(path)


def _metrics(output_dir) -> dict:
    """{(slice, metric key): value} from an evaluation's metrics files, as TFMA reads them."""
    from tensorflow_model_analysis.writers.metrics_plots_and_validations_writer import load_and_deserialize_metrics

    values = {}
    for record in load_and_deserialize_metrics(str(output_dir)):
        where = tuple((key.column, key.bytes_value) for key in record.slice_key.single_slice_keys)
        for entry in record.metric_keys_and_values:
            values[(where, entry.key.SerializeToString(deterministic=True))] = entry.value.double_value.value
    return values


def _rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = float(rng.normal())
        task = ["click", "buy"][i % 2]
        rate = 1 / (1 + np.exp(-2 * x)) * (1.0 if task == "click" else 0.4)
        label = int(rng.random() < rate)
        rows.append(
            {"task": task, "flow": ["web", "app", "store"][i % 3], "x": x, "z": float(rng.normal()), "label": label}
        )
    return rows


def test_direct_metrics_and_validation_match_tfmas_on_the_same_rows_and_models(tmp_path):
    import tensorflow_model_analysis as tfma

    spec = parse_feature_spec({"columns": COLUMNS})
    data = _write(tmp_path / "eval.gz", _rows(1200, seed=0))
    # The candidate ranks by x blurred by the noise z: its AUC drop breaks the change threshold (0.01) in both engines.
    paths = {"candidate": _model(tmp_path / "new", 1.0, 1.0), "baseline": _model(tmp_path / "old", 2.0, 0.0)}
    config = tfma.utils.update_eval_config_with_defaults(eval_config(spec), has_baseline=True, rubber_stamp=True)
    models = [
        tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name, eval_config=config)
        for name, path in paths.items()
    ]
    tfma.run_model_analysis(
        eval_shared_model=models, eval_config=config, data_location=data, output_path=str(tmp_path / "tfma")
    )

    serve = [tf.saved_model.load(paths[name]).signatures["serving_default"] for name in ("candidate", "baseline")]
    columns, (new, old) = slice_metrics.read_eval_columns([data], serve, strings=("flow", "task"), labels="label")
    sliced = slice_metrics.compute(config, columns, {"candidate": new, "baseline": old}, "label", task_column="task")
    validation = slice_metrics.validate(config, sliced)
    slice_metrics.write(str(tmp_path / "direct"), config, sliced, validation, data, paths)

    theirs, ours = _metrics(tmp_path / "tfma"), _metrics(tmp_path / "direct")
    assert sorted(ours) == sorted(theirs)  # the same slices (1 + 2 + 3 + 6) and the same keys, diffs included
    assert len({where for where, _ in ours}) == 12
    from tensorflow_model_analysis.metrics import metric_types

    for (where, key), value in ours.items():
        name = metric_types.MetricKey.from_proto(_key_proto(key)).name
        # TFMA interpolates AUC over 10,000 thresholds, and its AUC-PR differs from the step-wise average precision
        # by a few thousandths at this many positives (more with a handful of positives): the rest are exact sums.
        tolerance = {"auc": 2e-3, "average_precision": 0.03, "auc_diff": 2e-3, "average_precision_diff": 0.03}
        assert value == pytest.approx(theirs[(where, key)], abs=tolerance.get(name, 1e-6)), (where, name)
    overall = [v for (where, k), v in ours.items() if where == () and _name(k) == "auc" and _model_name(k) == ""]
    assert not overall  # every key names its model with a baseline

    theirs_v = tfma.load_validation_result(str(tmp_path / "tfma"))
    ours_v = tfma.load_validation_result(str(tmp_path / "direct"))
    assert not theirs_v.validation_ok and not ours_v.validation_ok
    failed = {
        (f.metric_key.name, f.metric_key.is_diff) for s in ours_v.metric_validations_per_slice for f in s.failures
    }
    assert failed == {
        (f.metric_key.name, f.metric_key.is_diff) for s in theirs_v.metric_validations_per_slice for f in s.failures
    }
    assert ("auc", True) in failed  # the candidate's drop against the baseline
    # What the pipeline's report reads: the candidate's slices and metrics.
    result = tfma.load_eval_result(str(tmp_path / "direct"), model_name="candidate")
    assert len(result.slicing_metrics) == 12


def _key_proto(serialized: bytes):
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2

    return metrics_for_slice_pb2.MetricKey.FromString(serialized)


def _name(serialized: bytes) -> str:
    return _key_proto(serialized).name


def _model_name(serialized: bytes) -> str:
    return _key_proto(serialized).model_name


def test_an_integer_slicing_column_is_keyed_by_its_integers_and_rows_without_it_left_out(tmp_path):
    import tensorflow_model_analysis as tfma

    rows = [{"task": "click", "label": 1, "surface": 3}, {"task": "click", "label": 0, "surface": 3}]
    rows += [{"task": "cart", "label": 0, "surface": 7}, {"task": "cart", "label": 1}]  # the last: no surface
    columns, _ = slice_metrics.read_eval_columns(
        [_write(tmp_path / "eval.gz", rows)], [], strings=("surface", "task"), labels="label", batch=3
    )
    assert columns["surface"].tolist() == [3, 3, 7, b""] and columns["task"].tolist()[2] == b"cart"
    config = tfma.EvalConfig(slicing_specs=[tfma.SlicingSpec(feature_keys=["task", "surface"])])
    found = {key: mask.tolist() for key, mask in slice_metrics.slices(config, columns)}
    assert found == {
        (("surface", 3), ("task", b"click")): [True, True, False, False],
        (("surface", 7), ("task", b"cart")): [False, False, True, False],
    }
    # A spec with a fixed value: only the rows holding it, sliced by the other column.
    fixed = tfma.EvalConfig(slicing_specs=[tfma.SlicingSpec(feature_keys=["surface"], feature_values={"task": "cart"})])
    assert [mask.tolist() for _, mask in slice_metrics.slices(fixed, columns)] == [[False, False, True, False]]
    assert columns["task"].isin([b"cart"]).tolist() == [False, False, True, True]


def test_regression_rows_and_example_weights_by_hand(tmp_path):
    import tensorflow_model_analysis as tfma

    columns = {**COLUMNS, "label": {"role": "label", "dtype": "float"}, "w": {"role": "weight"}}
    spec = parse_feature_spec({"columns": columns, "tasks": {"click": {}, "spend": {"type": "regression"}}})
    config = tfma.utils.update_eval_config_with_defaults(eval_config(spec), has_baseline=False, rubber_stamp=True)
    rows = [
        {"task": "click", "flow": "web", "label": 1.0, "w": 2.0},
        {"task": "click", "flow": "web", "label": 0.0, "w": 1.0},
        {"task": "click", "flow": "app", "label": 1.0},  # no weight: 1
        {"task": "spend", "flow": "web", "label": 10.0, "w": 3.0},
        {"task": "spend", "flow": "app", "label": 4.0, "w": 1.0},
    ]
    data = _write(tmp_path / "eval.gz", rows)
    columns, _ = slice_metrics.read_eval_columns([data], [], strings=("flow", "task"), labels="label", weight="w")
    assert columns["w"].tolist() == [2.0, 1.0, 1.0, 3.0, 1.0] and columns["task"].tolist()[3] == b"spend"
    whole = _write(tmp_path / "whole.gz", [{**row, "w": int(row["w"])} for row in rows if "w" in row])
    read, _ = slice_metrics.read_eval_columns([whole], [], labels="label", weight="w")  # a CSV of whole weights
    assert read["w"].dtype == np.float32 and read["w"].tolist() == [2.0, 1.0, 3.0, 1.0]
    scores = np.array([0.8, 0.4, 0.6, 12.0, 3.0])
    sliced = dict(
        slice_metrics.compute(
            config, columns, {"": scores}, "label", weight="w", task_column="task", regression_tasks=("spend",)
        )
    )

    def value(where, name, output):
        (found,) = [v for k, v in sliced[where].items() if k.name == name and k.output_name == output]
        return found

    overall = ()
    assert value(overall, "example_count", OUTPUT_KEY) == 4.0  # the binary rows' weights: 2 + 1 + 1
    assert value(overall, "mean_label", OUTPUT_KEY) == pytest.approx(3 / 4)
    assert value(overall, "mean_prediction", OUTPUT_KEY) == pytest.approx((1.6 + 0.4 + 0.6) / 4)
    assert value(overall, "auc", OUTPUT_KEY) == 1.0
    assert value(overall, "example_count", VALUE_KEY) == 4.0  # the regression rows' weights: 3 + 1
    assert value(overall, "root_mean_squared_error", VALUE_KEY) == pytest.approx(np.sqrt((3 * 4 + 1) / 4))
    assert value(overall, "mean_absolute_error", VALUE_KEY) == pytest.approx((3 * 2 + 1) / 4)
    app = (("flow", b"app"),)
    assert value(app, "example_count", VALUE_KEY) == 1.0 and value(app, "mean_label", VALUE_KEY) == 4.0
    assert np.isnan(value((("task", b"spend"),), "auc", OUTPUT_KEY))  # no binary rows in the slice
    assert value((("task", b"spend"),), "example_count", OUTPUT_KEY) == 0.0


def test_a_slicing_column_with_several_values_in_a_row_is_refused_by_name(tmp_path):
    path = tmp_path / "eval.gz"
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        feature = {"flow": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"]))}
        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    with pytest.raises(ValueError, match="column 'flow' has rows with several values"):
        slice_metrics.read_eval_columns([str(path)], [], strings=("flow",))


def test_the_engine_is_direct_on_this_machine_and_tfma_beyond_it():
    from pipelines.beam import beam_pipeline_args

    assert engine("auto", beam_pipeline_args("direct")) == "direct"
    assert engine("auto", beam_pipeline_args("direct-multiprocess")) == "direct"
    for runner in ("dataflow", "flink", "spark"):
        assert engine("auto", beam_pipeline_args(runner)) == "tfma"
    assert engine("tfma", []) == "tfma" and engine("direct", beam_pipeline_args("dataflow")) == "direct"
    with pytest.raises(ValueError, match="Evaluator engine 'fast'"):
        engine("fast", [])
