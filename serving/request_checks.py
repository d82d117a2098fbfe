"""What a Predict request must be before the model runs: its inputs, their shapes and values.

Each rule is written once: a vector's words (``components.row_check.vector_problem``), and the finite
numbers in it, are the rules ExampleGen's quarantine applies to training rows. ``ValueRules`` holds what
the export's feature manifest says of values (task values seen in training, vector lengths);
``check_inputs`` checks one request's tensors and ``_check_examples`` serialized ``tf.Example``s, in a
compiled TensorFlow check for large batches (the same rules as ops) and row by row to name the bad one.
"""

from __future__ import annotations

import dataclasses
import math

import grpc
import numpy as np
import tensorflow as tf

from components.row_check import vector_problem
from serving.calls import RequestError
from serving.contract import EXAMPLES_INPUT, UNSEEN_OUTPUT

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
        return cls(
            known={k: frozenset(v["known_values"]) for k, v in entries.items() if "known_values" in v},
            dims={k: int(v["dim"]) for k, v in entries.items() if "dim" in v},
        )

    def problem(self, name: str, value) -> str | None:
        """Why one value of feature ``name`` cannot be scored, or None."""
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        if name in self.known and self.unseen == "reject" and text not in self.known[name]:
            known = sorted(self.known[name])
            shown = known[:KNOWN_SHOWN] + (["..."] if len(known) > KNOWN_SHOWN else [])
            return (
                f"feature {name!r} has value {text!r}, which the model never saw in training "
                f"(it would get the shared out-of-vocabulary score); known values: {shown}"
            )
        if name in self.dims:
            problem = vector_problem(text, self.dims[name])
            if problem is not None:
                count, word = problem
                if count != self.dims[name]:
                    return f"feature {name!r} holds {count} numbers; the model takes {self.dims[name]}"
                return f"feature {name!r} holds {word!r}, not a finite number"
        return None

    def unseen_count(self, name: str, values) -> np.ndarray:
        """<int32>[B]: 1 where a value of feature ``name`` was never seen in training."""
        known = self.known.get(name)
        if known is None:
            return np.zeros(len(values), np.int32)
        return np.array(
            [(v.decode(errors="replace") if isinstance(v, bytes) else str(v)) not in known for v in values], np.int32
        )


_CHECKERS: dict = {}
PYTHON_CHECK_ROWS = 12  # where the row-by-row walk and the compiled check cost the same, measured here


def _checker(features: dict, rules: ValueRules):
    """A compiled check for one feature manifest: True when every required feature has a value in every
    row, no feature has two, no float value is NaN, and the values meet ``rules`` (a dtype mismatch, a
    malformed proto or a vector word that is no number raises)."""
    key = (
        tuple(sorted((name, dtype.name, nullable) for name, (dtype, nullable) in features.items())),
        tuple(sorted((k, tuple(sorted(v))) for k, v in rules.known.items())) if rules.unseen == "reject" else (),
        tuple(sorted(rules.dims.items())),
    )
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
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"examples[{row}]: feature {name!r} has {len(values)} values; it takes one",
                )
            if kind == "float_list" and any(math.isnan(v) for v in values):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: feature {name!r} is NaN")
            problem = rules.problem(name, values[0]) if rules and values else None
            if problem:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"examples[{row}]: {problem}")


def check_outputs(output_filter, signature, rules: ValueRules) -> None:
    """An ``output_filter`` names only outputs the signature (and the unseen-values flag) has."""
    outputs_known = set(signature.output_names) | ({UNSEEN_OUTPUT} if rules.unseen == "flag" else set())
    unknown_outputs = sorted(set(output_filter) - outputs_known)
    if unknown_outputs:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"output_filter {unknown_outputs} not in the signature's outputs {signature.output_names}",
        )


def check_inputs(
    request_inputs, signature, name: str, features: dict, rules: ValueRules, max_batch_size: int, output_filter=()
):
    """A Predict request's input protos -> (tensors the signature takes, <int32>[B] unseen-value counts or
    None). Every problem raises a RequestError naming input, row and feature; shapes are checked as declared,
    before any tensor is built (a few bytes may declare millions of rows).

    ``features``: the export's manifest, feature -> (dtype, nullable); ``rules``: what values must be;
    ``output_filter``: the outputs asked for, checked after the input names, before any value."""
    specs = signature.input_specs
    missing = sorted(set(specs) - set(request_inputs))
    if missing:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Missing input(s) {missing} for signature {name!r}")
    unknown = sorted(set(request_inputs) - set(specs))
    if unknown:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Unknown input(s) {unknown} for signature {name!r}")
    check_outputs(output_filter, signature, rules)
    unseen = None  # with the flag policy: <int32>[B], how many task values of each row training never saw
    inputs, batch = {}, None
    for key, spec in specs.items():
        value = _input_array(key, request_inputs[key], spec, max_batch_size)
        if batch is not None and len(value) != batch:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: batch {len(value)} != {batch}")
        batch = len(value)
        nullable = features.get(key, (None, True))[1]
        if spec.dtype == tf.float32 and not nullable and np.isnan(value).any():
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r} holds NaN; it is a required feature")
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
    if batch > max_batch_size:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Batch of {batch} rows exceeds the limit of {max_batch_size}"
        )
    if EXAMPLES_INPUT in inputs and specs[EXAMPLES_INPUT].dtype == tf.string:
        _check_examples(inputs[EXAMPLES_INPUT], features, rules)
        if rules.unseen == "flag" and rules.known:
            parsed = tf.io.parse_example(
                inputs[EXAMPLES_INPUT], {k: tf.io.FixedLenFeature([], features[k][0]) for k in rules.known}
            )
            unseen = sum(rules.unseen_count(k, v.numpy()) for k, v in parsed.items())
    return inputs, unseen


def _input_array(key: str, proto, spec, max_batch_size: int) -> np.ndarray:
    """One input's TensorProto as a 1-D array, its dtype and declared shape checked first."""
    if proto.dtype != spec.dtype.as_datatype_enum:
        try:
            got = tf.dtypes.as_dtype(proto.dtype).name
        except TypeError:
            got = f"enum {proto.dtype}, which is no TensorFlow dtype"
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects dtype {spec.dtype.name}, got {got}"
        )
    dims = [d.size for d in proto.tensor_shape.dim]
    if len(dims) != 1:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects shape [batch], got {dims}")
    if dims[0] > max_batch_size:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Batch of {dims[0]} rows exceeds the limit of {max_batch_size} (input {key!r})",
        )
    try:
        value = tf.make_ndarray(proto)
    except Exception as e:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: malformed tensor ({e})") from e
    if value.ndim != 1:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Input {key!r}: expects shape [batch], got {list(value.shape)}"
        )
    return value
