"""Compiles the GRec pipeline for Kubeflow Pipelines (v2) into a pipeline JSON.

    python -m pipelines.kubeflow_runner --image gcr.io/PROJECT/grec:1 --spec my_spec/feature_spec.yaml \
        --model grec --pipeline-root gs://BUCKET/grec --data-root gs://BUCKET/data \
        --serving-model-dir gs://BUCKET/serving/grec --output grec_pipeline.json

The pipeline is built as every runner builds it (``pipelines.config.build``: the model's preset with
``--hyperparameters`` applied, the same components and checks); the spec and schema are read here, at
compile time, and travel inside the JSON. Submit the JSON with the KFP SDK
(``kfp.Client().create_run_from_pipeline_package``) or upload it in the Kubeflow Pipelines / Vertex AI
Pipelines UI. The image is the repository's Dockerfile (the TFX 1.16 image with grec installed).
"""

from __future__ import annotations

import argparse
import json
import os

import schemas
from pipelines import beam, config


def build_pipeline(
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    dataset: str = "synthetic",
    trainer_config: dict | None = None,
    beam_runner: str = "dataflow",
    beam_options: dict | None = None,
    spec: str | None = None,
    **options,
):
    """The pipeline Kubeflow runs: ``config.build`` over these paths, without a local metadata store.
    ``spec``: a feature spec file (its schema.pbtxt beside it; default: the shipped ``dataset``'s);
    ``options``: more of ``config.build``'s (``train_steps``, ``task_gates``, ...)."""
    spec = os.path.abspath(spec) if spec else schemas.path(dataset, "feature_spec.yaml")
    paths = {
        "pipeline_root": pipeline_root,
        "data_root": data_root,
        "serving_model_dir": serving_model_dir,
        "feature_spec_path": spec,
        "schema_path": os.path.join(os.path.dirname(spec), "schema.pbtxt"),
    }
    return config.build(
        paths,
        metadata=False,
        trainer_config=trainer_config,
        beam_pipeline_args=beam.beam_pipeline_args(beam_runner, **(beam_options or {})),
        **options,
    )


def compile_pipeline(output: str, image: str, *args, **kwargs) -> str:
    """Writes the pipeline JSON of ``build_pipeline(*args, **kwargs)`` to ``output``; returns its path."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output)),
        output_filename=os.path.basename(output),
    )
    runner.run(build_pipeline(*args, **kwargs), write_out=True)
    return output


def main(argv=None) -> int:
    from models import MODEL_NAMES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, help="the container image every component runs in")
    parser.add_argument("--pipeline-root", required=True)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--serving-model-dir", required=True)
    parser.add_argument("--spec", help="your feature spec (schema.pbtxt beside it); default: --dataset's")
    parser.add_argument("--dataset", default="synthetic", help="a shipped spec (default: %(default)s)")
    parser.add_argument(
        "--model",
        default=config.DEFAULT_MODEL,
        choices=MODEL_NAMES,
        metavar="MODEL",
        help=f"{', '.join(MODEL_NAMES)} (default: %(default)s)",
    )
    parser.add_argument("--preset", default="small", help="small (default) or paper (D=256)")
    parser.add_argument("--hyperparameters", default="{}", help="JSON overriding keys of the model's preset")
    parser.add_argument("--train-steps", type=int, help="at most this many training steps (early stopping)")
    parser.add_argument(
        "--span-pattern",
        help="a data root of spans: TFX's folder pattern, span-{SPAN} or {YYYY}-{MM}-{DD} (pipelines/spans.py); "
        "each run ingests the newest span",
    )
    parser.add_argument("--train-spans", type=int, metavar="N", help="Transform and Trainer read the latest N spans")
    parser.add_argument("--warm-start", action="store_true", help="start from the last blessed model's weights")
    parser.add_argument("--output", default="grec_pipeline.json")
    beam.add_arguments(parser, "dataflow")
    args = parser.parse_args(argv)
    try:
        trainer = config.trainer_config(args.model, json.loads(args.hyperparameters), args.preset)
        beam_options = beam.parse_options(args.beam_option)
    except (ValueError, json.JSONDecodeError) as e:
        parser.error(str(e))
    path = compile_pipeline(
        args.output,
        args.image,
        args.pipeline_root,
        args.data_root,
        args.serving_model_dir,
        dataset=args.dataset,
        trainer_config=trainer,
        beam_runner=args.beam_runner,
        beam_options=beam_options,
        spec=args.spec,
        train_steps=args.train_steps,
        span_pattern=args.span_pattern,
        train_spans=args.train_spans,
        warm_start=args.warm_start,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
