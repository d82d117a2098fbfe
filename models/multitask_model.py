"""Base class of GRec and the baselines: the skeleton (encoder -> body -> towers), the task loss, the auxiliary
losses, their metrics, and the config every model shares."""

from __future__ import annotations

import keras
from keras import ops

from models.input_config import InputConfig, example_inputs
from models.input_encoder import InputEncoder
from models.task_towers import TaskTowers
from models.task_types import LOSS_WEIGHTINGS, LOSSES, is_log_target, is_regression
from models.validation import require, require_positive

# The constructor arguments of the skeleton, shared by every model.
SHARED_CONFIG = (
    "input_config",
    "dim",
    "tower_hidden_dim",
    "tower_dim",
    "embedding_dim",
    "use_cross",
    "text_preset",
    "encoder_options",
    "task_weights",
    "loss_weighting",
    "task_losses",
    "task_chain",
)
ALL_LOSSES = tuple(loss for losses in LOSSES.values() for loss in losses)
LOG_FLOOR = -1.0 + 1e-6  # rationale: a log_mse value below it has no finite log1p (float32 rounds to -1)
LOG_CEILING = 80.0  # rationale: expm1 overflows float32 above 88.7; a log_mse prediction is capped at e**80


class _WeightedMean(keras.losses.Loss):
    """The weighted mean of ``y_pred`` (a value per example) through Keras' loss reduction, which also scales
    it for distribution as every loss the model optimises."""

    def call(self, y_true, y_pred):
        return y_pred


class MultiTaskModel(keras.Model):
    """A Keras model over task examples: ``features -> probability of the main task``.

    The skeleton every model shares: ``InputEncoder`` -> tokens <float>[B, T, D],
    the task sentence and the task ids -> ``body`` (the model's own part) ->
    <float>[B, W] -> ``TaskTowers`` (the tower of each example's main task) ->
    <float32>[B]. A model writes only ``body`` and its constructor; its own
    constructor arguments, named in ``CONFIG_KEYS`` and kept as attributes of
    the same names, are serialised with the shared ones by ``get_config``.

    Args:
        input_config: ``InputConfig`` (or its dict) of the transformed features.
        dim: D, token width (paper: 256).
        tower_hidden_dim, tower_dim: shared tower layer and per-task head widths.
        embedding_dim: categorical embedding width.
        use_cross: cross features in the wide & deep head.
        text_preset: local keras-hub preset directory for the text encoder.
        encoder_options: dict of extra ``InputEncoder`` sizes (text/history encoder widths).
        task_weights: N static loss weights, by main-task id (None: all 1); the feature spec's `tasks:`.
        loss_weighting: ``static`` (``task_weights`` only) or ``uncertainty``: a learned log-variance s per
            task on top (``models.task_types``).
        task_losses: N loss names by main-task id (``models.task_types.LOSSES``; None: every task binary with
            cross-entropy). A regression task's output is ``shift + scale x`` its head's value (the input
            config's ``target`` features; 0 and 1 without them), expm1 of it for ``log_mse``: a value in the
            label's units, not a probability.
        task_chain: N main-task ids by main-task id: the given task of a task with ``chain: entire_space`` (ESMM,
            ``models.task_types``), -1 for the others (None: no chained task). A chained row's output is its own
            head's probability times the given task's head's on the same row (the model run again with the row's
            main task set to the given one), and its loss is taken on that product.

    The task (loss and metrics) is kept apart from the model wiring
    (TensorFlow Recommenders' split): ``compute_loss`` is each example's
    main-task loss (binary cross-entropy of its label; a regression task's
    squared or Huber error on the scaled target), weighted by the sample
    weight times its task's weight (the weighted mean over the batch), plus the
    auxiliary losses layers add in training (``self.losses``, e.g. the MoE
    load-balancing and z-losses). With ``uncertainty`` weighting, training
    optimises sum_i w_i (exp(-s_t(i)) CE_i + s_t(i) / 2) / sum_i w_i (Kendall et
    al. 2018, their classification form), while ``task_loss`` and validation
    keep the static weights only, so early stopping compares rounds on one
    objective. Keras reports the total as ``loss`` and this class reports
    ``task_loss``; MoE layers report their own ``load_balancing_loss`` and
    ``router_z_loss``.
    """

    FAMILY = None  # "grec" or "flat": what presets and search spaces a model takes (each subclass says)

    def build_from_config_inputs(self, batch_size=2):
        """Builds the weights by calling on random inputs (from ``self.input_config``); returns them."""
        inputs = example_inputs(InputConfig.from_dict(self.input_config), batch_size)
        self(inputs)
        return inputs

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    CONFIG_KEYS: tuple[str, ...] = ()

    def __init__(
        self,
        input_config,
        dim=256,
        tower_hidden_dim=128,
        tower_dim=64,
        embedding_dim=16,
        use_cross=False,
        text_preset=None,
        encoder_options=None,
        task_weights=None,
        loss_weighting=LOSS_WEIGHTINGS[0],
        task_losses=None,
        task_chain=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_positive(dim=dim)
        config = InputConfig.from_dict(dict(input_config))
        require(
            loss_weighting in LOSS_WEIGHTINGS,
            f"`loss_weighting` must be one of {list(LOSS_WEIGHTINGS)}.",
            loss_weighting=loss_weighting,
        )
        if task_weights is not None:
            task_weights = [float(w) for w in task_weights]
            require(
                len(task_weights) == config.num_tasks and all(w > 0 for w in task_weights),
                f"`task_weights` needs one positive weight per main-task id ({config.num_tasks}).",
                task_weights=task_weights,
            )
        if task_losses is not None:
            task_losses = [str(loss) for loss in task_losses]
            require(
                len(task_losses) == config.num_tasks and all(loss in ALL_LOSSES for loss in task_losses),
                f"`task_losses` needs one of {list(ALL_LOSSES)} per main-task id ({config.num_tasks}).",
                task_losses=task_losses,
            )
            if all(loss == LOSSES["binary"][0] for loss in task_losses):
                task_losses = None  # every task binary: the model as without the argument
        if task_chain is not None:
            task_chain = [int(given) for given in task_chain]
            require(
                len(task_chain) == config.num_tasks
                and all(-1 <= given < config.num_tasks and given != task for task, given in enumerate(task_chain)),
                f"`task_chain` needs one id in -1..{config.num_tasks - 1} per main-task id ({config.num_tasks}), "
                "never the task's own.",
                task_chain=task_chain,
            )
            if all(given < 0 for given in task_chain):
                task_chain = None
        self.task_weights = task_weights
        self.loss_weighting = loss_weighting
        self.task_losses = task_losses
        self.task_chain = task_chain
        # Kendall et al.'s s = log(sigma^2) per main-task id, learned with the model (0: weight 1 at the start).
        self.task_log_variance = (
            self.add_weight(name="task_log_variance", shape=(config.num_tasks,), initializer="zeros")
            if loss_weighting == "uncertainty"
            else None
        )
        self.input_config = config.to_dict()
        self.dim = dim
        self.tower_hidden_dim = tower_hidden_dim
        self.tower_dim = tower_dim
        self.embedding_dim = embedding_dim
        self.use_cross = use_cross
        self.text_preset = text_preset
        self.encoder_options = dict(encoder_options or {})
        self.encoder = InputEncoder(
            self.input_config,
            dim,
            embedding_dim,
            use_cross,
            text_preset=text_preset,
            name="input_encoder",
            **self.encoder_options,
        )
        self.towers = TaskTowers(config.num_tasks, tower_hidden_dim, tower_dim, name="towers")
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        # The loss to optimise goes through Keras' own reduction, which also divides it by the number of
        # replicas under a tf.distribute strategy (whose gradients are summed across replicas).
        self._weighted_mean = _WeightedMean(reduction="mean_with_sample_weight", name="weighted_mean")

    @property
    def num_tasks(self):
        return InputConfig.from_dict(self.input_config).num_tasks

    @property
    def num_tokens(self):
        return InputConfig.from_dict(self.input_config).num_tokens

    def body(self, tokens, sentence, task_ids, training=None):
        """The model's own part: tokens <float>[B, T, D], task sentence, task ids <int>[B] -> <float>[B, W]."""
        raise NotImplementedError

    def call(self, features, training=None):
        answer = self._answer(features, training)
        if self.task_chain is None:
            return answer
        # ESMM: a chained row answers p(given) x p(task | given); p(given) is the model's answer for the same row
        # with its main task set to the given task (every row is run twice: the cost of the chain).
        main = InputConfig.from_dict(self.input_config).main_task
        ids = features[main]
        flat = ops.reshape(ops.cast(ids, "int32"), (-1,))
        given = ops.take(ops.convert_to_tensor(self.task_chain, dtype="int32"), flat, axis=0)
        chained = given >= 0
        given_ids = ops.cast(ops.reshape(ops.where(chained, given, flat), ops.shape(ids)), ids.dtype)
        first = self._answer({**features, main: given_ids}, training)
        return ops.where(chained, answer * first, answer)

    def _answer(self, features, training=None):
        """Each row's answer for its own main task: a probability, or a regression task's value."""
        tokens, sentence, task_ids = self.encoder(features, training=training)
        hidden = self.body(tokens, sentence, task_ids, training=training)
        if self.task_losses is None:
            return self.towers(hidden, task_ids)
        logit = self.towers(hidden, task_ids, logits=True)
        regression, log_target = self._row_kinds(task_ids)
        shift, scale = self._target(features, logit)
        target = shift + scale * logit  # in the target's units (log1p units for log_mse)
        # expm1 of a log_mse row's target; the other rows (and the unselected branch) see a safe value, so no
        # overflow reaches a gradient through the where.
        value = ops.where(log_target, ops.expm1(ops.minimum(ops.where(log_target, target, 0.0), LOG_CEILING)), target)
        return ops.where(regression, value, ops.sigmoid(logit))

    def _row_kinds(self, task_ids):
        """(regression, log_mse) <bool>[B]: what each row's main task is."""
        task_ids = ops.reshape(ops.cast(task_ids, "int32"), (-1,))
        regression = ops.convert_to_tensor([is_regression(loss) for loss in self.task_losses])
        log_target = ops.convert_to_tensor([is_log_target(loss) for loss in self.task_losses])
        return ops.take(regression, task_ids, axis=0), ops.take(log_target, task_ids, axis=0)

    def _target(self, features, like):
        """Each row's target (shift, scale) <float32>[B] from the input config's target features (0 and 1 without)."""
        target = InputConfig.from_dict(self.input_config).target
        if not target:
            return ops.zeros_like(like), ops.ones_like(like)
        return tuple(ops.reshape(ops.cast(features[name], "float32"), (-1,)) for name in target)

    def _per_example_loss(self, x, y_true, y_pred):
        """<float32>[B]: binary cross-entropy, or a regression task's error on its scaled target (squared, or
        Huber with delta 1); the other kind's branch sees safe values, so no NaN reaches a gradient."""
        if self.task_losses is None:
            return keras.losses.binary_crossentropy(y_true, y_pred)
        task_ids = x[InputConfig.from_dict(self.input_config).main_task]
        regression, log_target = self._row_kinds(task_ids)
        y, p = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        binary = keras.losses.binary_crossentropy(
            ops.reshape(ops.where(regression, 0.0, y), (-1, 1)), ops.reshape(ops.where(regression, 0.5, p), (-1, 1))
        )
        shift, scale = self._target(x, p)
        # The served value back in target units: log1p of a log_mse task's value (its expm1 inverted).
        value = ops.where(log_target, ops.log1p(ops.maximum(ops.where(regression, p, 0.0), LOG_FLOOR)), p)
        truth = ops.where(log_target, ops.log1p(ops.maximum(y, 0.0)), y)
        error = ops.where(regression, (value - truth) / scale, 0.0)
        huber = ops.convert_to_tensor([loss == "huber" for loss in self.task_losses])
        squared = ops.square(error)
        robust = ops.where(ops.abs(error) <= 1.0, 0.5 * squared, ops.abs(error) - 0.5)
        per_task_id = ops.reshape(ops.cast(task_ids, "int32"), (-1,))
        regression_loss = ops.where(ops.take(huber, per_task_id, axis=0), robust, squared)
        return ops.where(regression, regression_loss, binary)

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in (*SHARED_CONFIG, *self.CONFIG_KEYS)})
        return config

    def loss_weights(self):
        """{"static": [N], "learned": [N] or None}: each main-task id's static weight and learned factor
        exp(-s) (None unless ``uncertainty``); a task's loss counts with their product."""
        static = self.task_weights or [1.0] * self.num_tasks
        learned = None
        if self.task_log_variance is not None:
            learned = [float(v) for v in ops.convert_to_numpy(ops.exp(-self.task_log_variance.value))]
        return {"static": list(static), "learned": learned}

    def effective_loss_weights(self) -> list[float]:
        """Each main-task id's loss weight as training applies it: static x learned (``loss_weights``)."""
        found = self.loss_weights()
        return [w * (found["learned"][i] if found["learned"] else 1.0) for i, w in enumerate(found["static"])]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y_true = ops.reshape(ops.cast(y, "float32"), (-1, 1))
        y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1, 1))
        weights = None if sample_weight is None else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        task_ids = None
        if self.task_weights is not None or self.task_log_variance is not None:
            task_ids = ops.reshape(ops.cast(x[InputConfig.from_dict(self.input_config).main_task], "int32"), (-1,))
        if self.task_weights is not None:
            per_task = ops.take(ops.convert_to_tensor(self.task_weights, dtype="float32"), task_ids, axis=0)
            weights = per_task if weights is None else weights * per_task
        # The task loss as reported (per replica, never scaled)...
        per_example = self._per_example_loss(x, y_true, y_pred)
        if weights is not None:
            task_loss = ops.sum(per_example * weights) / ops.maximum(ops.sum(weights), 1e-9)
        else:
            task_loss = ops.mean(per_example)
        self.task_loss_tracker.update_state(task_loss)
        if training and self.task_log_variance is not None:
            # As optimised with learned weights: exp(-s) CE + s / 2 per example, with the same weighted mean
            # (and distribution scaling) as below: the mean of exp(-s) CE through the loss function with weights
            # w exp(-s), rescaled to sum(w).
            s = ops.take(self.task_log_variance, task_ids, axis=0)
            w = ops.ones_like(s) if weights is None else weights
            learned = w * ops.exp(-s)
            if self.task_losses is not None:  # Kendall et al.'s regression form: exp(-s) L / 2 + s / 2
                learned = learned * ops.where(self._row_kinds(task_ids)[0], 0.5, 1.0)
            norm = ops.maximum(ops.sum(w), 1e-9)
            total = self._weighted_mean(ops.zeros_like(s), per_example, sample_weight=learned) * (
                ops.sum(learned) / norm
            ) + self._weighted_mean(ops.zeros_like(s), s / 2.0, sample_weight=w)
        else:
            # ...and as optimised: the same value, scaled for distribution by Keras.
            total = self._weighted_mean(ops.zeros_like(per_example), per_example, sample_weight=weights)
        if training and self.losses:
            # Keras 3: an overridden compute_loss must add the layers' losses itself; the base
            # class sums them (scaled for distribution too) when no compiled loss is set.
            total = total + super().compute_loss(x, y, y_pred, sample_weight, training)
        return total
