"""One request through a servicer call, API-free: the gRPC servicers and the REST API share it.

A call that cannot be served raises ``RequestError`` with its gRPC status code;
``serve_call`` counts and times every call in ``serving.metrics``.
"""

from __future__ import annotations

import time

import grpc
import tensorflow as tf

from serving.metrics import ServerMetrics


class RequestError(Exception):
    """A request that cannot be served; carries the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


def serve_call(metrics: ServerMetrics, api: str, method: str, fn, request):
    """``fn(request)``, counted and timed; raises RequestError (TensorFlow's argument errors become
    INVALID_ARGUMENT naming the first line of TensorFlow's message)."""
    start, code = time.perf_counter(), "INTERNAL"
    try:
        try:
            response = fn(request)
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, e.message.split("\n")[0]) from e
        code = "OK"
        return response
    except RequestError as e:
        code = e.code.name
        raise
    finally:
        metrics.observe(api, method, code, time.perf_counter() - start, request.model_spec.name)
