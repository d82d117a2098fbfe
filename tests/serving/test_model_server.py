"""The serving tests: same client, same assertions against tensorflow_model_server when it is on the PATH
(or named by GREC_MODEL_SERVER), against serving.model_server otherwise."""

import os
import shutil
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from serving import client as client_lib
from serving.client import GRecClient, serialize_rows
from serving.launcher import ServerProcess, official_binary
from serving.sample_model import SAMPLE_ROW

ROW = SAMPLE_ROW
TASKS = ("ctr", "atc", "cvr", "churn")


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    base = tmp_path_factory.mktemp("served") / "grec"
    shutil.copytree(os.path.join(exported.base_path, "1"), base / "1")
    with ServerProcess(str(base), extra_args=["--max_batch_size=64"]) as process:
        yield process, str(base)


@pytest.fixture(scope="module")
def client(server):
    c = GRecClient(server[0].target)
    yield c
    c.close()


def _rows():
    rows = [dict(ROW, task=t) for t in TASKS]
    # Unseen ids and words share OOV embeddings by design; unseen *tasks* are refused (test below).
    rows.append(dict(ROW, user_id="u_never_seen", item_id="i_never_seen", query="zzz"))
    rows.append({k: v for k, v in ROW.items() if k not in ("tenure_days", "data_gb", "query")})  # nullable ones missing
    return rows


def test_status_and_metadata(client):
    assert client.status() == [(1, "AVAILABLE")]
    signatures = client.signature_defs()
    assert {"serving_default", "serve_raw"} <= set(signatures)
    assert list(signatures["serving_default"].inputs) == ["examples"]
    assert "probability" in signatures["serving_default"].outputs


def test_grpc_scores_equal_in_process_scores_for_every_task(client, exported):
    rows = _rows()
    scores = client.predict(rows)
    np.testing.assert_allclose(scores, exported.in_process(rows), atol=1e-5)
    assert len(set(np.round(scores[:4], 6))) == 4  # the tasks get different scores
    assert np.all(np.isfinite(scores))


def _predict_raw(client, inputs, signature="serving_default", model=None, version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model or client.model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(value)
    return client.predictions.Predict(request, timeout=30)


def _bad_requests(client):
    dtypes = client.feature_dtypes()
    good = serialize_rows([ROW], dtypes)
    missing_price = serialize_rows([{k: v for k, v in ROW.items() if k != "price"}], dtypes)
    nan_price = tf.train.Example.FromString(good[0])
    nan_price.features.feature["price"].float_list.value[0] = float("nan")
    as_int = tf.train.Example.FromString(good[0])
    del as_int.features.feature["price"].float_list.value[:]
    as_int.features.feature["price"].int64_list.value.append(3)
    return {
        "unknown model": (
            dict(examples=tf.make_tensor_proto(good)),
            dict(model="nope"),
            grpc.StatusCode.NOT_FOUND,
            "nope",
        ),
        "unknown version": (
            dict(examples=tf.make_tensor_proto(good)),
            dict(version=99),
            grpc.StatusCode.NOT_FOUND,
            "99",
        ),
        "unknown signature": (
            dict(examples=tf.make_tensor_proto(good)),
            dict(signature="nope"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "nope",
        ),
        "wrong dtype": (dict(examples=tf.make_tensor_proto([1, 2])), {}, grpc.StatusCode.INVALID_ARGUMENT, "dtype"),
        "missing input": ({}, {}, grpc.StatusCode.INVALID_ARGUMENT, "examples"),
        "missing feature": (
            dict(examples=tf.make_tensor_proto(missing_price)),
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "price",
        ),
        "feature of the wrong type": (
            dict(examples=tf.make_tensor_proto([as_int.SerializeToString()])),
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "price",
        ),
        "malformed proto": (
            dict(examples=tf.make_tensor_proto([b"\x08\x96\x01garbage"])),
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "examples[0]",
        ),
        "empty batch": (
            dict(examples=tf.make_tensor_proto(np.array([], dtype=object), dtype=tf.string)),
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "Empty",
        ),
        "oversized batch": (dict(examples=tf.make_tensor_proto(good * 65)), {}, grpc.StatusCode.INVALID_ARGUMENT, "64"),
        "NaN": (
            dict(examples=tf.make_tensor_proto([nan_price.SerializeToString()])),
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "NaN",
        ),
        "raw NaN in a required feature": (
            {
                k: tf.make_tensor_proto(np.array([v], dtype=np.float32 if isinstance(v, float) else None))
                for k, v in dict(ROW, price=float("nan")).items()
            },
            dict(signature="serve_raw"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "price",
        ),
    }


def test_bad_requests_get_a_clear_status_and_the_server_keeps_serving(client):
    expected = client.predict([ROW])
    for name, (inputs, spec, code, fragment) in _bad_requests(client).items():
        with pytest.raises(grpc.RpcError) as err:
            _predict_raw(client, inputs, **spec)
        assert err.value.code() == code, (name, err.value.code(), err.value.details())
        assert fragment in err.value.details(), (name, err.value.details())
        np.testing.assert_allclose(client.predict([ROW]), expected, atol=1e-6)  # still serving, same answer


def test_raw_tensor_signature_gives_the_same_scores(client):
    rows = _rows()[:4]
    dtypes = client.feature_dtypes()
    inputs = {}
    for name, dtype in dtypes.items():
        values = [row.get(name) for row in rows]
        inputs[name] = tf.make_tensor_proto(
            np.array(values, dtype=dtype.as_numpy_dtype if dtype != tf.string else object), dtype=dtype
        )
    response = _predict_raw(client, inputs, signature="serve_raw")
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["probability"]), client.predict(rows), atol=1e-5)


def test_new_version_is_picked_up_without_restart(server, client, exported):
    _, base = server
    before = client.predict([ROW])
    shutil.copytree(os.path.join(base, "1"), os.path.join(base, "2"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and 2 not in [v for v, _ in client.status()]:
        time.sleep(0.5)
    assert [v for v, _ in client.status()][-1] == 2
    scores, version = client.predict_serialized(serialize_rows([ROW], client.feature_dtypes()))
    assert version == 2
    np.testing.assert_allclose(scores, before, atol=1e-6)
    assert client.predict_serialized(serialize_rows([ROW], client.feature_dtypes()), version=1)[1] == 1


def test_command_line_scores_one_context_for_several_tasks(server, capsys):
    row = ",".join(f"{k}={v}" for k, v in ROW.items() if k != "task")
    assert client_lib.main(["--target", server[0].target, "--row", row, "--tasks", "ctr,cvr"]) == 0
    out = capsys.readouterr().out
    assert "probability" in out and "ctr" in out and "cvr" in out
    assert client_lib.main(["--target", server[0].target, "--row", "colour=red", "--tasks", "ctr"]) == 2
    assert "unknown feature 'colour'" in capsys.readouterr().err


def test_task_specialised_export_serves_the_same_scores_under_its_own_name(exported, tmp_path):
    from components.signatures import export_serving_model

    rows = [dict(ROW, user_id=f"u{i}", price=10.0 * (i + 1)) for i in range(5)]  # one task sentence, 5 contexts
    features = exported.transformed(rows[:1])
    sentence = [int(features[name].numpy()[0]) for name, _ in exported.input_config.task_columns]
    special = exported.model.specialize(sentence)
    name = "grec_ctr_upgrade_app"
    export_serving_model(
        special,
        exported.transform_output,
        exported.spec,
        exported.input_config.feature_names(),
        str(tmp_path / name / "1"),
    )
    with ServerProcess(str(tmp_path / name), model_name=name) as process:
        special_client = GRecClient(process.target, name)
        np.testing.assert_allclose(special_client.predict(rows), exported.in_process(rows), atol=1e-5)
        special_client.close()
    assert special.moe.w_in.shape[0] == exported.model.top_k


@pytest.mark.parametrize("rows", [3, 20])  # below and above PYTHON_CHECK_ROWS: both validation paths
def test_request_validation_names_the_row_and_feature_in_any_batch_size(rows):
    from components.feature_spec import load_feature_spec
    from components.signatures import DTYPES
    from serving.calls import RequestError
    from serving.request_checks import PYTHON_CHECK_ROWS, ValueRules, _check_examples
    from serving.sample_model import SPEC

    assert (rows > PYTHON_CHECK_ROWS) == (rows == 20)
    spec = load_feature_spec(SPEC)
    dtypes = {c.name: DTYPES[c.dtype] for c in spec.feature_columns}
    features = {name: (dtype, name in ("tenure_days", "data_gb", "query")) for name, dtype in dtypes.items()}
    good = serialize_rows([dict(ROW, user_id=f"u{i}") for i in range(rows)], dtypes)
    _check_examples(np.array(good, dtype=object), features)  # a good batch passes
    bad_row = rows - 2
    nan = tf.train.Example.FromString(good[bad_row])
    nan.features.feature["price"].float_list.value[0] = float("nan")
    wrong_type = tf.train.Example.FromString(good[bad_row])
    del wrong_type.features.feature["price"].float_list.value[:]
    wrong_type.features.feature["price"].int64_list.value.append(3)
    missing = tf.train.Example.FromString(good[bad_row])
    del missing.features.feature["task"]
    two = tf.train.Example.FromString(good[bad_row])
    two.features.feature["region"].bytes_list.value.append(b"r2")
    unseen = serialize_rows([dict(ROW, task="CTR")], dtypes)[0]
    short = serialize_rows([dict(ROW, image_emb="0.1 0.2")], dtypes)[0]
    junk = serialize_rows([dict(ROW, image_emb=" ".join(["0.1"] * 15 + ["x"]))], dtypes)[0]
    rules = ValueRules(known={"task": frozenset(TASKS)}, dims={"image_emb": 16})
    _check_examples(np.array(good, dtype=object), features, rules)  # a good batch passes the rules too
    for defect, fragment in (
        (nan.SerializeToString(), "'price' is NaN"),
        (wrong_type.SerializeToString(), "'price' is a int64_list"),
        (missing.SerializeToString(), "required feature 'task' is missing"),
        (b"\x08\x96\x01garbage", "not a serialized tf.Example"),
        (two.SerializeToString(), "'region' has 2 values; it takes one"),
        (unseen, "'task' has value 'CTR', which the model never saw"),
        (short, "'image_emb' holds 2 numbers; the model takes 16"),
        (junk, "'image_emb' holds 'x', not a finite number"),
    ):
        batch = np.array(good[:bad_row] + [defect] + good[bad_row + 1 :], dtype=object)
        with pytest.raises(RequestError, match=rf"examples\[{bad_row}\]: .*{fragment}"):
            _check_examples(batch, features, rules)


@pytest.mark.skipif(official_binary() is not None, reason="the project server's own checks (messages differ)")
def test_hostile_requests_are_refused_before_any_allocation(client):
    expected = client.predict([ROW])
    good = serialize_rows([ROW], client.feature_dtypes())
    huge = tf.make_tensor_proto(good)
    huge.tensor_shape.dim[0].size = 10_000_000  # a few hundred bytes declaring ten million rows
    bad_dtype = tf.make_tensor_proto(good)
    bad_dtype.dtype = 999
    cases = {
        "declared shape": (dict(examples=huge), {}, "10000000 rows exceeds the limit of 64"),
        "dtype enum": (dict(examples=bad_dtype), {}, "enum 999, which is no TensorFlow dtype"),
        "version label": (dict(examples=tf.make_tensor_proto(good)), dict(label="stable"), "version label: stable"),
        "output filter": (dict(examples=tf.make_tensor_proto(good)), dict(output_filter=["nope"]), "['nope']"),
    }
    for name, (inputs, spec, fragment) in cases.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = client.model_name
        if "label" in spec:
            request.model_spec.version_label = spec["label"]
        request.output_filter.extend(spec.get("output_filter", []))
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(value)
        with pytest.raises(grpc.RpcError) as err:
            client.predictions.Predict(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, err.value.details())
        assert fragment in err.value.details(), (name, err.value.details())
        np.testing.assert_allclose(client.predict([ROW]), expected, atol=1e-6)


def _examples(client, rows):
    return dict(examples=tf.make_tensor_proto(serialize_rows(rows, client.feature_dtypes())))


def _raw(client, rows):
    inputs = {}
    for name, dtype in client.feature_dtypes().items():
        values = [row.get(name) for row in rows]
        inputs[name] = tf.make_tensor_proto(
            np.array(values, dtype=dtype.as_numpy_dtype if dtype != tf.string else object), dtype=dtype
        )
    return inputs


@pytest.mark.skipif(official_binary() is not None, reason="the project server's own checks (TF Serving scores them)")
def test_values_the_model_cannot_score_are_refused_by_name(client):
    """Unseen tasks and auxiliary values, wrong-length or non-finite vectors, two values for a scalar feature:
    INVALID_ARGUMENT naming the row and feature (old server: OOV scores, NaN, or `Graph execution error`)."""
    expected = client.predict([ROW])
    two_values = tf.train.Example.FromString(serialize_rows([ROW], client.feature_dtypes())[0])
    two_values.features.feature["price"].float_list.value.append(3.0)
    cases = {
        "unseen task": (
            dict(ROW, task="brand_new_task"),
            "'task' has value 'brand_new_task', which the model never saw",
        ),
        "task in upper case": (dict(ROW, task="CTR"), "'CTR', which the model never saw"),
        "task with a space": (dict(ROW, task=" ctr"), "' ctr', which the model never saw"),
        # As a tf.Example an empty string is no value (the client leaves it out); as a tensor it is a value.
        "empty task": (dict(ROW, task=""), ("'', which the model never saw", "required feature 'task' is missing")),
        "unseen auxiliary value": (dict(ROW, flow="nope"), "'flow' has value 'nope'"),
        "3 floats": (dict(ROW, image_emb="0.1 0.2 0.3"), "'image_emb' holds 3 numbers; the model takes 16"),
        "17 floats": (dict(ROW, image_emb=" ".join(["0.1"] * 17)), "holds 17 numbers"),
        "no floats": (dict(ROW, image_emb=""), ("holds 0 numbers", "required feature 'image_emb' is missing")),
        "nan as text": (dict(ROW, image_emb=" ".join(["0.1"] * 15 + ["nan"])), "holds 'nan', not a finite number"),
        "inf as text": (dict(ROW, image_emb=" ".join(["inf"] + ["0.1"] * 15)), "holds 'inf', not a finite number"),
    }
    for name, (row, fragment) in cases.items():
        for signature, inputs in (
            ("serving_default", _examples(client, [ROW, row])),
            ("serve_raw", _raw(client, [ROW, row])),
        ):
            with pytest.raises(grpc.RpcError) as err:
                _predict_raw(client, inputs, signature=signature)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, signature, err.value.details())
            details = err.value.details()
            assert any(f in details for f in ((fragment,) if isinstance(fragment, str) else fragment)), (name, details)
            assert "[1]" in details, (name, signature, details)
    known = "known values: ['atc', 'churn', 'ctr', 'cvr']"
    with pytest.raises(grpc.RpcError) as err:
        client.predict([dict(ROW, task="CTR")])
    assert known in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        _predict_raw(client, dict(examples=tf.make_tensor_proto([two_values.SerializeToString()])))
    assert "examples[0]: feature 'price' has 2 values; it takes one" in err.value.details()
    np.testing.assert_allclose(client.predict([ROW]), expected, atol=1e-6)  # still serving, same answer


@pytest.mark.skipif(official_binary() is not None, reason="a project server option")
def test_unseen_values_can_be_scored_and_flagged_instead(exported, tmp_path):
    """--unseen_values=flag: the OOV score, and the response says which rows carried an unseen value."""
    base = tmp_path / "grec"
    shutil.copytree(os.path.join(exported.base_path, "1"), base / "1")
    rows = [ROW, dict(ROW, task="brand_new_task"), dict(ROW, task="brand_new_task", flow="nope")]
    with ServerProcess(str(base), extra_args=["--unseen_values=flag"]) as process:
        flagging = GRecClient(process.target)
        for inputs, signature in ((_examples(flagging, rows), "serving_default"), (_raw(flagging, rows), "serve_raw")):
            response = _predict_raw(flagging, inputs, signature=signature)
            assert list(tf.make_ndarray(response.outputs["unseen_values"])) == [0, 1, 2]
            np.testing.assert_allclose(
                tf.make_ndarray(response.outputs["probability"]), exported.in_process(rows), atol=1e-5
            )
        flagging.close()
