"""The learners of the quality benchmark behind one interface: a deep model of the registry (or a variant
of one) and one LightGBM model per task. Each can be tuned on the validation rows and trained with a seed,
and scores the test rows in the data's order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks import harness
from models import training


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every deep model trains with: at most ``max_steps`` of ``batch_size``, validated every
    ``eval_every`` steps (early stopping), Adam at ``learning_rate`` (None: the recipe's)."""

    max_steps: int
    eval_every: int
    batch_size: int = training.BATCH_SIZE
    learning_rate: float | None = None


@dataclasses.dataclass
class DeepLearner:
    """``model`` of the registry with preset ``overrides``, reported as ``name``."""

    name: str
    model: str
    overrides: dict | None = None
    seeded = True  # trained once per seed

    def tune(self, prepared, trials: int, budget: Budget, work: str):
        return tune(
            self.model, prepared[0], prepared[1], trials, budget.max_steps, budget.eval_every, work, budget.batch_size
        )

    def fit_score(self, prepared, seed: int, budget: Budget, tuned=None):
        """(test scores [rows], steps kept, the model)."""
        data = prepared[0]
        overrides, rate = tuned if tuned is not None else (self.overrides, budget.learning_rate)
        model, steps = train_deep(
            self.model, data, seed, budget.max_steps, budget.eval_every, budget.batch_size, rate, overrides
        )
        return np.asarray(model.predict(data.eval_x, batch_size=4096, verbose=0), dtype="float64"), steps, model


@dataclasses.dataclass
class LightGBMLearner:
    """One LightGBM model per task (its defaults, or tuned parameters per task), early-stopped on validation;
    ``name``: its tables in ``prepared[1]`` (``lightgbm``; ``lightgbm_tfidf``: text as TF-IDF terms)."""

    name: str = "lightgbm"
    seeded = False  # trained once: its fit is deterministic

    def tune(self, prepared, trials: int, budget: Budget, work: str):
        return tune("lightgbm", prepared[0], prepared[1][self.name], trials, budget.max_steps, budget.eval_every, work)

    def fit_score(self, prepared, seed: int, budget: Budget, tuned=None):
        """(test scores [rows] in the data's order, trees per task, None)."""
        data, sets = prepared[0], prepared[1][self.name]
        tree_scores, trees = train_lightgbm(sets, params=tuned)
        # A task's test rows, in order, are its LightGBM test set: wide rows (the converter writes each wide
        # row's task examples in wide_labels order) or its own task-example rows.
        scores = np.zeros(len(data.eval_tasks))
        for task in sets:
            scores[data.eval_tasks == task] = tree_scores[task]
        return scores, [trees[t] for t in sets], None


def train_deep(
    name, data, seed, max_steps, eval_every, batch_size=training.BATCH_SIZE, learning_rate=None, overrides=None
):
    """A deep model (its preset, ``overrides`` applied) with early stopping on the validation rows
    (``harness.fit_model``, the loop every benchmark trains with); returns (model, steps trained)."""
    import keras

    from models import presets

    keras.utils.set_random_seed(seed)
    optimizer, overrides = training.split_optimizer(overrides)
    model, history, _ = harness.fit_model(
        name,
        data.input_config,
        presets.resolve(name, overrides),
        data.train_x,
        data.train_y,
        max_steps,
        batch_size,
        learning_rate,
        seed,
        eval_every,
        validation=(data.valid_x, data.valid_y),
        optimizer=optimizer,
    )
    best = int(np.argmin(history["val_loss"])) + 1
    return model, best * eval_every


def frames_of_csv(paths: dict) -> dict[str, dict[str, np.ndarray]]:
    """Each split's CSV as columns of strings, exactly as written."""
    import pandas as pd

    return {
        split: {k: v.to_numpy() for k, v in pd.read_csv(p, dtype=str, keep_default_na=False).items()}
        for split, p in paths.items()
    }


# The text baseline a LightGBM user would write (``lightgbm_tfidf``): each text column's TF-IDF weights of its
# most frequent words and word pairs (sublinear counts, in at least MIN_DOCS rows), fitted on the fit split.
TFIDF_TERMS = 1000  # per text column; dense float32 columns (Reviews: 14k rows x 2,000 terms, 110 MB)
TFIDF_MIN_DOCS = 5


def _tfidf(fit: dict, spec, name: str) -> dict:
    """{text column: its TfidfVectorizer fitted on the fit split}; none for ``lightgbm``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if name != "lightgbm_tfidf":
        return {}
    return {
        c.name: TfidfVectorizer(
            max_features=TFIDF_TERMS, min_df=TFIDF_MIN_DOCS, ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32
        ).fit(fit[spec.file_column(c.name)].astype(str))
        for c in spec.by_role("text")
    }


def _lightgbm_table(columns: dict, fit: dict, spec, tfidf: dict):
    """LightGBM's inputs: the deep models' columns, numbers as numbers (missing: NaN), categoricals as
    categories of the fit split, an image embedding as one number per dimension, a text as one category (a
    title names its movie) or, with ``tfidf`` ({column: fitted vectorizer}), as its terms' TF-IDF weights;
    histories are left out (a tree needs them engineered into features first). ``columns`` and ``fit`` are
    the files' columns (``spec.file_column``: a renamed column under the file's name)."""
    import pandas as pd

    from components.feature_spec import ROLE_TABLE
    from components.row_check import MISSING_MARKERS

    cols = {}
    for c in spec.feature_columns:
        if c.role in ("task", "history"):
            continue
        values = pd.Series(columns[spec.file_column(c.name)])
        if c.name in tfidf:
            weights = tfidf[c.name].transform(values.astype(str)).toarray()
            cols.update({f"{c.name}_tfidf_{i}": weights[:, i] for i in range(weights.shape[1])})
        elif c.role == "numerical":
            if values.dtype == object:
                values = values.str.strip()
                values = pd.to_numeric(values.where(~values.isin(MISSING_MARKERS)), errors="raise")
            cols[c.name] = values.astype("float64")
        elif ROLE_TABLE[c.role].vector:
            vectors = np.stack([np.asarray(v.split(), dtype="float64") for v in values])
            cols.update({f"{c.name}_{i}": vectors[:, i] for i in range(vectors.shape[1])})
        else:
            categories = sorted(pd.Series(fit[spec.file_column(c.name)]).astype(str).str.strip().unique())
            cols[c.name] = pd.Categorical(values.astype(str).str.strip(), categories=categories)
    return pd.DataFrame(cols)


def lightgbm_sets(splits: dict, spec, task_keys=None, name: str = "lightgbm") -> dict[str, dict[str, tuple]]:
    """{task: {split: (features, labels)}} for one LightGBM model per task (``name``: ``lightgbm``, or
    ``lightgbm_tfidf`` with text as TF-IDF terms). Wide rows (``task_keys`` None): every task reads all rows,
    its label from its own column. Task-example rows: each task reads its own rows (``task_keys[split]``:
    each row's task), the label column."""
    tfidf = _tfidf(splits["fit"], spec, name)
    tables = {split: _lightgbm_table(columns, splits["fit"], spec, tfidf) for split, columns in splits.items()}
    if task_keys is None:
        return {
            task: {split: (tables[split], np.asarray(splits[split][task]).astype(int)) for split in splits}
            for task in spec.wide_labels
        }
    label = spec.label_column.name
    return {
        task: {
            split: (
                tables[split][task_keys[split] == task].reset_index(drop=True),
                np.asarray(splits[split][label])[task_keys[split] == task].astype(int),
            )
            for split in splits
        }
        for task in sorted(set(task_keys["fit"]))
    }


def _fit_lightgbm(sets: dict, params=None, seed=0):
    """One task's LightGBM model (its defaults, ``params`` applied), early-stopped on validation."""
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=5000, random_state=seed, verbose=-1, **(params or {}))
    model.fit(*sets["fit"], eval_set=[sets["valid"]], callbacks=[lightgbm.early_stopping(100, verbose=False)])
    return model


def train_lightgbm(sets: dict, seed: int = 0, params: dict | None = None) -> tuple[dict, dict]:
    """One LightGBM model per task (``params``: task -> LightGBM parameters); returns (test scores per task,
    trees per task)."""
    scores, trees = {}, {}
    for task, task_sets in sets.items():
        model = _fit_lightgbm(task_sets, (params or {}).get(task), seed)
        scores[task] = model.predict_proba(task_sets["test"][0])[:, 1]
        trees[task] = int(model.best_iteration_)
    return scores, trees


def lightgbm_space(hp) -> dict:
    """LightGBM's search space (the parameters its docs name for accuracy and over-fitting); each defaults
    to LightGBM's own default, the first trial (``PresetFirstOracle``)."""
    return dict(
        num_leaves=hp.Choice("num_leaves", [31, 15, 63, 127]),
        learning_rate=hp.Float("learning_rate", 0.01, 0.3, sampling="log", default=0.1),
        min_child_samples=hp.Choice("min_child_samples", [20, 5, 50, 100]),
        colsample_bytree=hp.Choice("colsample_bytree", [1.0, 0.5, 0.8]),
        reg_lambda=hp.Choice("reg_lambda", [0.0, 0.1, 1.0, 10.0]),
    )


def tune(
    name: str,
    data,
    lightgbm_sets,
    trials: int,
    max_steps: int,
    eval_every: int,
    work: str,
    batch_size: int = training.BATCH_SIZE,
):
    """The best of ``trials`` KerasTuner random-search trials (seed 0) by validation loss: for a deep model
    (model keyword arguments, learning rate; batches of ``batch_size``) over ``models.presets.search_space``,
    for LightGBM {task: parameters} over ``lightgbm_space``, each task searched with the same number of trials."""
    import keras
    import keras_tuner

    from components.tuner import PresetFirstOracle

    if name == "lightgbm":
        from sklearn.metrics import log_loss

        best = {}
        for task, task_sets in lightgbm_sets.items():
            valid_x, valid_y = task_sets["valid"]

            class Trees(keras_tuner.Tuner):
                def run_trial(self, trial, *args, **kwargs):
                    model = _fit_lightgbm(task_sets, lightgbm_space(trial.hyperparameters))  # noqa: B023
                    return log_loss(valid_y, model.predict_proba(valid_x)[:, 1])  # noqa: B023

            oracle = PresetFirstOracle(objective=keras_tuner.Objective("score", "min"), max_trials=trials, seed=0)
            tuner = Trees(oracle=oracle, directory=work, project_name=f"lightgbm_{task}", overwrite=True)
            tuner.search()
            best[task] = lightgbm_space(tuner.get_best_hyperparameters()[0])
        return best

    from models import build_model, presets

    def build(hp):
        found, learning_rate = presets.search_space(name, hp)
        model = build_model(name, data.input_config, **{**presets.preset(name), **found})
        model.compile(optimizer=training.optimizer(learning_rate))
        return model

    oracle = PresetFirstOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=trials, seed=0)
    tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=build, directory=work, project_name=name, overwrite=True)
    keras.utils.set_random_seed(0)
    tuner.search(
        harness._dataset(data.train_x, data.train_y, batch_size, 0),
        epochs=max_steps // eval_every,
        steps_per_epoch=eval_every,
        validation_data=(data.valid_x, data.valid_y),
        validation_batch_size=4096,
        callbacks=training.callbacks(),
        verbose=0,
    )
    return presets.search_space(name, tuner.get_best_hyperparameters()[0])
