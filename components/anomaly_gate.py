"""A gate after ExampleValidator: anomalies in any split stop the run, naming feature and anomaly."""
# No `from __future__ import annotations`: TFX reads the component signature's type hints at import.

import glob
import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx


class DataAnomaliesError(RuntimeError):
    """The data disagree with the curated schema; the message lists split, feature, anomaly."""


def read_anomalies(anomalies_uri: str) -> "dict[str, anomalies_pb2.Anomalies]":
    """Split name -> Anomalies proto, from an ExampleAnomalies artifact folder."""
    found = {}
    for path in sorted(glob.glob(os.path.join(anomalies_uri, "Split-*", "SchemaDiff.pb"))):
        proto = anomalies_pb2.Anomalies()
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
        found[os.path.basename(os.path.dirname(path))[len("Split-") :]] = proto
    return found


def describe(anomalies: "dict[str, anomalies_pb2.Anomalies]") -> "list[str]":
    lines = []
    for split, proto in anomalies.items():
        for feature, info in sorted(proto.anomaly_info.items()):
            reasons = "; ".join(r.description or r.short_description for r in info.reason) or info.description
            lines.append(f"split {split!r}, feature {feature!r}: {info.short_description} ({reasons})")
        if proto.HasField("dataset_anomaly_info"):
            info = proto.dataset_anomaly_info
            lines.append(f"split {split!r}, whole data set: {info.short_description} ({info.description})")
    return lines


@tfx.dsl.components.component
def AnomalyGate(anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies]):
    """Fails the run when ExampleValidator found anomalies in any split."""
    problems = describe(read_anomalies(anomalies.uri))
    if problems:
        raise DataAnomaliesError(
            "ExampleValidator found anomalies; the run stops before Transform and Trainer:\n  - "
            + "\n  - ".join(problems)
            + f"\n(details: {anomalies.uri})"
        )
