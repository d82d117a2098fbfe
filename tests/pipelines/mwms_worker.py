"""One process of the two-worker MultiWorkerMirroredStrategy test: runs the Trainer's ``run_fn`` the way
TFX runs it on each training replica (TF_CONFIG set by the caller).

    python -m tests.pipelines.mwms_worker TRANSFORM_DIR EXAMPLES_PATTERN OUT_DIR RESULT_JSON
"""

import json
import os
import sys

import numpy as np
import yaml

import schemas

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = schemas.path("synthetic", "feature_spec.yaml")
SMALL_GREC = {
    "dim": 16,
    "num_heads": 2,
    "num_experts": 4,
    "top_k": 2,
    "expert_hidden_dim": 16,
    "tower_hidden_dim": 16,
    "tower_dim": 8,
    "encoder_options": {"text_hidden_dim": 16, "history_hidden_dim": 16},
}


def main(transform_dir, examples_pattern, out_dir, result_path):
    from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
    from tfx_bsl.public import tfxio

    from components.trainer import run_fn

    def tf_dataset_factory(file_pattern, options, schema):
        return tfxio.TFExampleRecord(
            file_pattern=file_pattern, schema=schema, telemetry_descriptors=["grec-test"]
        ).TensorFlowDataset(options)

    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    fn_args = FnArgs(
        train_files=[examples_pattern],
        eval_files=[examples_pattern],
        transform_graph_path=transform_dir,
        serving_model_dir=os.path.join(out_dir, "serving_model"),
        model_run_dir=os.path.join(out_dir, "model_run"),
        train_steps=8,
        eval_steps=2,
        custom_config={
            "feature_spec": spec,
            "model": "grec",
            "hyperparameters": SMALL_GREC,
            "batch_size": 32,
            "epochs": 2,
        },
        data_accessor=DataAccessor(
            tf_dataset_factory=tf_dataset_factory, record_batch_factory=None, data_view_decode_fn=None
        ),
    )
    model = run_fn(fn_args)
    weights = np.concatenate([np.asarray(w).ravel() for w in model.trainable_weights])
    last_epoch = {k: v[-1] for k, v in model.history.history.items()}
    with open(result_path, "w") as f:
        json.dump(
            {
                "task": json.loads(os.environ["TF_CONFIG"])["task"],
                "replicas": model.distribute_strategy.num_replicas_in_sync,
                "weights": weights[:256].tolist(),
                "weight_norm": float(np.linalg.norm(weights)),
                "last_epoch": last_epoch,
            },
            f,
        )


if __name__ == "__main__":
    main(*sys.argv[1:5])
