"""Compiles the GRec pipeline for Kubeflow Pipelines (v2) into a pipeline JSON.

    python -m pipelines.kubeflow_runner --image gcr.io/PROJECT/grec:latest \
        --pipeline-root gs://BUCKET/grec --data-root gs://BUCKET/data/synthetic --output grec_pipeline.json

Submit the JSON with the KFP SDK (``kfp.Client().create_run_from_pipeline_package``)
or upload it in the Kubeflow Pipelines / Vertex AI Pipelines UI. The image must
contain this repository (on PYTHONPATH) and requirements.txt.
"""

from __future__ import annotations

import argparse
import os

import schemas
from pipelines import beam
from pipelines.grec_pipeline import create_pipeline


def compile_pipeline(
    output: str,
    image: str,
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    dataset: str = "synthetic",
    trainer_config: dict | None = None,
    beam_runner: str = "dataflow",
    beam_options: dict | None = None,
) -> str:
    """Writes the pipeline JSON to ``output`` and returns its path."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output)),
        output_filename=os.path.basename(output),
    )
    runner.run(
        create_pipeline(
            pipeline_name="grec",
            pipeline_root=pipeline_root,
            data_root=data_root,
            # Spec and schema are read at compile time; the spec travels in custom_config.
            feature_spec_path=schemas.path(dataset, "feature_spec.yaml"),
            schema_path=schemas.path(dataset, "schema.pbtxt"),
            serving_model_dir=serving_model_dir,
            trainer_config=trainer_config,
            beam_pipeline_args=beam.beam_pipeline_args(beam_runner, **(beam_options or {})),
        ),
        write_out=True,
    )
    return output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True)
    parser.add_argument("--pipeline-root", required=True)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--serving-model-dir", required=True)
    parser.add_argument("--output", default="grec_pipeline.json")
    parser.add_argument("--beam-runner", default="dataflow")
    args = parser.parse_args(argv)
    print(
        compile_pipeline(
            args.output,
            args.image,
            args.pipeline_root,
            args.data_root,
            args.serving_model_dir,
            beam_runner=args.beam_runner,
        )
    )


if __name__ == "__main__":
    main()
