"""Serving load over gRPC on loopback, beside the in-process ceiling.

    python -m benchmarks.serving_load [--model-base-path serving_models/grec] [--quick]

A bounded load generator (every run stops after ``--requests`` requests or
``--seconds`` seconds, whichever comes first) sends ``Predict`` requests at
concurrency 1, 8 and 32 with batches of 1, 32 and 256 rows to the model server
(``tensorflow_model_server`` when installed, else ``serving.model_server``) on
127.0.0.1. Reported: p50/p95/p99 latency, rows per second, errors (must be 0),
and the server's resident memory before and after 10,000 batch-1 requests. The
same batches scored in process by the loaded SavedModel give the ceiling, so
the gRPC overhead is a measured ratio. Without ``--model-base-path``, a small
sample model is exported first (``serving/sample_model.py``).

Writes results/serving_load.json and results/serving_load.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks import machine
from serving.sample_model import SAMPLE_ROW

ROW = SAMPLE_ROW
TASKS = ("ctr", "atc", "cvr", "churn")


def _rows(batch):
    return [dict(ROW, task=TASKS[i % 4], user_id=f"u{i % 500}") for i in range(batch)]


def _percentiles(latencies):
    values = np.sort(np.asarray(latencies)) * 1000
    return {f"p{p}_ms": float(np.percentile(values, p)) for p in (50, 95, 99)}


def load(target, serialized, concurrency, max_requests, max_seconds):
    """Sends up to max_requests requests from `concurrency` threads; bounded in count and time."""
    from serving.client import GRecClient

    latencies, errors, lock = [], [0], threading.Lock()
    remaining = [max_requests]
    deadline = time.monotonic() + max_seconds

    def worker():
        client = GRecClient(target)
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                client.predict_serialized(serialized)
                with lock:
                    latencies.append(time.perf_counter() - start)
            except Exception:
                with lock:
                    errors[0] += 1
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rows_per_second": len(latencies) * len(serialized) / elapsed,
        **_percentiles(latencies),
    }


def in_process(model_dir, serialized, repeats):
    import tensorflow as tf

    signature = tf.saved_model.load(model_dir).signatures["serving_default"]
    examples = tf.constant(serialized)
    signature(examples=examples)  # warm up
    latencies = []
    for _ in range(repeats):
        start = time.perf_counter()
        signature(examples=examples)["probability"].numpy()
        latencies.append(time.perf_counter() - start)
    return {"rows_per_second": len(serialized) / statistics.median(latencies), **_percentiles(latencies)}


def run(model_base_path, concurrencies, batches, max_requests, max_seconds, memory_requests):
    import psutil

    from serving.client import GRecClient, serialize_rows
    from serving.launcher import ServerProcess

    versions = sorted((d for d in os.listdir(model_base_path) if d.isdigit()), key=int)
    model_dir = os.path.join(model_base_path, versions[-1])
    results = {"grpc": [], "in_process": [], "memory": {}}
    with ServerProcess(model_base_path) as server:
        results["server"] = server.kind
        dtypes = GRecClient(server.target).feature_dtypes()
        payloads = {b: serialize_rows(_rows(b), dtypes) for b in batches}
        process = psutil.Process(server.process.pid)
        load(server.target, payloads[1], 4, 50, 30)  # warm up every thread path
        for batch in batches:
            for concurrency in concurrencies:
                row = {
                    "batch": batch,
                    "concurrency": concurrency,
                    **load(server.target, payloads[batch], concurrency, max_requests, max_seconds),
                }
                results["grpc"].append(row)
                print(
                    f"  grpc batch {batch:>3} concurrency {concurrency:>2}: p50 {row['p50_ms']:7.2f} ms  "
                    f"p99 {row['p99_ms']:7.2f} ms  {row['rows_per_second']:9.0f} rows/s  errors {row['errors']}",
                    flush=True,
                )
        before = process.memory_info().rss
        soak = load(server.target, payloads[1], 8, memory_requests, 600)
        after = process.memory_info().rss
        results["memory"] = {
            "requests": soak["requests"],
            "errors": soak["errors"],
            "rss_before_mb": before / 2**20,
            "rss_after_mb": after / 2**20,
            "growth_mb": (after - before) / 2**20,
        }
        print(f"  memory: {results['memory']}", flush=True)
    for batch in batches:
        row = {"batch": batch, **in_process(model_dir, payloads[batch], 30)}
        results["in_process"].append(row)
        grpc_c1 = next(r for r in results["grpc"] if r["batch"] == batch and r["concurrency"] == 1)
        row["grpc_p50_over_in_process_p50"] = grpc_c1["p50_ms"] / row["p50_ms"]
        print(
            f"  in process batch {batch:>3}: p50 {row['p50_ms']:7.2f} ms; gRPC/in-process p50 at concurrency 1: "
            f"{row['grpc_p50_over_in_process_p50']:.2f}",
            flush=True,
        )
    return results


def markdown(result) -> str:
    info = result["machine"]
    lines = [
        "# Serving load over gRPC (loopback)",
        "",
        f"Command: `python -m benchmarks.serving_load {result['command_args']}`  ",
        f"Server: {result['server']}; model: {result['model']}.  ",
        machine.summary(info) + " Client and server share the 2 cores.",
        "",
        "| batch | concurrency | requests | errors | p50 ms | p95 ms | p99 ms | rows / s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["grpc"]:
        lines.append(
            f"| {r['batch']} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['p50_ms']:.2f} | "
            f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['rows_per_second']:.0f} |"
        )
    lines += [
        "",
        "In process (the loaded SavedModel's `serving_default`, no gRPC):",
        "",
        "| batch | p50 ms | p99 ms | rows / s | gRPC p50 / in-process p50 (concurrency 1) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in result["in_process"]:
        lines.append(
            f"| {r['batch']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['rows_per_second']:.0f} | "
            f"{r['grpc_p50_over_in_process_p50']:.2f} |"
        )
    m = result["memory"]
    lines += [
        "",
        f"Server memory: {m['rss_before_mb']:.0f} MB before and {m['rss_after_mb']:.0f} MB after "
        f"{m['requests']} more batch-1 requests at concurrency 8 ({m['growth_mb']:+.1f} MB, {m['errors']} errors).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base-path", help="a pushed model base path (default: export a sample model)")
    parser.add_argument("--requests", type=int, default=400, help="requests per (batch, concurrency) run")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per run")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 8, batch 1 and 32, few requests")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    concurrencies, batches = ((1, 8), (1, 32)) if args.quick else ((1, 8, 32), (1, 32, 256))
    if args.quick:
        args.requests, args.seconds, args.memory_requests = 40, 10.0, 200
    base = args.model_base_path
    model = base
    if base is None:
        from serving.sample_model import export_sample_model

        base = export_sample_model(tempfile.mkdtemp(prefix="grec_load_")).base_path
        model = "sample GRec (D=16, E=4, K=2) from serving/sample_model.py"
    result = run(os.path.abspath(base), concurrencies, batches, args.requests, args.seconds, args.memory_requests)
    result.update(
        machine=machine.describe(), model=model, command_args=" ".join(argv if argv is not None else sys.argv[1:])
    )
    machine.write_results(args.out, "serving_load", result, markdown(result))
    errors = sum(r["errors"] for r in result["grpc"]) + result["memory"]["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
