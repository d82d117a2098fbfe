"""TFX Tuner entry point: ``tuner_fn`` searches the model's hyperparameters on the validation split.

The pipeline runs TFX's Tuner before the Trainer when ``--tune-trials N`` is
given; the Trainer then takes the best trial's hyperparameters
(``components.trainer.model_settings``). KerasTuner's ``RandomSearch`` over
``models.presets.search_space`` of the configured model, ``N`` trials, each
trained exactly as the Trainer trains (its steps, batch size, validation
rounds and early stopping, ``custom_config`` as the Trainer reads it) and
scored by its best validation loss. So every model gets the same budget:
``N`` x the Trainer's steps. The first trial is the model's preset
(``PresetFirstOracle``), so tuning never ends on a validation loss worse than
the untuned default's. The Evaluator's ``eval`` split is never read.
"""

from __future__ import annotations

import keras_tuner

from models import build_model, presets, training

TUNER_SEED = 0  # the same trials on every run of one configuration


class PresetFirstOracle(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is every hyperparameter's default (the model's preset).

    KerasTuner's random search samples even its first trial once the space is known (a hypermodel registers
    it before the search); starting from the default makes the untuned model one of the N trials, for every
    model alike.
    """

    def populate_space(self, trial_id):
        if not self.trials:
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": self.hyperparameters.values}
        return super().populate_space(trial_id)


def tuner_fn(fn_args):
    """The KerasTuner search and the ``fit`` arguments of every trial (a ``TunerFnResult``)."""
    from tfx.components.tuner.component import TunerFnResult

    from components.trainer import TrainingSetup

    setup = TrainingSetup(fn_args)
    config = setup.config
    name = config["model"]
    trials = int(config["tune_trials"])

    def build(hp):
        found, learning_rate = presets.search_space(name, hp)
        model = build_model(name, setup.input_config, **{**config["hyperparameters"], **found}, **setup.task_loss)
        model.compile(optimizer=training.optimizer(learning_rate, config["optimizer"]))
        return model

    oracle = PresetFirstOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=trials, seed=TUNER_SEED)
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=build, directory=fn_args.working_dir, project_name=f"grec_{name}", overwrite=True
    )
    return TunerFnResult(
        tuner=tuner,
        fit_kwargs=dict(
            x=setup.train,
            epochs=setup.epochs,
            steps_per_epoch=setup.steps_per_epoch,
            validation_data=setup.evaluation,
            validation_steps=setup.validation_steps,
            callbacks=setup.callbacks(),
            verbose=2,
        ),
    )
