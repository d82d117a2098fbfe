"""A TF Serving-compatible gRPC server for the pushed model, for machines without ``tensorflow_model_server``.

The production server is the official ``tensorflow_model_server`` (see
docs/serving.md). Where it cannot be installed (no binary on the package registries,
no Docker here), this server speaks the same gRPC API over the same model
base path, as a thin adapter over grpcio and TensorFlow's SavedModel loader (each
version in a graph and session of its own, as the official server loads it):

* ``PredictionService.Predict`` and ``GetModelMetadata``; ``ModelService.GetModelStatus``;
  the same calls over TF Serving's REST API with ``--rest_api_port`` (``serving.rest_api``),
  and Prometheus metrics there (``serving.metrics``);
* each version replays its ``assets.extra/tf_serving_warmup_requests`` (TF Serving's
  warm-up file, written at export) before it takes traffic;
* serves the highest numeric version under ``<model_base_path>`` that loads,
  polls for new versions and swaps them in without a restart; requests in
  flight finish on the version they started with; ``model_spec.version`` picks
  an older one still loaded; a broken, half-written or corrupt version never
  displaces the last good one, and is retried with backoff (``ModelRegistry``);
* bad requests (unknown model, version or signature, wrong dtype, missing
  input, malformed ``tf.Example``, missing feature, NaN, empty or oversized
  batch) get INVALID_ARGUMENT or NOT_FOUND and the server keeps serving;
* a bounded thread pool and request queue; graceful shutdown on SIGTERM.

    python -m serving.model_server --port=8500 --model_name=grec --model_base_path=$PWD/serving_models/grec

(the flags are ``tensorflow_model_server``'s.)
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.contract import UNSEEN_OUTPUT
from serving.grpc_service import ModelServicer, PredictionServicer
from serving.metrics import METRICS_PATH, ServerMetrics
from serving.request_checks import UNSEEN_POLICIES
from serving.versions import ModelRegistry

log = logging.getLogger("grec.model_server")


DEFAULT_CHANNEL_ARGUMENTS = {"grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.so_reuseport": 0}


def channel_arguments(text: str) -> dict:
    """TF Serving's ``--grpc_channel_arguments`` (``key=value,key=value``; integer values as integers) over
    this server's defaults: a 64 MiB request limit (also the REST body limit), and no port sharing.

    Raises:
        ValueError: an entry without ``=``, named.
    """
    arguments = dict(DEFAULT_CHANNEL_ARGUMENTS)
    for entry in filter(None, (e.strip() for e in text.split(","))):
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--grpc_channel_arguments: {entry!r} is not key=value")
        value = value.strip()
        arguments[key.strip()] = int(value) if value.lstrip("-").isdigit() else value
    return arguments


@dataclasses.dataclass
class Server:
    """A running model server: gRPC, optionally REST, one registry of versions and one set of metrics."""

    grpc_server: grpc.Server
    registry: ModelRegistry
    port: int
    metrics: ServerMetrics
    rest: object = None  # serving.rest_api.RestServer with --rest_api_port

    def start(self) -> None:
        self.grpc_server.start()
        if self.rest is not None:
            self.rest.start()

    def stop(self, grace: float | None = None) -> None:
        self.registry.stop()
        if self.rest is not None:
            self.rest.stop()
        self.grpc_server.stop(grace).wait()


def build_server(
    model_name: str,
    base_path: str,
    port: int,
    max_workers: int = 4,
    max_queue: int = 64,
    max_batch_size: int = 4096,
    poll_seconds: float = 2.0,
    settle_seconds: float = 1.0,
    host: str = "127.0.0.1",
    unseen_values: str = "reject",
    rest_api_port: int | None = None,
    grpc_arguments: dict | None = None,
    ssl_config=None,
) -> Server:
    """A model server, not started; ``rest_api_port`` 0 picks a free port, None serves no REST API;
    ``ssl_config``: an ``SSLConfig`` (``serving.tls``), gRPC over TLS.

    Raises:
        OSError: a port is taken (gRPC would otherwise share it with the other process: SO_REUSEPORT).
    """
    from serving.rest_api import RestServer

    arguments = grpc_arguments or dict(DEFAULT_CHANNEL_ARGUMENTS)
    metrics = ServerMetrics(versions=lambda: len(registry.versions()))
    registry = ModelRegistry(
        model_name, base_path, poll_seconds, settle_seconds=settle_seconds, on_load_failure=metrics.load_failures.inc
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        maximum_concurrent_rpcs=max_queue,  # beyond this, RESOURCE_EXHAUSTED rather than unbounded queueing
        options=list(arguments.items()),
    )
    prediction = PredictionServicer(registry, max_batch_size, unseen_values, metrics)
    models = ModelServicer(registry, metrics)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(models, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if ssl_config is None:
            bound = server.add_insecure_port(address)
        else:
            from serving.tls import server_credentials

            bound = server.add_secure_port(address, server_credentials(ssl_config))
    except RuntimeError as error:  # grpcio raises on a failed bind
        bound, cause = 0, error
    else:
        cause = None
    rest = None
    if bound and rest_api_port is not None:
        try:
            body_limit = int(arguments.get("grpc.max_receive_message_length", -1))
            rest = RestServer(
                prediction, models, metrics, host, rest_api_port, max_queue, body_limit if body_limit > 0 else 2**31 - 1
            )
        except OSError as error:
            bound, cause, address = 0, error, f"{host}:{rest_api_port} (REST)"
    if not bound:
        registry.stop()
        server.stop(0)
        raise OSError(f"cannot listen on {address}: the port is taken or the address is not this machine's") from cause
    return Server(server, registry, bound, metrics, rest)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="(not a tensorflow_model_server flag) the address to "
        "bind: 0.0.0.0 for every interface (with --ssl_config_file for TLS; see the README)",
    )
    parser.add_argument(
        "--ssl_config_file",
        default="",
        help="a text-format tensorflow.serving.SSLConfig (server_key, server_cert, custom_ca, "
        "client_verify): gRPC over TLS, mutual with client_verify; the REST API stays plain HTTP",
    )
    parser.add_argument("--model_name", default="grec")
    parser.add_argument("--model_base_path", required=True)
    parser.add_argument("--max_batch_size", type=int, default=4096)
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=2.0)
    parser.add_argument(
        "--version_settle_seconds",
        type=float,
        default=1.0,
        help="(not a tensorflow_model_server flag) a version is loaded once its files have not "
        "changed for this long",
    )
    parser.add_argument(
        "--unseen_values",
        choices=UNSEEN_POLICIES,
        default="reject",
        help="(not a tensorflow_model_server flag) a task or auxiliary-task value the model never saw "
        "in training: reject the request (INVALID_ARGUMENT naming feature and known values), or flag: "
        f"score it with the shared out-of-vocabulary embedding and count it per row in the "
        f"{UNSEEN_OUTPUT!r} output (default: %(default)s)",
    )
    parser.add_argument(
        "--rest_api_port",
        type=int,
        default=0,
        help=f"TF Serving's REST API and the Prometheus metrics ({METRICS_PATH}) on this port; 0: none",
    )
    parser.add_argument(
        "--grpc_channel_arguments",
        default="",
        help="key=value,... gRPC server arguments, e.g. grpc.max_receive_message_length=134217728 "
        "(default 64 MiB, also the REST body limit)",
    )
    parser.add_argument(
        "--log_level",
        default="info",
        choices=("debug", "info", "warning"),
        help="(not a tensorflow_model_server flag) debug: one access-log line per request",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        ssl_config = None
        if args.ssl_config_file:
            from serving.tls import load_ssl_config

            ssl_config = load_ssl_config(args.ssl_config_file)
        server = build_server(
            args.model_name,
            os.path.abspath(args.model_base_path),
            args.port,
            max_batch_size=args.max_batch_size,
            poll_seconds=args.file_system_poll_wait_seconds,
            settle_seconds=args.version_settle_seconds,
            host=args.host,
            unseen_values=args.unseen_values,
            rest_api_port=args.rest_api_port or None,
            grpc_arguments=channel_arguments(args.grpc_channel_arguments),
            ssl_config=ssl_config,
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    server.start()
    rest = f", REST on port {server.rest.port}" if server.rest else ""
    tls = " (TLS" + (", client certificates required)" if ssl_config.client_verify else ")") if ssl_config else ""
    log.info("listening on %s:%s%s%s, versions %s", args.host, server.port, tls, rest, server.registry.versions())
    print(f"READY port={server.port}" + (f" rest_api_port={server.rest.port}" if server.rest else ""), flush=True)
    stopped = threading.Event()

    def shutdown(signum, frame):
        log.info("signal %s: finishing requests in flight", signum)
        server.stop(grace=10)
        stopped.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    stopped.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
