"""TFX Trainer entry point: ``run_fn`` builds GRec (or a baseline) from ``custom_config``, trains, exports.

``custom_config`` keys (all optional but ``feature_spec``):

* ``feature_spec``: the parsed feature spec (dict), as Transform gets it;
* ``model``: a name from ``models.MODEL_NAMES`` (default ``grec``);
* ``hyperparameters``: keyword arguments of the model (dim, num_experts, ...);
* ``optimizer``: a name of ``models.training.OPTIMIZERS`` (default the first, ``lazy_adam``: Adam updating
  only the embedding rows a batch touched; ``adam``: Keras' Adam, every row every step);
* ``batch_size`` (``models.training.BATCH_SIZE``), ``learning_rate`` (``models.training.LEARNING_RATE``),
  ``epochs`` (number of validation rounds the ``train_args.num_steps`` are split into; default
  ``models.training.validation_rounds``: rounds of ``STEPS_PER_ROUND`` steps, at least ``MIN_ROUNDS``),
  ``early_stopping_patience`` (``models.training.EARLY_STOPPING_PATIENCE`` rounds; the learning rate is
  halved after each round without improvement: ``models.training``), ``seed`` (0: weights' initialisation
  and the input order, ``keras.utils.set_random_seed``): a rerun on the same data trains the same model up
  to the order of float reductions (docs/decisions.md, "Seeded training").

* ``warm_start``: start from the base model's weights (``fn_args.base_model``: the last blessed model, which
  the pipeline passes with ``--warm-start``), id-indexed rows carried by the value each id stands for
  (``models.warm_start``); a cold start when there is no blessed model yet, when it was saved without
  warm-start weights or when its architecture differs, said in the log and in ``warm_start.json``.

Beside the serving export, every run writes ``warm_start/`` into its Model artifact (weights, the keys of
every id-indexed feature, the model's settings: what tomorrow's warm start reads), and into its ModelRun
folder ``warm_start.json`` (how this run started) and ``history.json`` (the loss of every round).

With the pipeline's Tuner (``components/tuner.py``), the best trial's
hyperparameters (``fn_args.hyperparameters``) replace the keys the search
space covers (``models.presets.search_space``) and the learning rate.

The Trainer validates (early stopping, the per-task logs) on the split its
``eval_args`` name: the pipeline's ``validation`` split, carved from the
training rows by ExampleGen, never the Evaluator's ``eval``; all of it each
round (``eval_args.num_steps`` unset) or its first ``num_steps`` batches, in
file order: the same rows every round.

TensorBoard (``model_run_dir``): Keras' loss, task loss, AP and AUC over all
rows, the MoE's load-balancing and z-losses and each expert's share; under
``per_task/`` the AP, AUC and row count of every main task on the validation
batches, and each task's expert shares (``components/training_callbacks.py``).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx_bsl.public import tfxio

from components.model_inputs import id_keys, input_config_from_transform, task_loss, task_names
from components.preprocessing import spec_from_config
from components.signatures import export_serving_model
from components.training_callbacks import PerTaskMetrics
from models import DEFAULT_MODEL, build_model, presets, tables, training, warm_start
from models.task_types import LOSS_WEIGHTINGS

DEFAULTS = dict(
    model=DEFAULT_MODEL,
    hyperparameters={},
    optimizer=training.OPTIMIZERS[0],
    batch_size=training.BATCH_SIZE,
    learning_rate=training.LEARNING_RATE,
    epochs=None,  # models.training.validation_rounds
    early_stopping_patience=training.EARLY_STOPPING_PATIENCE,
    seed=0,
    warm_start=False,
)
WARM_START_DIR = "warm_start"  # in the Model artifact, beside Format-Serving


def start_from_base_model(fn_args, model, keys: dict, settings: dict) -> dict:
    """Sets ``model``'s weights from the base model's ``warm_start/`` when the run asks for it and it fits;
    returns how the run started ({"warm": bool, "message": ..., "base_model": path or None})."""
    base = fn_args.base_model
    if not base:
        return {"warm": False, "message": "cold start: no blessed model yet", "base_model": None}
    folder = os.path.join(os.path.dirname(base), WARM_START_DIR)
    if not tf.io.gfile.exists(os.path.join(folder, warm_start.CONFIG_FILE)):
        message = f"cold start: the blessed model {base} has no {WARM_START_DIR}/ (trained before warm start)"
        return {"warm": False, "message": message, "base_model": base}
    try:
        report = warm_start.restore(model, keys, folder, settings)
    except warm_start.CannotWarmStart as e:
        return {"warm": False, "message": f"cold start: another architecture than {base}: {e}", "base_model": base}
    return {"warm": True, "message": report.summary(), "base_model": base, "ids": report.ids}


def loss_weights_line(model, names: list[str]) -> str:
    """One line: each main task's loss weight, static and (with ``uncertainty``) learned, e.g.
    ``task loss weights (uncertainty): ctr 1 x 0.83, cvr 2 x 1.41``."""
    found = model.loss_weights()
    learned = found["learned"]
    parts = [
        f"{name} {found['static'][i]:g}" + (f" x {learned[i]:.3g}" if learned else "") for i, name in enumerate(names)
    ]
    return f"task loss weights ({model.loss_weighting}): " + ", ".join(parts)


def _tf_config():
    return json.loads(os.environ.get("TF_CONFIG", "{}"))


def choose_strategy():
    """MultiWorkerMirrored from TF_CONFIG, Mirrored on GPUs, the default strategy otherwise."""
    cluster = _tf_config().get("cluster", {})
    if len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """The process that writes the model: no cluster, the ``chief`` task, or worker 0 when there is no chief."""
    tf_config = _tf_config()
    task = tf_config.get("task", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in tf_config.get("cluster", {})


def _worker_dir(path: str) -> str:
    """Every multi-worker replica must save (saving is collective); only the chief saves to ``path``."""
    if is_chief():
        return path
    task = _tf_config()["task"]
    return os.path.join(
        os.path.dirname(path.rstrip("/")),
        "workers",
        f"{task['type']}_{task['index']}",
        os.path.basename(path.rstrip("/")),
    )


def _patch_keras_for_multi_worker(model, strategy):
    """Lets ``model.fit`` run under MultiWorkerMirroredStrategy; Keras 3 (3.12 here) fails twice there.

    Multi-worker training with Keras 3 is an open Keras issue
    (keras-team/keras#20585, tensorflow/tensorflow#72388); these are the two
    smallest mends that make this model train, both applied only under that
    strategy and checked by tests/pipelines/test_multi_worker.py:

    1. Before training, Keras builds the model from one batch that it averages
       across replicas with ``strategy.reduce`` -- which takes one tensor, not a
       dict of features ("Attempt to convert a value ({'...': PerReplica...})").
       Building needs shapes and dtypes only: hand it the first local replica's batch.
    2. Each step, Keras averages the scalar logs (loss, metrics) across workers
       with ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar
       ("Invalid reduction dimension 0 for input with 0 dimensions"): reduce
       scalars with ``axis=None``, everything else as Keras does.
    """
    from keras.src.backend.tensorflow import trainer as keras_tf_trainer

    def first_replica(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    original_build = model._maybe_symbolic_build

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(first_replica, next(batches))
                break
        return original_build(iterator=None, data_batch=data_batch)

    model._maybe_symbolic_build = build

    original_reduce = getattr(keras_tf_trainer.reduce_per_replica, "grec_original", keras_tf_trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy_, reduction):
        def reduce(value):
            if reduction in ("auto", "mean") and isinstance(strategy_, tf.distribute.MultiWorkerMirroredStrategy):
                if first_replica(value).shape.rank == 0:
                    return strategy_.reduce("MEAN", value, axis=None)
            return original_reduce(value, strategy_, reduction)

        return keras.tree.map_structure(reduce, values)

    reduce_per_replica.grec_original = original_reduce
    keras_tf_trainer.reduce_per_replica = reduce_per_replica


def _dataset(file_pattern, data_accessor, tf_transform_output, spec, batch_size, **options):
    """Batches ``(features, label[, weight])`` of the transformed examples; ``options``: more
    ``TensorFlowDatasetOptions`` (default: shuffled, repeated without end)."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=spec.label_column.name, **options),
        tf_transform_output.transformed_metadata.schema,
    )
    weight = spec.weight_column
    if weight is not None:
        dataset = dataset.map(lambda x, y: (x, y, x[weight.name]))
    # Multi-worker: shard by element, not by file. Transform often writes fewer files than there are
    # workers, and FILE sharding then fails ("Could not apply FILE based sharding").
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def validation_batches(dataset, num_batches: int | None):
    """(the validation batches, their number): ``dataset``'s first ``num_batches`` (None: all of them).

    Every validation round must score the same rows, or early stopping compares
    losses of different samples: ``dataset`` is read in file order, once. (Keras
    keeps one validation iterator across rounds; a shuffled, endless dataset
    with ``validation_steps`` gave each round the next, different batches.)
    """
    if num_batches:
        dataset = dataset.take(num_batches)
    count = int(dataset.reduce(0, lambda count, _: count + 1))
    if not count:
        raise ValueError("the validation split has no examples")
    return dataset, count


class TrainingSetup:
    """What the Trainer and the Tuner read the same way from their ``fn_args``."""

    def __init__(self, fn_args):
        self.config = {**DEFAULTS, **(fn_args.custom_config or {})}
        keras.utils.set_random_seed(int(self.config["seed"]))  # before any dataset or weight exists
        self.spec = spec_from_config(self.config)
        self.tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
        self.input_config = input_config_from_transform(self.spec, self.tf_transform_output)
        # The spec's `tasks:` weights and `loss_weighting`, checked against the training data's tasks first.
        self.task_loss = task_loss(self.spec, self.tf_transform_output)
        batch_size = int(self.config["batch_size"])
        self.train = _dataset(
            fn_args.train_files, fn_args.data_accessor, self.tf_transform_output, self.spec, batch_size
        ).repeat()
        # The validation split (``eval_args``): its first ``eval_steps`` batches (None: all), the same every round.
        once = _dataset(
            fn_args.eval_files,
            fn_args.data_accessor,
            self.tf_transform_output,
            self.spec,
            batch_size,
            num_epochs=1,
            shuffle=False,
        )
        self.validation_batches, self.validation_steps = validation_batches(once, fn_args.eval_steps)
        # Endless, so that every worker of a multi-worker strategy can read ``validation_steps`` batches.
        self.evaluation = self.validation_batches.repeat()
        rounds = self.config["epochs"]
        self.epochs = (
            max(1, min(int(rounds), fn_args.train_steps)) if rounds else training.validation_rounds(fn_args.train_steps)
        )
        self.steps_per_epoch = max(1, fn_args.train_steps // self.epochs)

    def callbacks(self):
        """The recipe's callbacks (``models.training``): learning rate halved on a plateau, early stopping."""
        return training.callbacks(patience=int(self.config["early_stopping_patience"]))


def model_settings(config: dict, tuned: dict | None) -> tuple[dict, float]:
    """(model keyword arguments, learning rate): the configured ones, or the best trial's where the Tuner ran.

    ``tuned``: a KerasTuner ``HyperParameters`` config (``fn_args.hyperparameters``) or None.
    """
    hyperparameters, learning_rate = dict(config["hyperparameters"]), float(config["learning_rate"])
    if tuned:
        import keras_tuner

        found, learning_rate = presets.search_space(config["model"], keras_tuner.HyperParameters.from_config(tuned))
        hyperparameters.update(found)
    return hyperparameters, learning_rate


def run_fn(fn_args):
    """Trains and exports; see the module docstring for ``custom_config``. Returns the trained model.

    Under MultiWorkerMirroredStrategy (TF_CONFIG), every worker runs this; the
    chief writes the model, TensorBoard logs and the export where TFX expects
    them, the other workers to ``workers/<type>_<index>/`` beside them.
    """
    # First: MultiWorkerMirroredStrategy configures collective ops, which must happen before any op runs.
    strategy = choose_strategy()
    setup = TrainingSetup(fn_args)
    config, spec, tf_transform_output = setup.config, setup.spec, setup.tf_transform_output
    hyperparameters, learning_rate = model_settings(config, fn_args.hyperparameters)
    logging.info(
        "GRec trainer: model %s %s, %s at learning rate %g, inputs %s",
        config["model"],
        hyperparameters,
        config["optimizer"],
        learning_rate,
        setup.input_config,
    )
    evaluation = setup.evaluation
    with strategy.scope():
        model = build_model(config["model"], setup.input_config, **hyperparameters, **setup.task_loss)
        # Every variable now, in the strategy's scope, not lazily inside a replicated train step.
        model.build_from_config_inputs()
        # AP and AUC over all rows; with regression tasks (labels that are no 0/1) only per task (PerTaskMetrics).
        model.compile(
            optimizer=training.optimizer(learning_rate, config["optimizer"]),
            metrics=None
            if model.task_losses
            else [keras.metrics.AUC(curve="PR", name="ap"), keras.metrics.AUC(name="auc")],
        )
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _patch_keras_for_multi_worker(model, strategy)
    embedding = tables.summary(tables.embedding_tables(model))
    names = task_names(spec, tf_transform_output)
    for line in (embedding, loss_weights_line(model, names)):
        logging.info("GRec trainer: %s", line)
        print(f"GRec trainer: {line}", flush=True)
    log_dir = _worker_dir(fn_args.model_run_dir)
    keys = id_keys(spec, tf_transform_output)
    # What a warm start must match: the model and its settings (as JSON reads them back); a learned loss
    # weighting only when set, so that models saved before it existed still warm-start a static run.
    settings = {"model": config["model"], "hyperparameters": hyperparameters}
    if model.loss_weighting != LOSS_WEIGHTINGS[0]:
        settings["loss_weighting"] = model.loss_weighting
    settings = json.loads(json.dumps(settings))
    started = {"warm": False, "message": "cold start (warm start not asked)", "base_model": None}
    if config["warm_start"]:
        started = start_from_base_model(fn_args, model, keys, settings)
    logging.info("GRec trainer: %s", started["message"])
    print(f"GRec trainer: {started['message']}", flush=True)
    per_task = PerTaskMetrics(
        setup.validation_batches, spec.task_column.name, names, log_dir, num_batches=setup.validation_steps
    )
    history = model.fit(
        setup.train,
        epochs=setup.epochs,
        steps_per_epoch=setup.steps_per_epoch,
        validation_data=evaluation,
        validation_steps=setup.validation_steps,
        callbacks=[
            per_task,  # before TensorBoard: its val_ap/<task> entries reach the epoch logs
            keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
            *setup.callbacks(),
        ],
        verbose=2,
    )
    if model.loss_weighting != LOSS_WEIGHTINGS[0]:
        line = loss_weights_line(model, names)
        logging.info("GRec trainer: after training, %s", line)
        print(f"GRec trainer: after training, {line}", flush=True)
    model.save(os.path.join(log_dir, "model.keras"))
    for name, content in (("warm_start.json", started), ("history.json", history.history)):
        with tf.io.gfile.GFile(os.path.join(log_dir, name), "w") as f:
            json.dump(content, f, default=float)
    warm_start.save(
        model, keys, _worker_dir(os.path.join(os.path.dirname(fn_args.serving_model_dir), WARM_START_DIR)), settings
    )
    export_serving_model(
        model, tf_transform_output, spec, setup.input_config.feature_names(), _worker_dir(fn_args.serving_model_dir)
    )
    return model
