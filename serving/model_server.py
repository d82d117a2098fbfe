"""A TF Serving-compatible gRPC server for the pushed model, for machines without ``tensorflow_model_server``.

The production server is the official ``tensorflow_model_server`` (see the
README). Where it cannot be installed (no binary on the package registries,
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
import ctypes
import dataclasses
import gc
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import weakref
from concurrent import futures

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
from serving.contract import (
    DEFAULT_SIGNATURE,
    DTYPE_NAMES,
    EXAMPLES_INPUT,
    FEATURE_MANIFEST,
    UNSEEN_OUTPUT,
    WARMUP_FILE,
)
from serving.metrics import METRICS_PATH, ServerMetrics

log = logging.getLogger("grec.model_server")
DTYPES = {name: tf.as_dtype(dtype) for name, dtype in DTYPE_NAMES.items()}
UNSEEN_POLICIES = ("reject", "flag")  # with flag: UNSEEN_OUTPUT counts per row the task values training never saw
KNOWN_SHOWN = 20  # known values quoted in an error


@dataclasses.dataclass
class ValueRules:
    """What a request's values must be beyond their dtype (from the export's feature manifest).

    ``known``: task and auxiliary-task feature -> the values seen in training (as text); another value
    would be scored with one shared out-of-vocabulary embedding, a silent wrong answer, so it is refused
    (``reject``) or counted in the response's ``unseen_values`` output (``flag``).
    ``dims``: image-embedding feature -> how many finite numbers its text must hold (Transform would
    pad or cut another length, and "nan" would make the probability NaN).
    """

    known: dict = dataclasses.field(default_factory=dict)
    dims: dict = dataclasses.field(default_factory=dict)
    unseen: str = "reject"

    @classmethod
    def from_manifest(cls, entries: dict) -> ValueRules:
        return cls(known={k: frozenset(v["known_values"]) for k, v in entries.items() if "known_values" in v},
                   dims={k: int(v["dim"]) for k, v in entries.items() if "dim" in v})  # fmt: skip

    def problem(self, name: str, value) -> str | None:
        """Why one value of feature ``name`` cannot be scored, or None."""
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        if name in self.known and self.unseen == "reject" and text not in self.known[name]:
            known = sorted(self.known[name])
            shown = known[:KNOWN_SHOWN] + (["..."] if len(known) > KNOWN_SHOWN else [])
            return (f"feature {name!r} has value {text!r}, which the model never saw in training "
                    f"(it would get the shared out-of-vocabulary score); known values: {shown}")  # fmt: skip
        if name in self.dims:
            numbers = text.split()
            if len(numbers) != self.dims[name]:
                return f"feature {name!r} holds {len(numbers)} numbers; the model takes {self.dims[name]}"
            for token in numbers:
                try:
                    ok = math.isfinite(float(token))
                except ValueError:
                    ok = False
                if not ok:
                    return f"feature {name!r} holds {token!r}, not a finite number"
        return None

    def unseen_count(self, name: str, values) -> np.ndarray:
        """<int32>[B]: 1 where a value of feature ``name`` was never seen in training."""
        known = self.known.get(name)
        if known is None:
            return np.zeros(len(values), np.int32)
        return np.array([(v.decode(errors="replace") if isinstance(v, bytes) else str(v)) not in known
                         for v in values], np.int32)  # fmt: skip


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
            self.features = {k: (DTYPES[v["dtype"]], v["nullable"]) for k, v in entries.items()}
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

    def __init__(self, model_name: str, base_path: str, poll_seconds: float = 2.0, keep_versions: int = 2,
                 settle_seconds: float = 1.0, on_load_failure=lambda: None):  # fmt: skip
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
            log.exception("could not load version %s of %s (failure %d; retry in %.0f s or when its files "
                          "change)", version, self.model_name, failures, wait)  # fmt: skip
            return None
        self._failed.pop(version, None)
        log.info("serving %s version %s (%d warm-up requests replayed)", self.model_name, version,
                 loaded.warmup_requests)  # fmt: skip
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


_CHECKERS: dict = {}
PYTHON_CHECK_ROWS = 12  # where the row-by-row walk and the compiled check cost the same, measured here


def _checker(features: dict, rules: ValueRules):
    """A compiled check for one feature manifest: True when every required feature has a value in every
    row, no feature has two, no float value is NaN, and the values meet ``rules`` (a dtype mismatch, a
    malformed proto or a vector word that is no number raises)."""
    key = (tuple(sorted((name, dtype.name, nullable) for name, (dtype, nullable) in features.items())),
           tuple(sorted((k, tuple(sorted(v))) for k, v in rules.known.items())) if rules.unseen == "reject" else (),
           tuple(sorted(rules.dims.items())))  # fmt: skip
    if key not in _CHECKERS:
        specs = {name: tf.io.VarLenFeature(dtype) for name, (dtype, _) in features.items()}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def check(serialized):
            parsed = tf.io.parse_example(serialized, specs)
            rows = tf.size(serialized)
            good = tf.constant(True)
            for name, (dtype, nullable) in features.items():
                rows_with_values = tf.size(tf.unique(parsed[name].indices[:, 0])[0])
                good = good & tf.equal(tf.size(parsed[name].values), rows_with_values)  # one value a row at most
                if not nullable:
                    good = good & tf.equal(rows_with_values, rows)
                if dtype == tf.float32:
                    good = good & ~tf.reduce_any(tf.math.is_nan(parsed[name].values))
            if rules.unseen == "reject":
                for name, known in rules.known.items():
                    values = parsed[name].values
                    text = values if values.dtype == tf.string else tf.strings.as_string(values)
                    allowed = tf.constant(sorted(known), tf.string)
                    good = good & tf.reduce_all(tf.reduce_any(tf.equal(text[:, None], allowed[None, :]), axis=1))
            for name, dim in rules.dims.items():
                words = tf.strings.split(parsed[name].values)
                good = good & tf.reduce_all(tf.equal(words.row_lengths(), dim))
                good = good & tf.reduce_all(tf.math.is_finite(tf.strings.to_number(words.flat_values)))
            return good

        _CHECKERS[key] = check
    return _CHECKERS[key]


def _check_examples(serialized, features: dict, rules: ValueRules | None = None) -> None:
    """Validates serialized tf.Examples: parseable, required features present, one value each, typed, no
    NaN, and the values ``rules`` asks for (known task values, vectors of the right length).

    Small batches are walked row by row in Python (0.05 ms a row). Larger ones are
    checked by one compiled ``tf.io.parse_example`` (0.5 ms at 1 row, 0.8 ms at
    256, against 11.8 ms for the Python walk, about half of such a request's
    time); only a batch with a problem is then walked, to name the row and feature.
    """
    tensor = serialized if tf.is_tensor(serialized) else tf.constant(list(serialized), tf.string)
    serialized = tensor.numpy()
    rules = rules or ValueRules()
    if len(serialized) <= PYTHON_CHECK_ROWS:
        _find_bad_example(serialized, features, rules)
        return
    try:
        good = bool(_checker(features, rules)(tensor))
    # A malformed proto: TensorFlow raises InvalidArgumentError, or UnicodeDecodeError when the
    # bytes it quotes in that error's message are not UTF-8.
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        _find_bad_example(serialized, features, rules)
        raise
    if not good:
        _find_bad_example(serialized, features, rules)


def _find_bad_example(serialized: np.ndarray, features: dict, rules: ValueRules | None = None) -> None:
    """Row by row in Python: raises a RequestError naming the first bad row and feature."""
    kinds = {tf.string: "bytes_list", tf.int64: "int64_list", tf.float32: "float_list"}
    for row, blob in enumerate(serialized):
        try:
            example = tf.train.Example.FromString(bytes(blob))
        except Exception as e:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: not a serialized tf.Example ({e})"
            ) from e
        present = example.features.feature
        for name, (dtype, nullable) in features.items():
            if name not in present or present[name].WhichOneof("kind") is None:
                if not nullable:
                    raise RequestError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: required feature {name!r} is missing"
                    )
                continue
            kind = present[name].WhichOneof("kind")
            if kind is not None and kind != kinds[dtype]:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"examples[{row}]: feature {name!r} is a {kind}, expected a {kinds[dtype]}",
                )
            values = getattr(present[name], kind).value
            if len(values) > 1:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"examples[{row}]: feature {name!r} has {len(values)} values; it takes one")  # fmt: skip
            if kind == "float_list" and any(math.isnan(v) for v in values):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: feature {name!r} is NaN")
            problem = rules.problem(name, values[0]) if rules and values else None
            if problem:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: {problem}")


def _grpc(metrics: ServerMetrics, method: str, fn, request, context):
    """``serve_call`` over gRPC: a RequestError aborts the call with its status code."""
    try:
        return serve_call(metrics, "grpc", method, fn, request)
    except RequestError as e:
        context.abort(e.code, str(e))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata: ``predict`` and ``metadata`` are the API-free calls the REST API shares."""

    def __init__(self, registry: ModelRegistry, max_batch_size: int = 4096, unseen_values: str = "reject",
                 metrics: ServerMetrics | None = None):  # fmt: skip
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
        if request.model_spec.WhichOneof("version_choice") == "version_label":
            # TF Serving serves a label only when its config assigns it; this server assigns none.
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unrecognized servable version label: {request.model_spec.version_label}; this server assigns no "
                "version labels (ask for a version number, or none for the newest)",
            )
        loaded = self.registry.get(request.model_spec)
        rules = dataclasses.replace(loaded.rules, unseen=self.unseen_values)
        unseen = None  # with the flag policy: <int32>[B], how many task values of each row training never saw
        name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = loaded.signatures.get(name)
        if signature is None:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Serving signature key "{name}" not found. Available: {sorted(loaded.signatures)}',
            )
        specs = signature.input_specs
        missing = sorted(set(specs) - set(request.inputs))
        if missing:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Missing input(s) {missing} for signature {name!r}")
        unknown = sorted(set(request.inputs) - set(specs))
        if unknown:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Unknown input(s) {unknown} for signature {name!r}")
        outputs_known = set(signature.output_names) | ({UNSEEN_OUTPUT} if rules.unseen == "flag" else set())
        unknown_outputs = sorted(set(request.output_filter) - outputs_known)
        if unknown_outputs:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"output_filter {unknown_outputs} not in the signature's outputs {signature.output_names}",
            )
        inputs, batch = {}, None
        for key, spec in specs.items():
            proto = request.inputs[key]
            if proto.dtype != spec.dtype.as_datatype_enum:
                try:
                    got = tf.dtypes.as_dtype(proto.dtype).name
                except TypeError:
                    got = f"enum {proto.dtype}, which is no TensorFlow dtype"
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects dtype {spec.dtype.name}, got {got}"
                )
            # The declared shape is checked before any tensor is built: a few bytes may declare millions of rows.
            dims = [d.size for d in proto.tensor_shape.dim]
            if len(dims) != 1:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects shape [batch], got {dims}"
                )
            if dims[0] > self.max_batch_size:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Batch of {dims[0]} rows exceeds the limit of {self.max_batch_size} (input {key!r})",
                )
            try:
                value = tf.make_ndarray(proto)
            except Exception as e:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: malformed tensor ({e})") from e
            if value.ndim != 1:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects shape [batch], got {list(value.shape)}"
                )
            if batch is not None and len(value) != batch:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: batch {len(value)} != {batch}")
            batch = len(value)
            nullable = loaded.features.get(key, (None, True))[1]
            if spec.dtype == tf.float32 and not nullable and np.isnan(value).any():
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r} holds NaN; it is a required feature"
                )
            if key in rules.known or key in rules.dims:
                for row, item in enumerate(value):
                    problem = rules.problem(key, item) if not (nullable and item in (b"", "")) else None
                    if problem:
                        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}[{row}]: {problem}")
                if rules.unseen == "flag" and key in rules.known:
                    unseen = (0 if unseen is None else unseen) + rules.unseen_count(key, value)
            inputs[key] = tf.constant(value, dtype=spec.dtype)
        if not batch:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "Empty batch: send at least one row")
        if batch > self.max_batch_size:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT, f"Batch of {batch} rows exceeds the limit of {self.max_batch_size}"
            )
        if EXAMPLES_INPUT in inputs and specs[EXAMPLES_INPUT].dtype == tf.string:
            _check_examples(inputs[EXAMPLES_INPUT], loaded.features, rules)
            if rules.unseen == "flag" and rules.known:
                parsed = tf.io.parse_example(inputs[EXAMPLES_INPUT], {
                    k: tf.io.FixedLenFeature([], loaded.features[k][0]) for k in rules.known})  # fmt: skip
                unseen = sum(rules.unseen_count(k, v.numpy()) for k, v in parsed.items())
        outputs = signature(**inputs)
        if unseen is not None:
            outputs[UNSEEN_OUTPUT] = np.asarray(unseen, np.int32)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.registry.model_name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            if request.output_filter and key not in request.output_filter:
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


def build_server(model_name: str, base_path: str, port: int, max_workers: int = 4, max_queue: int = 64,
                 max_batch_size: int = 4096, poll_seconds: float = 2.0, settle_seconds: float = 1.0,
                 host: str = "127.0.0.1", unseen_values: str = "reject", rest_api_port: int | None = None,
                 grpc_arguments: dict | None = None, ssl_config=None) -> Server:  # fmt: skip
    """A model server, not started; ``rest_api_port`` 0 picks a free port, None serves no REST API;
    ``ssl_config``: an ``SSLConfig`` (``serving.tls``), gRPC over TLS.

    Raises:
        OSError: a port is taken (gRPC would otherwise share it with the other process: SO_REUSEPORT).
    """
    from serving.rest_api import RestServer

    arguments = grpc_arguments or dict(DEFAULT_CHANNEL_ARGUMENTS)
    metrics = ServerMetrics(versions=lambda: len(registry.versions()))
    registry = ModelRegistry(model_name, base_path, poll_seconds, settle_seconds=settle_seconds,
                             on_load_failure=metrics.load_failures.inc)  # fmt: skip
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
            rest = RestServer(prediction, models, metrics, host, rest_api_port, max_queue,
                              body_limit if body_limit > 0 else 2**31 - 1)  # fmt: skip
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
    parser.add_argument("--host", default="127.0.0.1", help="(not a tensorflow_model_server flag) the address to "
                        "bind: 0.0.0.0 for every interface (with --ssl_config_file for TLS; see the README)")  # fmt: skip
    parser.add_argument("--ssl_config_file", default="",
                        help="a text-format tensorflow.serving.SSLConfig (server_key, server_cert, custom_ca, "
                        "client_verify): gRPC over TLS, mutual with client_verify; the REST API stays plain HTTP")  # fmt: skip
    parser.add_argument("--model_name", default="grec")
    parser.add_argument("--model_base_path", required=True)
    parser.add_argument("--max_batch_size", type=int, default=4096)
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=2.0)
    parser.add_argument("--version_settle_seconds", type=float, default=1.0,
                        help="(not a tensorflow_model_server flag) a version is loaded once its files have not "
                        "changed for this long")  # fmt: skip
    parser.add_argument("--unseen_values", choices=UNSEEN_POLICIES, default="reject",
                        help="(not a tensorflow_model_server flag) a task or auxiliary-task value the model never saw "
                        "in training: reject the request (INVALID_ARGUMENT naming feature and known values), or flag: "
                        f"score it with the shared out-of-vocabulary embedding and count it per row in the "
                        f"{UNSEEN_OUTPUT!r} output (default: %(default)s)")  # fmt: skip
    parser.add_argument("--rest_api_port", type=int, default=0,
                        help=f"TF Serving's REST API and the Prometheus metrics ({METRICS_PATH}) on this port; 0: none")  # fmt: skip
    parser.add_argument("--grpc_channel_arguments", default="",
                        help="key=value,... gRPC server arguments, e.g. grpc.max_receive_message_length=134217728 "
                        "(default 64 MiB, also the REST body limit)")  # fmt: skip
    parser.add_argument("--log_level", default="info", choices=("debug", "info", "warning"),
                        help="(not a tensorflow_model_server flag) debug: one access-log line per request")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        ssl_config = None
        if args.ssl_config_file:
            from serving.tls import load_ssl_config

            ssl_config = load_ssl_config(args.ssl_config_file)
        server = build_server(
            args.model_name, os.path.abspath(args.model_base_path), args.port, max_batch_size=args.max_batch_size,
            poll_seconds=args.file_system_poll_wait_seconds, settle_seconds=args.version_settle_seconds, host=args.host,
            unseen_values=args.unseen_values, rest_api_port=args.rest_api_port or None,
            grpc_arguments=channel_arguments(args.grpc_channel_arguments), ssl_config=ssl_config,
        )  # fmt: skip
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
