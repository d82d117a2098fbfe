"""TF Serving's REST API, the metrics endpoint, the access log, channel arguments and warm-up.

The REST tests use a real HTTP client (urllib) against a server process: the
official ``tensorflow_model_server`` when present (it takes the same
``--rest_api_port``), the project's otherwise.
"""

import base64
import json
import logging
import os
import shutil
import urllib.error
import urllib.request

import grpc
import numpy as np
import portpicker
import pytest
import tensorflow as tf
import yaml
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

import serving
from serving.client import GRecClient, serialize_rows
from serving.contract import WARMUP_FILE
from serving.launcher import ServerProcess, official_binary
from serving.sample_model import SAMPLE_ROW

TASKS = ("ctr", "atc", "cvr", "churn")
project_server_only = pytest.mark.skipif(official_binary() is not None, reason="the project server's own feature")


def _http(url, body=None):
    """(HTTP status, parsed JSON or text) of a GET, or of a POST when ``body`` is given (bytes or JSON)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@pytest.fixture(scope="module")
def rest(exported, tmp_path_factory):
    base = tmp_path_factory.mktemp("rest") / "grec"
    shutil.copytree(os.path.join(exported.base_path, "1"), base / "1")
    port = portpicker.pick_unused_port()
    with ServerProcess(str(base), extra_args=[f"--rest_api_port={port}", "--max_batch_size=64"]) as process:
        yield f"http://127.0.0.1:{port}", process


def test_status_and_metadata_over_http(rest):
    url, _ = rest
    assert _http(f"{url}/v1/models/grec") == (
        200,
        {
            "model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        },
    )
    assert _http(f"{url}/v1/models/grec/versions/1")[0] == 200
    status, body = _http(f"{url}/v1/models/grec/versions/7")
    assert status == 404 and "version 7" in body["error"]
    assert _http(f"{url}/v1/models/other")[0] == 404
    status, body = _http(f"{url}/v1/models/grec/metadata")
    assert status == 200 and body["model_spec"]["version"] == "1"
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "serve_raw"} <= set(signatures)
    assert set(signatures["serving_default"]["inputs"]) == {"examples"}


def test_the_kubernetes_readiness_probe_answers(rest):
    url, _ = rest
    with open(os.path.join(os.path.dirname(serving.__file__), "kubernetes", "tf-serving.yaml")) as f:
        deployment = next(yaml.safe_load_all(f))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    assert _http(url + probe["path"])[0] == 200


def test_rest_scores_equal_grpc_and_in_process_scores_in_both_formats(rest, exported):
    url, process = rest
    rows = [dict(SAMPLE_ROW, task=t) for t in TASKS]
    expected = exported.in_process(rows)
    # Row format, serve_raw: one object of raw features per row.
    status, body = _http(f"{url}/v1/models/grec:predict", {"signature_name": "serve_raw", "instances": rows})
    assert status == 200, body
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-5)
    # Columnar, serving_default: serialized tf.Examples as base64.
    client = GRecClient(process.target)
    try:
        examples = serialize_rows(rows, client.feature_dtypes())
        grpc_scores = client.predict(rows)
    finally:
        client.close()
    b64 = [{"b64": base64.b64encode(e).decode()} for e in examples]
    status, body = _http(f"{url}/v1/models/grec/versions/1:predict", {"inputs": {"examples": b64}})
    assert status == 200, body
    np.testing.assert_allclose(body["outputs"], grpc_scores, atol=1e-6)
    # Row format with the single input unnamed.
    status, body = _http(f"{url}/v1/models/grec:predict", {"instances": b64})
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-5)


def test_bad_rest_requests_get_400_or_404_naming_the_problem_and_the_server_keeps_serving(rest):
    url, _ = rest
    predict = f"{url}/v1/models/grec:predict"
    raw = {"signature_name": "serve_raw"}
    cases = [
        (predict, b"{not json", 400, "not JSON"),
        (predict, {"instances": [], "inputs": {}}, 400, 'one of "instances" or "inputs"'),
        (predict, dict(raw, instances=[dict(SAMPLE_ROW, price="cheap")]), 400, "'price'"),
        (predict, dict(raw, instances=[{k: v for k, v in SAMPLE_ROW.items() if k != "price"}]), 400, "price"),
        (predict, dict(raw, instances=[dict(SAMPLE_ROW, task="brand_new_task")]), 400, "brand_new_task"),
        (predict, {"signature_name": "nope", "instances": [SAMPLE_ROW]}, 400, "nope"),
        (predict, dict(raw, instances=[SAMPLE_ROW] * 65), 400, "exceeds the limit of 64"),
        (f"{url}/v1/models/other:predict", dict(raw, instances=[SAMPLE_ROW]), 404, "other"),
        (f"{url}/v1/models/grec/versions/9:predict", dict(raw, instances=[SAMPLE_ROW]), 404, "9"),
    ]
    for target, body, code, fragment in cases:
        status, answer = _http(target, body)
        assert status == code and fragment in answer["error"], (
            body if isinstance(body, bytes) else str(body)[:80],
            status,
            answer,
        )
    status, body = _http(predict, dict(raw, instances=[SAMPLE_ROW]))
    assert status == 200 and len(body["predictions"]) == 1


@project_server_only
def test_rest_refusals_of_the_project_server(rest):
    url, _ = rest
    status, body = _http(
        f"{url}/v1/models/grec/labels/stable:predict", {"signature_name": "serve_raw", "instances": [SAMPLE_ROW]}
    )
    assert status == 400 and "version label" in body["error"]
    status, body = _http(f"{url}/v1/models/grec:classify", {"examples": []})
    assert status == 501 and "predict" in body["error"]
    status, body = _http(f"{url}/v1/models/grec/nothing")
    assert status == 404 and "Malformed request" in body["error"]
    status, body = _http(f"{url}/v1/models/grec:predict", {"instances": ["plain text, not a tf.Example"]})
    assert status == 400 and "examples" in body["error"]


@project_server_only
def test_metrics_count_requests_by_api_method_and_code(rest):
    url, process = rest
    client = GRecClient(process.target)
    try:
        client.predict([SAMPLE_ROW])
        with pytest.raises(grpc.RpcError):
            client.predict([dict(SAMPLE_ROW, task="CTR")])
    finally:
        client.close()
    before = _metrics(url)
    _http(f"{url}/v1/models/grec:predict", {"signature_name": "serve_raw", "instances": [SAMPLE_ROW]})
    _http(f"{url}/v1/models/grec:predict", {"signature_name": "serve_raw", "instances": [dict(SAMPLE_ROW, task="CTR")]})
    after = _metrics(url)
    ok = 'grec_serving_requests_total{api="rest",code="OK",method="Predict"}'
    bad = 'grec_serving_requests_total{api="rest",code="INVALID_ARGUMENT",method="Predict"}'
    assert after[ok] - before.get(ok, 0) == 1 and after[bad] - before.get(bad, 0) == 1
    assert after['grec_serving_requests_total{api="grpc",code="INVALID_ARGUMENT",method="Predict"}'] >= 1
    assert after['grec_serving_request_latency_seconds_count{api="rest",method="Predict"}'] >= 2
    assert after["grec_serving_loaded_versions"] == 1
    assert after["grec_serving_version_load_failures_total"] == 0


def _metrics(url) -> dict:
    status, text = _http(url + "/monitoring/prometheus/metrics")
    assert status == 200
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_channel_arguments_follow_tf_servings_flag_and_refuse_junk():
    from serving.model_server import DEFAULT_CHANNEL_ARGUMENTS, channel_arguments

    assert channel_arguments("") == DEFAULT_CHANNEL_ARGUMENTS
    args = channel_arguments("grpc.max_receive_message_length=1024, grpc.primary_user_agent=grec")
    assert args["grpc.max_receive_message_length"] == 1024 and args["grpc.primary_user_agent"] == "grec"
    with pytest.raises(ValueError, match="'junk' is not key=value"):
        channel_arguments("grpc.a=1,junk")


def test_the_message_limit_is_a_flag_and_requests_over_it_are_refused(exported, tmp_path, caplog):
    from serving import model_server

    shutil.copytree(os.path.join(exported.base_path, "1"), tmp_path / "1")
    limit = model_server.channel_arguments("grpc.max_receive_message_length=20000")
    server = model_server.build_server(
        "grec", str(tmp_path), 0, settle_seconds=0, rest_api_port=0, grpc_arguments=limit
    )
    server.start()
    client = GRecClient(f"127.0.0.1:{server.port}")
    try:
        with caplog.at_level(logging.DEBUG, logger="grec.access"):
            assert len(client.predict([SAMPLE_ROW] * 4)) == 4  # about 1.4 KB
            with pytest.raises(grpc.RpcError) as err:
                client.predict([SAMPLE_ROW] * 100)  # about 35 KB
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        url = f"http://127.0.0.1:{server.rest.port}/v1/models/grec:predict"
        status, body = _http(url, {"signature_name": "serve_raw", "instances": [SAMPLE_ROW] * 100})
        assert status == 400 and "exceeds the limit of 20000" in body["error"]
        lines = [r.getMessage() for r in caplog.records if r.name == "grec.access"]
        assert any(line.startswith("grpc GetModelMetadata OK") for line in lines)
        assert sum(line.startswith("grpc Predict OK") for line in lines) == 1  # one line per request
    finally:
        client.close()
        server.stop(0)


def test_the_export_writes_tf_servings_warmup_file_and_the_server_replays_it(exported, tmp_path):
    from serving.versions import LoadedVersion, ModelRegistry

    path = os.path.join(exported.base_path, "1", WARMUP_FILE)
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "predict_log"]
    requests = [log.predict_log.request for log in logs]
    assert {r.model_spec.signature_name for r in requests} == {"serving_default"}
    batches = [tf.make_ndarray(r.inputs["examples"]) for r in requests]
    assert [len(b) for b in batches] == [1, len(TASKS)]  # one row, then a row per known task
    tasks = sorted(
        tf.train.Example.FromString(e).features.feature["task"].bytes_list.value[0].decode() for e in batches[1]
    )
    assert tasks == sorted(TASKS)
    assert LoadedVersion(os.path.join(exported.base_path, "1"), 1).warmup_requests == 2
    # A warm-up request the version cannot answer fails its load, as in TF Serving: the good version stays.
    shutil.copytree(os.path.join(exported.base_path, "1"), tmp_path / "1")
    shutil.copytree(os.path.join(exported.base_path, "1"), tmp_path / "2")
    broken = predict_pb2.PredictRequest()
    broken.inputs["examples"].CopyFrom(tf.make_tensor_proto([b"not an example"]))
    with tf.io.TFRecordWriter(str(tmp_path / "2" / WARMUP_FILE)) as writer:
        writer.write(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=broken)
            ).SerializeToString()
        )
    failures = []
    registry = ModelRegistry(
        "grec", str(tmp_path), poll_seconds=3600, settle_seconds=0, on_load_failure=lambda: failures.append(1)
    )
    registry.stop()
    assert registry.versions() == [1] and failures == [1]
    assert registry.get(model_pb2.ModelSpec(name="grec")).version == 1
