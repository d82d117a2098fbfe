"""A Python client and command line for the TF Serving gRPC API of a pushed GRec model.

One request scores many (context, task) rows::

    python -m serving.client --target localhost:8500 --model grec \
        --row 'user_id=u1,item_id=i2,flow=upgrade,surface=app,price=50' --tasks ctr,atc,cvr

    python -m serving.client --target localhost:8500 --csv rows.csv      # or --json rows.json (a list of objects)

Feature types come from the model's own ``serve_raw`` signature
(``GetModelMetadata``); missing nullable features may be left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

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

from serving.contract import DEFAULT_SIGNATURE, EXAMPLES_INPUT, OUTPUT_KEY, RAW_SIGNATURE


def serialize_rows(rows: list[dict], dtypes: dict) -> list[bytes]:
    """tf.Example bytes for rows of raw features; ``dtypes`` maps feature -> tf.DType.

    Raises:
        ValueError: an unknown feature, or a value that does not fit its type (named).
    """
    out = []
    for i, row in enumerate(rows):
        example = tf.train.Example()
        for name, value in row.items():
            if value is None or value == "":
                continue
            if name not in dtypes:
                raise ValueError(f"row {i}: unknown feature {name!r}; the model takes {sorted(dtypes)}")
            feature = example.features.feature[name]
            try:
                if dtypes[name] == tf.string:
                    feature.bytes_list.value.append(str(value).encode())
                elif dtypes[name] == tf.int64:
                    feature.int64_list.value.append(int(value))
                else:
                    feature.float_list.value.append(float(value))
            except ValueError as e:
                raise ValueError(f"row {i}: feature {name!r}: {value!r} is not a {dtypes[name].name}") from e
        out.append(example.SerializeToString())
    return out


class GRecClient:
    """Talks to tensorflow_model_server or serving.model_server over gRPC."""

    def __init__(
        self,
        target: str,
        model_name: str = "grec",
        timeout: float = 30.0,
        root_certificates=None,
        client_key=None,
        client_cert=None,
    ):
        """``root_certificates`` (PEM bytes): TLS, trusting that authority; with ``client_key`` and
        ``client_cert`` also a client certificate (a server with ``client_verify``)."""
        if root_certificates is None:
            self.channel = grpc.insecure_channel(target)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates, client_key, client_cert)
            self.channel = grpc.secure_channel(target, credentials)
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.model_name = model_name
        self.timeout = timeout
        self._dtypes = None

    def status(self) -> list[tuple[int, str]]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        response = self.models.GetModelStatus(request, timeout=self.timeout)
        return [
            (s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state))
            for s in response.model_version_status
        ]

    def signature_defs(self) -> dict:
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = self.model_name
        request.metadata_field.append("signature_def")
        response = self.predictions.GetModelMetadata(request, timeout=self.timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def feature_dtypes(self) -> dict:
        if self._dtypes is None:
            raw = self.signature_defs()[RAW_SIGNATURE]
            self._dtypes = {name: tf.dtypes.as_dtype(info.dtype) for name, info in raw.inputs.items()}
        return self._dtypes

    def predict_serialized(self, serialized: list[bytes], version: int | None = None):
        """Returns (probabilities <float32>[rows], served version)."""
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = DEFAULT_SIGNATURE
        if version is not None:
            request.model_spec.version.value = version
        request.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto(serialized, dtype=tf.string))
        response = self.predictions.Predict(request, timeout=self.timeout)
        return tf.make_ndarray(response.outputs[OUTPUT_KEY]), response.model_spec.version.value

    def predict(self, rows: list[dict], version: int | None = None) -> np.ndarray:
        """Probability of each row's main task."""
        return self.predict_serialized(serialize_rows(rows, self.feature_dtypes()), version)[0]

    def close(self):
        self.channel.close()


def _parse_row(text: str) -> dict:
    row = {}
    for pair in text.split(","):
        if "=" not in pair:
            raise ValueError(f"--row takes key=value pairs separated by commas. Received: `{pair}`")
        key, value = pair.split("=", 1)
        row[key.strip()] = value
    return row


def format_scores(rows: list[dict], scores: np.ndarray, keys=("task", "flow", "surface", "user_id", "item_id")) -> str:
    shown = [k for k in keys if any(k in r for r in rows)]
    lines = ["  ".join(f"{k:<10}" for k in shown) + "  probability"]
    for row, score in zip(rows, scores, strict=False):
        lines.append("  ".join(f"{str(row.get(k, '')):<10}" for k in shown) + f"  {score:.4f}")
    return "\n".join(lines)


def _read_bytes(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="localhost:8500")
    parser.add_argument("--model", default="grec")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--row", help="one context as key=value,key=value")
    source.add_argument("--csv", help="CSV file with a header of feature names")
    source.add_argument("--json", help="JSON file holding a list of objects")
    parser.add_argument("--tasks", help="score the row(s) for each of these main tasks (comma-separated)")
    parser.add_argument("--ssl_root_cert", help="PEM file of the authority the server's certificate chains to: TLS")
    parser.add_argument(
        "--ssl_client_key",
        help="with --ssl_client_cert: PEM files of a client certificate " "(a server with client_verify)",
    )
    parser.add_argument("--ssl_client_cert")
    args = parser.parse_args(argv)
    try:
        if args.row:
            rows = [_parse_row(args.row)]
        elif args.csv:
            with open(args.csv, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            with open(args.json) as f:
                rows = json.load(f)
        if args.tasks:
            rows = [dict(row, task=task) for row in rows for task in args.tasks.split(",")]
        pem = {
            name: _read_bytes(getattr(args, name)) for name in ("ssl_root_cert", "ssl_client_key", "ssl_client_cert")
        }
        if (pem["ssl_client_key"] or pem["ssl_client_cert"]) and not pem["ssl_root_cert"]:
            raise ValueError("--ssl_client_key/--ssl_client_cert need --ssl_root_cert (TLS)")
        client = GRecClient(
            args.target,
            args.model,
            root_certificates=pem["ssl_root_cert"],
            client_key=pem["ssl_client_key"],
            client_cert=pem["ssl_client_cert"],
        )
        scores = client.predict(rows)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except grpc.RpcError as e:
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    print(format_scores(rows, scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
