"""The versions of one served model: loading each as TF Serving does, and the registry that serves them.

``LoadedVersion`` loads a SavedModel into a graph and session of its own and replays its warm-up file;
``ModelRegistry`` polls the model base path, serves the newest versions that load and never lets a broken
push displace a good one.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import threading
import time
import weakref

import grpc
import numpy as np
import tensorflow as tf

from serving.calls import RequestError
from serving.contract import DEFAULT_SIGNATURE, DTYPE_NAMES, FEATURE_MANIFEST, WARMUP_FILE
from serving.request_checks import ValueRules

log = logging.getLogger("grec.model_server")


class SessionSignature:
    """One SignatureDef, run in its version's own graph and session."""

    def __init__(self, session, signature_def):
        self._session = session
        self.input_specs = {
            k: tf.TensorSpec(None, tf.as_dtype(v.dtype), name=k) for k, v in signature_def.inputs.items()
        }
        self.output_names = sorted(signature_def.outputs)
        self._feeds = {k: v.name for k, v in signature_def.inputs.items()}
        self._fetches = {k: v.name for k, v in signature_def.outputs.items()}

    def __call__(self, **inputs) -> dict:
        """Input name -> array-like; returns output name -> numpy array."""
        return self._session.run(self._fetches, feed_dict={self._feeds[k]: np.asarray(v) for k, v in inputs.items()})


class LoadedVersion:
    """One loaded SavedModel version: its signatures and their input specs.

    Loaded as ``tensorflow_model_server`` loads it, into a graph and session of
    its own (``tf.compat.v1.saved_model.loader``: the SavedModel's restore and
    init ops, then ``Session.run`` on the signature's tensors), not with
    ``tf.saved_model.load``, which registers every function in the process-wide
    eager context and never frees them: about 100 MB kept per load of the sample
    model, measured (RSS 597 -> 1,548 MB over 8 loads, with ``gc.collect``). A
    graph and session are freed with the version. Loading as the official server
    does also means a model it could not run fails here too, at load (warm-up).
    """

    def __init__(self, path: str, version: int):
        self.path = path
        self.version = version
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, [tf.saved_model.SERVING], path)
        self.signature_defs = {k: v for k, v in meta_graph.signature_def.items() if not k.startswith("__")}
        self.signatures = {k: SessionSignature(self._session, v) for k, v in self.signature_defs.items()}
        # Request features: dtype and whether they may be missing (written at export).
        self.features, self.rules = {}, ValueRules()
        manifest = os.path.join(path, FEATURE_MANIFEST)
        if os.path.exists(manifest):
            with open(manifest) as f:
                entries = json.load(f)
            self.features = {k: (tf.as_dtype(DTYPE_NAMES[v["dtype"]]), v["nullable"]) for k, v in entries.items()}
            self.rules = ValueRules.from_manifest(entries)
        self.warmup_requests = self._warm_up(path)

    MAX_WARMUP_RECORDS = 1000  # TF Serving's limit

    def _warm_up(self, path: str) -> int:
        """Replays the version's ``assets.extra/tf_serving_warmup_requests`` (TF Serving's format) before it
        takes traffic, so no user request pays the first call; as in TF Serving, a failure fails the load.
        Returns the number of requests replayed."""
        from tensorflow_serving.apis import prediction_log_pb2

        file = os.path.join(path, WARMUP_FILE)
        if not os.path.exists(file):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(file).take(self.MAX_WARMUP_RECORDS):
            entry = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if entry.WhichOneof("log_type") != "predict_log":
                raise ValueError(f"{file}: record {count}: only predict_log warm-up requests are supported")
            request = entry.predict_log.request
            signature = self.signatures[request.model_spec.signature_name or DEFAULT_SIGNATURE]
            signature(**{key: tf.make_ndarray(proto) for key, proto in request.inputs.items()})
            count += 1
        return count


class ModelRegistry:
    """Loads the versions under a model base path; the highest loaded one is served by default.

    Never worse than the last good version: the ``keep_versions`` newest versions
    that *load* are served, so a broken, half-written or corrupt version never
    displaces a good one. A version is tried once it is complete: its files
    unchanged for ``settle_seconds`` (the Pusher renames a finished folder into
    place, so its versions are complete at once). A failed load is retried with
    backoff (``RETRY_SECONDS`` doubling up to ``MAX_RETRY_SECONDS``), and at once
    when its files change, so fixing a version in place recovers it. An
    unloaded version is freed once its last request finishes, and the next poll
    hands the memory it held back to the system (``release_freed_memory``).
    """

    RETRY_SECONDS, MAX_RETRY_SECONDS = 2.0, 60.0

    def __init__(
        self,
        model_name: str,
        base_path: str,
        poll_seconds: float = 2.0,
        keep_versions: int = 2,
        settle_seconds: float = 1.0,
        on_load_failure=lambda: None,
    ):
        self.model_name = model_name
        self.base_path = base_path
        self.poll_seconds = poll_seconds
        self.keep_versions = keep_versions
        self.settle_seconds = settle_seconds
        self._versions: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._failed: dict[int, tuple[tuple, float, int]] = {}  # version -> (files, retry at, failures)
        self._retired: list[weakref.ref] = []  # unloaded versions, until their last request lets go
        self.on_load_failure = on_load_failure  # called on each failed load (the server's metrics count them)
        self.refresh()
        self._thread = threading.Thread(target=self._poll, name="version-poller", daemon=True)
        self._thread.start()

    def _on_disk(self) -> list[int]:
        if not os.path.isdir(self.base_path):
            return []
        versions = []
        for name in os.listdir(self.base_path):
            if name.isdigit() and os.path.exists(os.path.join(self.base_path, name, "saved_model.pb")):
                versions.append(int(name))
        return sorted(versions)

    def _files(self, version: int) -> tuple[tuple, float]:
        """(each file's path, size and mtime; the latest change time of any file or folder): a version's state."""
        folder, files, latest = os.path.join(self.base_path, str(version)), [], 0.0
        for root, _, names in os.walk(folder):
            latest = max(latest, os.stat(root).st_ctime)
            for name in names:
                path = os.path.join(root, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:  # removed while we looked: not complete
                    return (), time.time()
                files.append((os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
                latest = max(latest, stat.st_ctime, stat.st_mtime)  # ctime: a copy that keeps mtimes is still new
        return tuple(sorted(files)), latest

    def _try_load(self, version: int) -> LoadedVersion | None:
        files, latest = self._files(version)
        if time.time() - latest < self.settle_seconds:
            return None  # still being written
        failed = self._failed.get(version)
        if failed and failed[0] == files and time.monotonic() < failed[1]:
            return None  # failed as it is now; retried after the backoff, or when its files change
        try:
            loaded = LoadedVersion(os.path.join(self.base_path, str(version)), version)
        except Exception:  # a half-written or broken version must not stop serving
            failures = failed[2] + 1 if failed and failed[0] == files else 1
            wait = min(self.MAX_RETRY_SECONDS, self.RETRY_SECONDS * 2 ** (failures - 1))
            self._failed[version] = (files, time.monotonic() + wait, failures)
            self.on_load_failure()
            log.exception(
                "could not load version %s of %s (failure %d; retry in %.0f s or when its files " "change)",
                version,
                self.model_name,
                failures,
                wait,
            )
            return None
        self._failed.pop(version, None)
        log.info(
            "serving %s version %s (%d warm-up requests replayed)", self.model_name, version, loaded.warmup_requests
        )
        return loaded

    def refresh(self) -> None:
        """Serves the ``keep_versions`` newest versions that load; unloads older ones only once newer ones have."""
        with self._lock:
            loaded = dict(self._versions)
        keep = []
        for version in reversed(self._on_disk()):
            if len(keep) == self.keep_versions:
                break
            if version in loaded:
                keep.append(version)
                continue
            new = self._try_load(version)
            if new is not None:
                with self._lock:
                    self._versions[version] = new
                keep.append(version)
        if keep:  # else nothing loads (yet): keep whatever is served
            with self._lock:
                unloaded = [v for v in self._versions if v not in keep]
                for version in unloaded:
                    self._retired.append(weakref.ref(self._versions.pop(version)))  # requests holding it finish
            if unloaded:
                gc.collect()  # its graph and session: free them now, not at some later collection
        # Once a retired version is gone (its last request done), the memory it held goes back to the system.
        if any(ref() is None for ref in self._retired):
            self._retired = [ref for ref in self._retired if ref() is not None]
            release_freed_memory()

    def _poll(self):
        while not self._stop.wait(self.poll_seconds):
            self.refresh()

    def stop(self):
        self._stop.set()

    def versions(self) -> list[int]:
        with self._lock:
            return sorted(self._versions)

    def get(self, model_spec) -> LoadedVersion:
        if model_spec.name != self.model_name:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({model_spec.name})")
        with self._lock:
            if not self._versions:
                raise RequestError(grpc.StatusCode.UNAVAILABLE, f"No versions of servable {self.model_name} loaded")
            if model_spec.HasField("version"):
                version = model_spec.version.value
                if version not in self._versions:
                    raise RequestError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Servable not found for request: Specific({self.model_name}, {version})",
                    )
                return self._versions[version]
            return self._versions[max(self._versions)]


def release_freed_memory() -> None:
    """Hands the C heap's free memory back to the operating system (glibc's ``malloc_trim``; elsewhere a no-op).

    An unloaded version's graph and session are freed, but glibc keeps the
    freed pages in the arenas of the threads that ran its requests, so under
    load the process grew by tens of MB per swap without leaking anything.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
