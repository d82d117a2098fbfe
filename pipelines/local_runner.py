"""Runs the GRec pipeline locally with LocalDagRunner (what `tfx run create --engine=local` does).

    python -m pipelines.local_runner [--data-root data/synthetic] [--model grec] [--train-steps 400]
    python -m pipelines.local_runner --data-root my_data/ --eval-days 7   # one folder of files, split by time
    python -m pipelines.local_runner --dataset aliexpress    # data/aliexpress from data_tools.aliexpress

Paths default to folders under the repository: data/synthetic, pipeline_root/,
serving_models/grec/ (the TF Serving model base path).
"""

from __future__ import annotations

import argparse
import json
import os

from tfx import v1 as tfx

from pipelines import beam
from pipelines.grec_pipeline import create_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = "grec"
# CPU-sized GRec for a run of minutes on a laptop (the paper's width 256 is the library default).
DEFAULT_TRAINER_CONFIG = {
    "model": "grec",
    "hyperparameters": {"dim": 64, "num_heads": 4, "num_experts": 8, "top_k": 4, "expert_hidden_dim": 64,
                        "tower_hidden_dim": 64, "tower_dim": 32,
                        "encoder_options": {"text_hidden_dim": 32, "history_hidden_dim": 32}},
}  # fmt: skip


def default_paths(root: str | None = None, dataset: str = "synthetic") -> dict:
    """Paths of a local run. Data, artifacts and served models go under ``$GREC_HOME``
    (default: the repository); the feature spec and schema are the repository's."""
    root = root or os.environ.get("GREC_HOME", ROOT)
    return {
        "data_root": os.path.join(root, "data", dataset),
        "feature_spec_path": os.path.join(ROOT, "schemas", dataset, "feature_spec.yaml"),
        "schema_path": os.path.join(ROOT, "schemas", dataset, "schema.pbtxt"),
        "pipeline_root": os.path.join(root, "pipeline_root", PIPELINE_NAME),
        "serving_model_dir": os.path.join(root, "serving_models", PIPELINE_NAME),
        "metadata_path": os.path.join(root, "pipeline_root", PIPELINE_NAME, "metadata.sqlite"),
    }


class DataRootError(FileNotFoundError):
    """The data folder cannot feed the pipeline; the message names the folder or file."""


def check_data_root(data_root: str, data_format: str = "csv", time_split: bool = False) -> None:
    """Fails fast, naming what is wrong, before any component runs: a missing split
    folder, a split without files, or a split whose files hold no rows. With
    ``time_split``, the files directly in ``data_root`` are the one input."""
    if time_split:
        if not os.path.isdir(data_root):
            raise DataRootError(f"{data_root}: missing; with a time split the pipeline reads {data_root}/*")
        inputs = [("input", data_root)]
    else:
        inputs = [(split, os.path.join(data_root, split)) for split in ("train", "eval")]
    for split, folder in inputs:
        if not os.path.isdir(folder):
            raise DataRootError(f"{folder}: missing; the pipeline reads {data_root}/train/* and {data_root}/eval/*")
        files = sorted(
            f for f in os.listdir(folder) if not f.startswith(".") and os.path.isfile(os.path.join(folder, f))
        )
        if not files:
            raise DataRootError(f"{folder}: no files in the {split!r} split")
        if data_format == "csv":
            rows = 0
            for name in files:
                with open(os.path.join(folder, name)) as f:
                    rows += sum(1 for _ in zip(range(2), f, strict=False))  # header + at least one row is enough
            if rows < 2:
                raise DataRootError(f"{folder}: the {split!r} split is empty (a header and no rows)")
        elif all(os.path.getsize(os.path.join(folder, name)) == 0 for name in files):
            raise DataRootError(f"{folder}: the {split!r} split is empty")


def build(paths: dict | None = None, **kwargs) -> tfx.dsl.Pipeline:
    paths = {**default_paths(), **(paths or {})}
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"])
    kwargs.setdefault("trainer_config", DEFAULT_TRAINER_CONFIG)
    return create_pipeline(
        pipeline_name=kwargs.pop("pipeline_name", PIPELINE_NAME),
        pipeline_root=paths["pipeline_root"],
        data_root=paths["data_root"],
        feature_spec_path=paths["feature_spec_path"],
        schema_path=paths["schema_path"],
        serving_model_dir=paths["serving_model_dir"],
        metadata_connection_config=metadata,
        beam_pipeline_args=kwargs.pop("beam_pipeline_args", beam.beam_pipeline_args("direct")),
        **kwargs,
    )


def run(paths: dict | None = None, **kwargs):
    """Checks the data folder, then builds and runs the pipeline with LocalDagRunner."""
    data_root = {**default_paths(), **(paths or {})}["data_root"]
    check_data_root(data_root, kwargs.get("data_format", "csv"), time_split=bool(kwargs.get("time_split")))
    return tfx.orchestration.LocalDagRunner().run(build(paths, **kwargs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dataset", default="synthetic", help="schemas/<dataset>/ spec and schema (default: %(default)s)"
    )
    parser.add_argument("--data-root", help="default: $GREC_HOME/data/<dataset>")
    parser.add_argument("--model", default="grec")
    parser.add_argument(
        "--hyperparameters",
        default=json.dumps(DEFAULT_TRAINER_CONFIG["hyperparameters"]),
        help="JSON of model keyword arguments (default: the CPU-sized GRec)",
    )
    parser.add_argument("--train-steps", type=int, default=400)
    parser.add_argument("--beam-runner", default="direct")
    parser.add_argument("--eval-days", type=float, help="split the files in --data-root by time inside ExampleGen: "
                        "the last N days are eval (default: read the train/ and eval/ folders)")  # fmt: skip
    args = parser.parse_args(argv)
    paths = default_paths(dataset=args.dataset)
    if args.data_root:
        paths["data_root"] = args.data_root
    run(
        paths,
        trainer_config={"model": args.model, "hyperparameters": json.loads(args.hyperparameters)},
        train_steps=args.train_steps,
        beam_pipeline_args=beam.beam_pipeline_args(args.beam_runner),
        time_split={"eval_days": args.eval_days} if args.eval_days else None,
    )


if __name__ == "__main__":
    main()
