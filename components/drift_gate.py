"""Drift between days: the new span's statistics against the last accepted span's, with TFDV's comparators.

ExampleValidator compares a run's statistics with the curated schema only. Retraining every day also needs
the day-to-day check: a categorical whose value shares moved (L-infinity distance of the two distributions)
or a numerical whose histogram moved (Jensen-Shannon divergence) is a broken client or a changed log
format more often than a changed world. ``DriftGate`` sets TFDV's drift comparators on the schema for the
spec's features, runs ``tfdv.validate_statistics`` with the baseline as ``previous_statistics`` on the
``train`` split, and stops the run before Transform naming feature, distance and threshold.

The baseline is the statistics of the last span whose run passed this gate: the gate copies the statistics
it accepted to its ``accepted`` output, and the pipeline resolves the latest of those (a failed execution
publishes nothing), so a drifted day is never the next day's baseline. The first run has no baseline and
passes.
"""
# No `from __future__ import annotations`: TFX reads the component signature's type hints at import.

import json
import os
import shutil

from tfx import v1 as tfx

DEFAULT_CATEGORICAL_THRESHOLD = 0.3  # L-infinity: some value's share moved by more than 30 points
DEFAULT_NUMERICAL_THRESHOLD = 0.3  # Jensen-Shannon divergence of the two histograms (0 same, 1 disjoint)
SPLIT = "train"  # the split compared (eval is a later part of the same span)


class LatestIfAny(tfx.dsl.experimental.LatestArtifactStrategy):
    """TFX's latest-artifact strategy, resolving to nothing (not to an input-resolution error in the log) on a
    first run, when no span has been accepted yet."""

    def resolve_artifacts(self, store, input_dict):
        return self._resolve(input_dict)


class DataDriftError(RuntimeError):
    """The new span's data moved beyond a threshold from the last accepted span's; the message names each
    feature, its distance and the threshold."""


def drift_kinds(spec: dict) -> "dict[str, str]":
    """Feature -> ``categorical`` or ``numerical``: the spec's id columns and numerical columns. An id column
    of integers (codes) is compared as ``numerical``, by its histogram: TFDV's statistics hold the value
    shares that L-infinity needs only for strings (or integers the schema marks ``is_categorical``)."""
    from components.roles import ROLE_TABLE

    kinds = {}
    for name, column in spec["columns"].items():
        if ROLE_TABLE[column["role"]].ids:
            kinds[name] = "categorical" if column.get("dtype", "string") == "string" else "numerical"
        elif column["role"] == "numerical":
            kinds[name] = "numerical"
    return kinds


def find_drift(current_uri: str, baseline_uri: str, schema_uri: str, kinds: dict, thresholds: dict) -> "list[str]":
    """One line per drifted feature of split ``SPLIT``: name, comparator, distance, threshold."""
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    with open(os.path.join(schema_uri, "schema.pbtxt")) as f:
        text_format.Parse(f.read(), schema)
    for feature in schema.feature:
        kind = kinds.get(feature.name)
        threshold = thresholds.get(kind, 0)
        if kind == "categorical" and threshold > 0:
            feature.drift_comparator.infinity_norm.threshold = threshold
        elif kind == "numerical" and threshold > 0:
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold

    def load(uri):
        return tfdv.load_stats_binary(os.path.join(uri, f"Split-{SPLIT}", "FeatureStats.pb"))

    anomalies = tfdv.validate_statistics(load(current_uri), schema, previous_statistics=load(baseline_uri))
    lines = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for measurement in info.drift_measurements:
            if measurement.value > measurement.threshold:
                kind = "L-infinity distance" if kinds.get(name) == "categorical" else "Jensen-Shannon divergence"
                lines.append(
                    f"feature {name!r}: {kind} {measurement.value:.3f} from the last accepted span "
                    f"(threshold {measurement.threshold:g})"
                )
    return lines


def _span(examples) -> int:
    """The span ExampleGen's driver recorded (a custom property, an int or, from older drivers, a string)."""
    if examples.has_custom_property("span"):
        value = examples.get_custom_property("span")
        return int(value)
    return int(examples.span)


@tfx.dsl.components.component
def DriftGate(
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    accepted: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    kinds: tfx.dsl.components.Parameter[str],
    categorical_threshold: tfx.dsl.components.Parameter[float] = DEFAULT_CATEGORICAL_THRESHOLD,
    numerical_threshold: tfx.dsl.components.Parameter[float] = DEFAULT_NUMERICAL_THRESHOLD,
    baseline: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics] = None,
):
    """Stops the run when the span drifted from the last accepted one; else passes its statistics on."""
    thresholds = {"categorical": categorical_threshold, "numerical": numerical_threshold}
    span = _span(examples)
    if baseline is not None:
        problems = find_drift(statistics.uri, baseline.uri, schema.uri, json.loads(kinds), thresholds)
        if problems:
            raise DataDriftError(
                f"span {span} drifted from span {baseline.span}, the last accepted one; the run stops "
                "before Transform and Trainer:\n  - "
                + "\n  - ".join(problems)
                + f"\n(statistics: {statistics.uri}; baseline: {baseline.uri}; thresholds: --drift-categorical / "
                "--drift-numerical, 0 turns one off)"
            )
    shutil.copytree(statistics.uri, accepted.uri, dirs_exist_ok=True)
    accepted.split_names = statistics.split_names
    accepted.span = span  # StatisticsGen leaves its own span 0: the day's span, for the next day
