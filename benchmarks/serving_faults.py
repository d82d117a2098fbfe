"""Serving under bad pushes: requests keep succeeding while versions (some broken) are pushed.

    python -m benchmarks.serving_faults [--model-base-path serving_models/grec] [--requests 20000]
        [--concurrency 16] [--no-warmup]

A model server (``tensorflow_model_server`` when installed, else
``serving.model_server``) serves version 1 of a model; 16 client threads send
``--requests`` one-row ``Predict`` requests while 10 more versions are pushed
into the model base path, evenly over the run:

* good versions the way the Pusher writes them (a staging folder renamed into place);
* 2 broken versions (``saved_model.pb`` of junk, no variables);
* 1 half-written version (``saved_model.pb`` first, the rest 6 s later, in place).

Reported: failed requests (every request is good: must be 0), the versions that
answered, the server's resident memory over the run, p50/p99 latency of the
requests sent within 5 s after a good push (swaps) against the others (steady),
the latency of each new version's first request, and how long after its push
the newest good version answers once the pushes and the load have stopped
(a server that keeps loading must not stay on an old version). ``--no-warmup`` removes
the warm-up file from every pushed copy, to measure what warm-up buys.
Without ``--model-base-path`` a small sample model is exported first.

Writes results/serving_faults.json and results/serving_faults.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks import machine
from serving.sample_model import SAMPLE_ROW

TASKS = ("ctr", "atc", "cvr", "churn")
PUSHES = ("good", "good", "broken", "good", "half", "good", "broken", "good", "good", "good")  # versions 2..11
SWAP_WINDOW = 5.0  # seconds after a good push counted as "during a swap"
HALF_WRITTEN_DELAY = 6.0
NEWEST_TIMEOUT = 180.0  # seconds after the last request to wait for the newest good version to answer


def _push(source: str, base: str, version: int, kind: str, warmup: bool) -> None:
    from serving.contract import WARMUP_FILE

    target = os.path.join(base, str(version))
    if kind == "good":
        staging = os.path.join(base, f".staging-{version}")
        shutil.copytree(source, staging)
        if not warmup:
            os.remove(os.path.join(staging, WARMUP_FILE))
        os.rename(staging, target)  # as the Pusher does
    elif kind == "broken":
        os.makedirs(target)
        with open(os.path.join(target, "saved_model.pb"), "wb") as f:
            f.write(b"\x08\x01junk, not a SavedModel")
    else:  # half-written: the graph first, the rest later, in place

        def finish():
            time.sleep(HALF_WRITTEN_DELAY)
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("saved_model.pb"))
            if not warmup:
                os.remove(os.path.join(target, WARMUP_FILE))

        os.makedirs(target)
        shutil.copy(os.path.join(source, "saved_model.pb"), target)
        threading.Thread(target=finish, daemon=True).start()


def run(source: str, requests: int, concurrency: int, warmup: bool, work: str) -> dict:
    import psutil

    from serving.client import GRecClient, serialize_rows
    from serving.launcher import ServerProcess

    base = os.path.join(work, "grec")
    os.makedirs(base)
    _push(source, base, 1, "good", warmup)
    with ServerProcess(base, poll_seconds=1.0) as server:
        process = psutil.Process(server.process.pid)
        probe = GRecClient(server.target)
        dtypes = probe.feature_dtypes()
        examples = [serialize_rows([dict(SAMPLE_ROW, task=TASKS[i % 4], user_id=f"u{i}")], dtypes) for i in range(64)]
        probe.predict_serialized(examples[0])
        probe.close()

        records, lock, sent = [], threading.Lock(), [0]
        rss = [(0.0, process.memory_info().rss)]
        stop = threading.Event()
        t0 = time.monotonic()

        def client_thread(seed):
            client = GRecClient(server.target)
            i = seed
            while True:
                with lock:
                    if sent[0] >= requests:
                        break
                    sent[0] += 1
                begin = time.monotonic()
                try:
                    _, version = client.predict_serialized(examples[i % 64])
                    error = None
                except Exception as e:  # every request is good: any error is a failure to report
                    version, error = None, e.code() if hasattr(e, "code") else type(e).__name__
                records.append((begin - t0, time.monotonic() - begin, version, str(error) if error else None))
                i += concurrency
            client.close()

        def pusher():  # the n-th push once n/11 of the requests are sent
            for n, kind in enumerate(PUSHES):
                while sent[0] < requests * (n + 1) / (len(PUSHES) + 1):
                    if stop.wait(0.05):
                        return
                pushes.append((time.monotonic() - t0, n + 2, kind))
                _push(source, base, n + 2, kind, warmup)

        def sampler():
            while not stop.wait(0.5):
                rss.append((time.monotonic() - t0, process.memory_info().rss))

        pushes: list = []
        threads = [threading.Thread(target=client_thread, args=(s,)) for s in range(concurrency)]
        helpers = [threading.Thread(target=pusher, daemon=True), threading.Thread(target=sampler, daemon=True)]
        for t in threads + helpers:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        duration = time.monotonic() - t0
        rss.append((duration, process.memory_info().rss))
        # Not starved by the pushes: once they stop, the newest good version must take over.
        newest = max(v for _, v, kind in pushes if kind == "good")
        probe, settled = GRecClient(server.target), None
        while settled is None and time.monotonic() - t0 < duration + NEWEST_TIMEOUT:
            if probe.predict_serialized(examples[0])[1] == newest:
                settled = time.monotonic() - t0
            else:
                time.sleep(0.2)
        probe.close()

    times, latency = np.array([r[0] for r in records]), np.array([r[1] for r in records]) * 1e3
    versions = [r[2] for r in records]
    good_pushes = [t for t, _, kind in pushes if kind == "good"]
    in_swap = np.zeros(len(records), bool)
    for t in good_pushes:
        in_swap |= (times >= t) & (times < t + SWAP_WINDOW)
    first, first_at = {}, {}
    for (begin, _, version, _), in_ms in zip(records, latency, strict=True):
        if version is not None and version not in first and version != 1:
            first[version], first_at[version] = float(in_ms), begin
    pushed_at = {v: t for t, v, _ in pushes}
    # Resident memory when each new version first answered: flat once two versions are kept, or growing.
    rss_at = {str(v): next((r for t, r in rss if t >= at), rss[-1][1]) / 2**20 for v, at in sorted(first_at.items())}

    def pct(values):
        return (
            {
                "p50_ms": float(np.percentile(values, 50)),
                "p99_ms": float(np.percentile(values, 99)),
                "requests": int(len(values)),
            }
            if len(values)
            else {}
        )

    errors = [r[3] for r in records if r[3]]
    return {
        "requests": len(records),
        "concurrency": concurrency,
        "warmup": warmup,
        "seconds": duration,
        "server": server.kind,
        "pushes": [{"at_s": t, "version": v, "kind": k} for t, v, k in pushes],
        "failed_requests": len(errors),
        "errors": sorted(set(errors)),
        "versions_answering": {str(v): versions.count(v) for v in sorted(set(v for v in versions if v is not None))},
        "steady": pct(latency[~in_swap]),
        "during_swaps": pct(latency[in_swap]),
        "first_request_ms": {str(k): v for k, v in sorted(first.items())},
        "push_to_first_answer_s": {str(v): first_at[v] - pushed_at[v] for v in sorted(first_at)},
        "newest_good_version": newest,
        "newest_answered_after_push_s": None if settled is None else settled - pushed_at[newest],
        "rss_mb": {
            "start": rss[0][1] / 2**20,
            "end": rss[-1][1] / 2**20,
            "max": max(r for _, r in rss) / 2**20,
            "at_first_answer_of_version": rss_at,
        },
        "machine": machine.describe(),
    }


def _after(r: dict) -> str:
    s = r["newest_answered_after_push_s"]
    return f"v{r['newest_good_version']}: " + (f"{s:.1f}" if s is not None else f"not within {NEWEST_TIMEOUT:.0f} s")


def markdown(results: list[dict], command: str) -> str:
    lines = [
        "# Serving under bad pushes",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {results[0]['machine']}; server: {results[0]['server']}; client and server share the cores.",
        "",
        f"Pushed during the run (versions 2-11): {', '.join(PUSHES)} (`broken`: junk `saved_model.pb`; "
        f"`half`: `saved_model.pb` first, the rest {HALF_WRITTEN_DELAY:.0f} s later).",
        "",
        "| warm-up | requests | failed | versions answering | steady p50 / p99 ms | within 5 s of a good push "
        "p50 / p99 ms | first request per new version, ms (median / max) | RSS start -> end (max) MB | "
        "RSS when each new version first answered, MB | newest good version answered, s after its push |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        first = list(r["first_request_ms"].values())
        lines.append(
            f"| {'yes' if r['warmup'] else 'no'} | {r['requests']:,} | {r['failed_requests']} | "
            f"{', '.join(r['versions_answering'])} | {r['steady']['p50_ms']:.1f} / {r['steady']['p99_ms']:.1f} | "
            f"{r['during_swaps']['p50_ms']:.1f} / {r['during_swaps']['p99_ms']:.1f} | "
            f"{np.median(first) if first else float('nan'):.1f} / {max(first, default=float('nan')):.1f} | "
            f"{r['rss_mb']['start']:.0f} -> {r['rss_mb']['end']:.0f} "
            f"({r['rss_mb']['max']:.0f}) | "
            + ", ".join(f"v{v}: {mb:.0f}" for v, mb in r["rss_mb"]["at_first_answer_of_version"].items())
            + f" | {_after(r)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base-path", help="serve this model's newest version (default: a sample model)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-warmup", action="store_true", help="also run with the warm-up file removed")
    parser.add_argument("--out", default="results/serving_faults")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        if args.model_base_path:
            newest = max(int(v) for v in os.listdir(args.model_base_path) if v.isdigit())
            source = os.path.join(args.model_base_path, str(newest))
        else:
            from serving.sample_model import export_sample_model

            source = os.path.join(export_sample_model(os.path.join(work, "sample")).base_path, "1")
        results = []
        for warmup in (True, False) if args.no_warmup else (True,):
            results.append(run(source, args.requests, args.concurrency, warmup, os.path.join(work, f"run{warmup}")))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "machine"}, indent=1), flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(results, f, indent=2)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(results, "python -m benchmarks.serving_faults " + " ".join(argv or sys.argv[1:])))
    failed = sum(r["failed_requests"] for r in results)
    stale = [r["warmup"] for r in results if r["newest_answered_after_push_s"] is None]
    print(f"wrote {args.out}.md; failed requests: {failed}; runs whose newest good version never answered: {stale}")
    return 1 if failed or stale else 0


if __name__ == "__main__":
    sys.exit(main())
