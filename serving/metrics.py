"""The model server's Prometheus metrics and access log (``prometheus_client``).

Served in Prometheus' text format at ``METRICS_PATH`` on the REST port (the
path TF Serving uses when its monitoring config enables Prometheus):

* ``grec_serving_requests_total{api, method, code}``: requests by API (grpc,
  rest), method (Predict, GetModelMetadata, GetModelStatus) and gRPC status
  code name (OK, INVALID_ARGUMENT, NOT_FOUND, ...);
* ``grec_serving_request_latency_seconds{api, method}``: a latency histogram;
* ``grec_serving_loaded_versions``: versions loaded now;
* ``grec_serving_version_load_failures_total``: failed loads (each retry counts).

Each request also writes one access-log line at DEBUG level on the
``grec.access`` logger (``--log_level=debug`` shows them).
"""

from __future__ import annotations

import logging

import prometheus_client

METRICS_PATH = "/monitoring/prometheus/metrics"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
access_log = logging.getLogger("grec.access")


class ServerMetrics:
    """One server's metrics, in a registry of their own (several servers may share a process in tests)."""

    def __init__(self, versions=lambda: 0):
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "grec_serving_requests",
            "Requests by API, method and gRPC status code.",
            ["api", "method", "code"],
            registry=self.registry,
        )
        self.latency = prometheus_client.Histogram(
            "grec_serving_request_latency_seconds",
            "Request latency in seconds.",
            ["api", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.load_failures = prometheus_client.Counter(
            "grec_serving_version_load_failures", "Failed version loads (each retry counts).", registry=self.registry
        )
        loaded = prometheus_client.Gauge("grec_serving_loaded_versions", "Versions loaded now.", registry=self.registry)
        loaded.set_function(versions)

    def observe(self, api: str, method: str, code: str, seconds: float, detail: str = "") -> None:
        """Counts one request and writes its access-log line."""
        self.requests.labels(api, method, code).inc()
        self.latency.labels(api, method).observe(seconds)
        access_log.debug("%s %s %s %.1f ms %s", api, method, code, seconds * 1e3, detail)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text format."""
        return prometheus_client.generate_latest(self.registry), prometheus_client.CONTENT_TYPE_LATEST
