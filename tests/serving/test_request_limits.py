"""Limits are checked on the request's declared shape, before any tensor is built (in process, memory traced)."""

import tracemalloc

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2

from serving.calls import RequestError
from serving.client import serialize_rows
from serving.grpc_service import PredictionServicer
from serving.sample_model import SAMPLE_ROW
from serving.versions import ModelRegistry


def test_a_request_declaring_ten_million_rows_is_refused_without_allocating_them(exported):
    registry = ModelRegistry("grec", exported.base_path, poll_seconds=3600, settle_seconds=0)
    registry.stop()
    servicer = PredictionServicer(registry, max_batch_size=64)
    loaded = registry.get(model_pb2.ModelSpec(name="grec"))
    dtypes = {k: v[0] for k, v in loaded.features.items()}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "grec"
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto(serialize_rows([SAMPLE_ROW], dtypes)))
    request.inputs["examples"].tensor_shape.dim[0].size = 10_000_000
    assert len(request.SerializeToString()) < 1_000
    tracemalloc.start()
    with pytest.raises(RequestError) as err:
        servicer.predict(request)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "10000000 rows exceeds the limit of 64" in str(
        err.value
    )
    assert peak < 10 * 2**20, f"{peak / 2**20:.0f} MB allocated to refuse it"  # building the rows first: 153 MB


def test_a_second_server_on_a_taken_port_refuses_to_start(tmp_path, capsys):
    from serving import model_server

    first = model_server.build_server("grec", str(tmp_path), 0)  # no versions: nothing to load
    port = first.port
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}: the port is taken"):
            model_server.build_server("grec", str(tmp_path), port)  # gRPC would have shared it (SO_REUSEPORT)
        assert model_server.main(["--port", str(port), "--model_base_path", str(tmp_path)]) == 2
        assert f"error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    finally:
        first.stop(0)
