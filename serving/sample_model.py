"""A small exported GRec (Transform graph inside) from the checked-in sample, for tests and benchmarks.

No pipeline run needed: Transform is analysed on ``schemas/synthetic/sample.csv``,
a small GRec is trained one epoch on random inputs, and the serving signatures
are exported under ``<root>/models/grec/1``.
"""

from __future__ import annotations

import dataclasses
import os

import schemas

SAMPLE = schemas.path("synthetic", "sample.csv")
SPEC = schemas.path("synthetic", "feature_spec.yaml")
SCHEMA = schemas.path("synthetic", "schema.pbtxt")
SMALL = dict(
    dim=16,
    num_heads=2,
    num_experts=4,
    top_k=2,
    expert_hidden_dim=16,
    tower_hidden_dim=16,
    tower_dim=8,
    block_size=4,
    encoder_options=dict(text_hidden_dim=8, history_hidden_dim=8),
)


# One raw request row of the synthetic data set (task examples), for tests and benchmarks.
SAMPLE_ROW = dict(
    task="ctr",
    flow="upgrade",
    surface="app",
    user_id="u0",
    item_id="i0",
    region="r1",
    device=2,
    price=52.4,
    tenure_days=535.6,
    data_gb=17.2,
    discount=0.3,
    query="c0x2 c0x3 w102",
    hist_items="i2096 i1351",
    image_emb=" ".join(["0.1"] * 16),
)


@dataclasses.dataclass
class SampleModel:
    """The model base path and what produced it."""

    base_path: str
    model: object
    transform_output: object
    spec: object
    input_config: object

    def transformed(self, rows) -> dict:
        """Raw rows -> the model's input features: parse as tf.Examples, then the Transform layer."""
        import tensorflow as tf

        from components.signatures import DTYPES
        from serving.client import serialize_rows

        dtypes = {c.name: DTYPES[c.dtype] for c in self.spec.feature_columns}
        raw_spec = self.transform_output.raw_feature_spec()
        parsed = tf.io.parse_example(serialize_rows(rows, dtypes), {name: raw_spec[name] for name in dtypes})
        transformed = self.transform_output.transform_features_layer()(parsed)
        return {k: transformed[k] for k in self.input_config.feature_names()}

    def in_process(self, rows):
        """The model's scores on raw rows without any server."""
        return self.model(self.transformed(rows)).numpy()


def export_sample_model(
    root: str,
    hyperparameters: dict | None = None,
    seed: int = 5,
    spec_path: str = SPEC,
    schema_path: str = SCHEMA,
    sample: str = SAMPLE,
) -> SampleModel:
    """Transform analysed on ``sample`` with ``spec_path`` / ``schema_path`` (default: the synthetic set's),
    a small GRec trained one epoch on random inputs, exported under ``<root>/models/grec/1``."""
    import keras
    import numpy as np

    from components.feature_spec import load_feature_spec
    from components.model_inputs import input_config_from_transform
    from components.signatures import export_serving_model
    from components.transform_check import run_transform
    from models import build_model
    from models.input_config import example_inputs

    output = run_transform(sample, spec_path, schema_path, os.path.join(root, "transform"))
    spec = load_feature_spec(spec_path)
    config = input_config_from_transform(spec, output)
    keras.utils.set_random_seed(seed)
    model = build_model("grec", config, **(hyperparameters or SMALL))
    model.compile(optimizer="adam")
    x = example_inputs(config, 256, seed=1)
    model.fit(x, np.random.default_rng(0).integers(0, 2, 256), epochs=1, batch_size=64, verbose=0)
    base = os.path.join(root, "models", "grec")
    export_serving_model(model, output, spec, config.feature_names(), os.path.join(base, "1"))
    return SampleModel(base, model, output, spec, config)
