"""TF Serving's REST API (``--rest_api_port``) over the model server's own calls.

Each request becomes the gRPC API's request proto and goes through the same
``PredictionServicer.predict`` / ``metadata`` and ``ModelServicer.status``, so
every check of the gRPC path (limits, dtypes, unseen values, versions) holds
here too, with the same messages. What TF Serving's REST API documents:

* ``GET /v1/models/<name>[/versions/<v>]``: version status;
* ``GET /v1/models/<name>[/versions/<v>]/metadata``: the signature defs;
* ``POST /v1/models/<name>[/versions/<v>]:predict`` with ``{"signature_name",
  "instances": [...]}`` (row format, answered ``{"predictions": [...]}``) or
  ``{"inputs": ...}`` (columnar, answered ``{"outputs": ...}``); bytes as
  ``{"b64": "..."}`` (``serving_default`` takes serialized ``tf.Example``s),
  ``serve_raw`` takes one object per row of raw features;
* errors as ``{"error": "<message>"}`` with the HTTP status of the gRPC code.

Also ``GET /monitoring/prometheus/metrics`` (``serving.metrics``). ``:classify``
and ``:regress`` answer 501, as their gRPC calls answer UNIMPLEMENTED. The
standard library's HTTP server, because the API is a handful of JSON routes and
a new web framework would be a dependency for them; concurrency is bounded by
the same ``max_queue`` as gRPC (beyond it: 429).
"""

from __future__ import annotations

import base64
import binascii
import http.server
import json
import re
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, predict_pb2

from serving.calls import RequestError, serve_call
from serving.contract import DEFAULT_SIGNATURE
from serving.metrics import METRICS_PATH

# gRPC status -> HTTP status, as TF Serving's REST API maps them.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
}
_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>\w+))?$"
)
_STATE_NAMES = {v: k for k, v in get_model_status_pb2.ModelVersionStatus.State.items()}


def _value(raw, dtype: tf.DType, where: str):
    """One JSON value as the signature's dtype; refuses anything else naming input and row."""
    if isinstance(raw, (list, dict)) and not (isinstance(raw, dict) and set(raw) == {"b64"}):
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{where}: expects one {dtype.name} value per row, got {raw!r}"
        )
    if dtype == tf.string:
        if isinstance(raw, dict):
            try:
                return base64.b64decode(raw["b64"], validate=True)
            except (binascii.Error, TypeError) as e:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: 'b64' is not base64 ({e})") from e
        if isinstance(raw, str):
            return raw.encode()
    elif dtype.is_integer:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return raw
    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: expects a {dtype.name}, got {raw!r}")


def _check_names(given: dict, specs: dict, where: str) -> None:
    """Refuses an object whose keys are not exactly the signature's inputs, naming the difference."""
    unknown, missing = sorted(set(given) - set(specs)), sorted(set(specs) - set(given))
    if unknown or missing:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: unknown input(s) {unknown}, missing " f"input(s) {missing}; the signature takes {sorted(specs)}",
        )


def _columns(body: dict, specs: dict) -> tuple[dict, bool]:
    """(input name -> list of JSON values, row format?) from a predict body, in either of TF Serving's formats."""
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, 'Send a JSON object with one of "instances" or "inputs"')
    single = next(iter(specs)) if len(specs) == 1 else None
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, '"instances" must be a list, one entry per row')
        columns = {name: [] for name in specs}
        for row, instance in enumerate(instances):
            named = isinstance(instance, dict) and set(instance) != {"b64"}
            if not named and single is None:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"instances[{row}]: expects an object of the inputs {sorted(specs)}",
                )
            if named:
                _check_names(instance, specs, f"instances[{row}]")
                for name in specs:
                    columns[name].append(instance[name])
            else:
                columns[single].append(instance)
        return columns, True
    inputs = body["inputs"]
    if isinstance(inputs, dict) and set(inputs) != {"b64"}:
        _check_names(inputs, specs, '"inputs"')
        columns = inputs
    elif single is not None:
        columns = {single: inputs}
    else:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f'"inputs": expects an object of the inputs {sorted(specs)}'
        )
    for name, values in columns.items():
        if not isinstance(values, list):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT, f'"inputs"[{name!r}]: expects a list, one value per row'
            )
    return columns, False


def predict_request(body: dict, model_spec, specs: dict) -> tuple[predict_pb2.PredictRequest, bool]:
    """(the gRPC PredictRequest of a REST predict body, row format?)."""
    columns, rows = _columns(body, specs)
    request = predict_pb2.PredictRequest()
    request.model_spec.CopyFrom(model_spec)
    request.model_spec.signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
    for name, values in columns.items():
        dtype = specs[name].dtype
        decoded = [_value(v, dtype, f"input {name!r}[{i}]") for i, v in enumerate(values)]
        array = np.asarray(decoded, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=dtype, shape=[len(decoded)]))
    return request, rows


def _json_value(value):
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    return value.item() if isinstance(value, np.generic) else value


def predict_body(response: predict_pb2.PredictResponse, rows: bool) -> dict:
    """TF Serving's JSON answer: ``predictions`` (row format) or ``outputs`` (columnar); one output unnamed."""
    outputs = {k: [_json_value(v) for v in tf.make_ndarray(p).tolist()] for k, p in response.outputs.items()}
    if not rows:
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    count = len(next(iter(outputs.values()), []))
    return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]}


def status_body(response: get_model_status_pb2.GetModelStatusResponse) -> dict:
    return {
        "model_version_status": [
            {
                "version": str(s.version),
                "state": _STATE_NAMES[s.state],
                "status": {"error_code": "OK", "error_message": ""},
            }
            for s in response.model_version_status
        ]
    }


def metadata_body(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    spec = response.model_spec
    return {
        "model_spec": {"name": spec.name, "signature_name": spec.signature_name, "version": str(spec.version.value)},
        "metadata": {"signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)},
    }


class RestServer:
    """TF Serving's REST API on ``host:port``, answering from ``prediction`` and ``models`` (the servicers)."""

    def __init__(
        self,
        prediction,
        models,
        metrics,
        host: str,
        port: int,
        max_queue: int = 64,
        max_body_bytes: int = 64 * 1024 * 1024,
    ):
        self.prediction, self.models, self.metrics = prediction, models, metrics
        self.max_body_bytes = max_body_bytes
        self._slots = threading.BoundedSemaphore(max_queue)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer._handle(self, "GET")

            def do_POST(self):
                outer._handle(self, "POST")

            def log_message(self, *args):  # the access log is serving.metrics' one line per request
                pass

        # ThreadingHTTPServer binds with SO_REUSEADDR only: a port another process listens on is refused.
        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="rest-api", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _send(self, handler, status: int, body: bytes, content_type: str = "application/json") -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if status >= 400:  # the body may be unread: do not reuse the connection
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler, verb: str) -> None:
        path = handler.path.split("?", 1)[0]
        if verb == "GET" and path == METRICS_PATH:
            body, content_type = self.metrics.exposition()
            return self._send(handler, 200, body, content_type)
        if not self._slots.acquire(blocking=False):
            message = {"error": "Too many requests in flight; retry later"}
            return self._send(handler, 429, json.dumps(message).encode())
        start, method, routed = time.perf_counter(), "unknown", False
        try:
            method, call, request, answer = self._route(handler, verb, path)
            routed = True
            status, body = 200, answer(serve_call(self.metrics, "rest", method, call, request))
        except RequestError as e:
            if not routed:  # refused before it reached the servicer call, which counts the rest
                self.metrics.observe("rest", method, e.code.name, time.perf_counter() - start, path)
            status, body = HTTP_STATUS.get(e.code, 500), {"error": str(e)}
        finally:
            self._slots.release()
        self._send(handler, status, json.dumps(body).encode())

    def _route(self, handler, verb: str, path: str):
        """(method name, servicer call, its request proto, response -> JSON body) of one HTTP request."""
        match = _ROUTE.match(path)
        if not match:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Malformed request: {verb} {path}")
        spec = model_pb2.ModelSpec(name=match["name"])
        if match["version"] is not None:
            if not match["version"].isdigit():
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Version {match['version']!r} is not a number")
            spec.version.value = int(match["version"])
        elif match["label"] is not None:
            spec.version_label = match["label"]
        verb_name = match["verb"]
        if verb == "GET" and verb_name is None:
            if match["metadata"]:
                request = get_model_metadata_pb2.GetModelMetadataRequest(
                    model_spec=spec, metadata_field=["signature_def"]
                )
                return "GetModelMetadata", self.prediction.metadata, request, metadata_body
            if match["label"] is not None:  # a label here would be silently ignored: refuse it
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "Version labels are not served by this server")
            request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
            return "GetModelStatus", self.models.status, request, status_body
        if verb == "POST" and verb_name in ("classify", "regress"):
            raise RequestError(grpc.StatusCode.UNIMPLEMENTED, f"{verb_name} is not implemented; use :predict")
        if not (verb == "POST" and verb_name == "predict"):
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Malformed request: {verb} {path}")
        body = self._body(handler)
        signature_name = body.get("signature_name", DEFAULT_SIGNATURE) if isinstance(body, dict) else None
        loaded = self.prediction.registry.get(spec)
        signature = loaded.signatures.get(signature_name)
        if signature is None:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Serving signature key "{signature_name}" not found. Available: {sorted(loaded.signatures)}',
            )
        request, rows = predict_request(body, spec, signature.input_specs)
        return "Predict", self.prediction.predict, request, lambda response: predict_body(response, rows)

    def _body(self, handler):
        length = handler.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "A predict request needs a Content-Length header")
        if int(length) > self.max_body_bytes:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Request body of {length} bytes exceeds the limit "
                f"of {self.max_body_bytes} (--grpc_channel_arguments=grpc.max_receive_message_length=N)",
            )
        try:
            return json.loads(handler.rfile.read(int(length)))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"The body is not JSON: {e}") from e
