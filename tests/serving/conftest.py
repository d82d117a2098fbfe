"""A small exported GRec (Transform graph inside) under a TF Serving model base path, built once."""

import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = os.path.join(ROOT, "tests", "fixtures", "synthetic_sample.csv")
SPEC = os.path.join(ROOT, "schemas", "synthetic", "feature_spec.yaml")
SCHEMA = os.path.join(ROOT, "schemas", "synthetic", "schema.pbtxt")
SMALL = dict(dim=16, num_heads=2, num_experts=4, top_k=2, expert_hidden_dim=16, tower_hidden_dim=16, tower_dim=8,
             block_size=4, encoder_options=dict(text_hidden_dim=8, history_hidden_dim=8))  # fmt: skip


class Exported:
    """What the serving tests need: the model base path, the Keras model, the Transform output, the spec."""

    def __init__(self, base_path, model, transform_output, spec, input_config):
        self.base_path = base_path
        self.model = model
        self.transform_output = transform_output
        self.spec = spec
        self.input_config = input_config

    def in_process(self, rows):
        """The trained model's scores on raw rows, without any server: transform, then the Keras model."""
        import tensorflow as tf

        from serving.client import serialize_rows

        dtypes = {
            c.name: {"string": tf.string, "int": tf.int64, "float": tf.float32}[c.dtype]
            for c in self.spec.feature_columns
        }
        raw_spec = self.transform_output.raw_feature_spec()
        request_spec = {name: raw_spec[name] for name in dtypes}
        parsed = tf.io.parse_example(serialize_rows(rows, dtypes), request_spec)
        transformed = self.transform_output.transform_features_layer()(parsed)
        features = {k: transformed[k] for k in self.input_config.feature_names()}
        return self.model(features).numpy()


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    import keras
    import numpy as np

    from components.feature_spec import load_feature_spec
    from components.model_inputs import input_config_from_transform
    from components.signatures import export_serving_model
    from components.transform_check import run_transform
    from models import build_model
    from models.input_config import example_inputs

    root = tmp_path_factory.mktemp("serving")
    output = run_transform(SAMPLE, SPEC, SCHEMA, str(root / "transform"))
    spec = load_feature_spec(SPEC)
    config = input_config_from_transform(spec, output)
    keras.utils.set_random_seed(5)
    model = build_model("grec", config, **SMALL)
    model.compile(optimizer="adam")
    x = example_inputs(config, 256, seed=1)
    model.fit(x, np.random.default_rng(0).integers(0, 2, 256), epochs=1, batch_size=64, verbose=0)
    base = root / "models" / "grec"
    export_serving_model(model, output, spec, config.feature_names(), str(base / "1"))
    return Exported(str(base), model, output, spec, config)
