"""TF Serving's gRPC services over a ``ModelRegistry``: PredictionService (Predict, GetModelMetadata) and
ModelService (GetModelStatus).

``predict``, ``metadata`` and ``status`` take and return the API's protos without gRPC, so the REST API
(``serving.rest_api``) answers with the same code; a ``RequestError`` becomes the call's status code.
"""

from __future__ import annotations

import dataclasses

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.calls import RequestError, serve_call
from serving.contract import DEFAULT_SIGNATURE, UNSEEN_OUTPUT
from serving.metrics import ServerMetrics
from serving.request_checks import UNSEEN_POLICIES, check_inputs
from serving.versions import ModelRegistry


def _grpc(metrics: ServerMetrics, method: str, fn, request, context):
    """``serve_call`` over gRPC: a RequestError aborts the call with its status code."""
    try:
        return serve_call(metrics, "grpc", method, fn, request)
    except RequestError as e:
        context.abort(e.code, str(e))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata: ``predict`` and ``metadata`` are the API-free calls the REST API shares."""

    def __init__(
        self,
        registry: ModelRegistry,
        max_batch_size: int = 4096,
        unseen_values: str = "reject",
        metrics: ServerMetrics | None = None,
    ):
        if unseen_values not in UNSEEN_POLICIES:
            raise ValueError(f"unseen_values must be one of {list(UNSEEN_POLICIES)}. Received: `{unseen_values!r}`")
        self.registry = registry
        self.max_batch_size = max_batch_size
        self.unseen_values = unseen_values
        self.metrics = metrics or ServerMetrics()

    def Predict(self, request, context):
        return _grpc(self.metrics, "Predict", self.predict, request, context)

    def GetModelMetadata(self, request, context):
        return _grpc(self.metrics, "GetModelMetadata", self.metadata, request, context)

    def predict(self, request):
        """Resolve the version and signature, check the request, run the signature, respond."""
        loaded, name, signature = self._resolve(request.model_spec)
        rules = dataclasses.replace(loaded.rules, unseen=self.unseen_values)
        inputs, unseen = check_inputs(
            request.inputs, signature, name, loaded.features, rules, self.max_batch_size, request.output_filter
        )
        outputs = signature(**inputs)
        if unseen is not None:
            outputs[UNSEEN_OUTPUT] = np.asarray(unseen, np.int32)
        return self._respond(loaded, name, outputs, request.output_filter)

    def _resolve(self, model_spec):
        """(loaded version, signature name, signature) a request's model spec names."""
        if model_spec.WhichOneof("version_choice") == "version_label":
            # TF Serving serves a label only when its config assigns it; this server assigns none.
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unrecognized servable version label: {model_spec.version_label}; this server assigns no "
                "version labels (ask for a version number, or none for the newest)",
            )
        loaded = self.registry.get(model_spec)
        name = model_spec.signature_name or DEFAULT_SIGNATURE
        signature = loaded.signatures.get(name)
        if signature is None:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Serving signature key "{name}" not found. Available: {sorted(loaded.signatures)}',
            )
        return loaded, name, signature

    def _respond(self, loaded, name: str, outputs: dict, output_filter) -> predict_pb2.PredictResponse:
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.registry.model_name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            if output_filter and key not in output_filter:
                continue
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def metadata(self, request):
        loaded = self.registry.get(request.model_spec)
        if list(request.metadata_field) not in ([], ["signature_def"]):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT, f"Unsupported metadata field(s) {list(request.metadata_field)}"
            )
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in loaded.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.registry.model_name
        response.model_spec.version.value = loaded.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, registry: ModelRegistry, metrics: ServerMetrics | None = None):
        self.registry = registry
        self.metrics = metrics or ServerMetrics()

    def GetModelStatus(self, request, context):
        return _grpc(self.metrics, "GetModelStatus", self.status, request, context)

    def status(self, request):
        if request.model_spec.name != self.registry.model_name:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {request.model_spec.name}"
            )
        versions = self.registry.versions()
        if request.model_spec.HasField("version"):
            wanted = request.model_spec.version.value
            if wanted not in versions:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND, f"Could not find version {wanted} of model {self.registry.model_name}"
                )
            versions = [wanted]
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in versions:
            status = response.model_version_status.add()
            status.version = version
            status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response
