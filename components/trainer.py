"""TFX Trainer entry point: ``run_fn`` builds GRec (or a baseline) from ``custom_config``, trains, exports.

``custom_config`` keys (all optional but ``feature_spec``):

* ``feature_spec``: the parsed feature spec (dict), as Transform gets it;
* ``model``: a name from ``models.MODEL_NAMES`` (default ``grec``);
* ``hyperparameters``: keyword arguments of the model (dim, num_experts, ...);
* ``batch_size`` (default 256), ``learning_rate`` (2e-3), ``epochs`` (number
  of validation rounds the ``train_args.num_steps`` are split into, default 4),
  ``early_stopping_patience`` (2 rounds).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx_bsl.public import tfxio

from components.model_inputs import input_config_from_transform
from components.preprocessing import spec_from_config
from components.signatures import export_serving_model
from models import build_model

DEFAULTS = dict(
    model="grec", hyperparameters={}, batch_size=256, learning_rate=2e-3, epochs=4, early_stopping_patience=2
)


def choose_strategy():
    """MultiWorkerMirrored from TF_CONFIG, Mirrored on GPUs, the default strategy otherwise."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    if len(tf_config.get("cluster", {}).get("worker", [])) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _dataset(file_pattern, data_accessor, tf_transform_output, spec, batch_size):
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=spec.label_column.name),
        tf_transform_output.transformed_metadata.schema,
    )
    weight = spec.weight_column
    if weight is not None:
        dataset = dataset.map(lambda x, y: (x, y, x[weight.name]))
    return dataset.repeat()


def run_fn(fn_args):
    """Trains and exports; see the module docstring for ``custom_config``."""
    config = {**DEFAULTS, **(fn_args.custom_config or {})}
    spec = spec_from_config(config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    input_config = input_config_from_transform(spec, tf_transform_output)
    logging.info("GRec trainer: model %s, inputs %s", config["model"], input_config)

    batch_size = int(config["batch_size"])
    train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, spec, batch_size)
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, spec, batch_size)
    epochs = max(1, min(int(config["epochs"]), fn_args.train_steps))
    strategy = choose_strategy()
    with strategy.scope():
        model = build_model(config["model"], input_config, **config["hyperparameters"])
        model.compile(
            optimizer=keras.optimizers.Adam(float(config["learning_rate"])),
            metrics=[keras.metrics.AUC(curve="PR", name="ap"), keras.metrics.AUC(name="auc")],
        )
    model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=max(1, fn_args.train_steps // epochs),
        validation_data=evaluation,
        validation_steps=max(1, fn_args.eval_steps),
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(config["early_stopping_patience"]), restore_best_weights=True
            ),
        ],
        verbose=2,
    )
    model.save(os.path.join(fn_args.model_run_dir, "model.keras"))
    export_serving_model(model, tf_transform_output, spec, input_config.feature_names(), fn_args.serving_model_dir)
