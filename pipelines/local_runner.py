"""Runs the GRec pipeline locally with LocalDagRunner (what `tfx run create --engine=local` does).

    python -m pipelines.local_runner [--data-root data/synthetic] [--model grec] [--train-steps 400]

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


def default_paths(root: str = ROOT, dataset: str = "synthetic") -> dict:
    return {
        "data_root": os.path.join(root, "data", dataset),
        "feature_spec_path": os.path.join(root, "schemas", dataset, "feature_spec.yaml"),
        "schema_path": os.path.join(root, "schemas", dataset, "schema.pbtxt"),
        "pipeline_root": os.path.join(root, "pipeline_root", PIPELINE_NAME),
        "serving_model_dir": os.path.join(root, "serving_models", PIPELINE_NAME),
        "metadata_path": os.path.join(root, "pipeline_root", PIPELINE_NAME, "metadata.sqlite"),
    }


def build(paths: dict | None = None, **kwargs) -> tfx.dsl.Pipeline:
    paths = {**default_paths(), **(paths or {})}
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"])
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
    """Builds and runs the pipeline with LocalDagRunner."""
    return tfx.orchestration.LocalDagRunner().run(build(paths, **kwargs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=default_paths()["data_root"])
    parser.add_argument("--model", default="grec")
    parser.add_argument("--hyperparameters", default="{}", help="JSON of model keyword arguments")
    parser.add_argument("--train-steps", type=int, default=400)
    parser.add_argument("--beam-runner", default="direct")
    args = parser.parse_args(argv)
    run(
        {"data_root": args.data_root},
        trainer_config={"model": args.model, "hyperparameters": json.loads(args.hyperparameters)},
        train_steps=args.train_steps,
        beam_pipeline_args=beam.beam_pipeline_args(args.beam_runner),
    )


if __name__ == "__main__":
    main()
