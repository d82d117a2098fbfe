"""The Evaluator's metrics on one machine: every slice's metrics from one pass over the eval split, written in
TFMA's formats.

Why not TFMA here: on this 2-core machine TFMA took 190 s for the 1.6M-row scale run's 116,440 eval rows, 44x
the floor of scoring them in batches and measuring each task with NumPy (``results/scale.md``). A profile
(``docs/benchmarks.md``, Scale) put the time in its per-example Python combiners: about 0.34 ms per row and
slice, with six slicing specs. Here the split is read, parsed and scored in batches (``read_eval_columns``, the
reader the per-task gate already used), and each metric is one vectorized call per slice.

What stays TFMA's: the configuration (``components.evaluation.eval_config``: slicing specs, metrics and
thresholds, defaults filled in by ``tfma.utils.update_eval_config_with_defaults`` as TFX does), the metric keys
(from ``metric_specs.to_computations``, so every key is the one TFMA would write), the validator
(``metrics_validator.validate_metrics`` per slice, combined by its ``CombineValidations``), and the output files
(``metrics``, ``validations``, ``eval_config.json``), which ``tfma.load_eval_result``,
``tfma.load_validation_result`` and TFMA's notebook views read. TFMA itself stays the engine where Beam runs
beyond this machine (Dataflow, Flink, Spark): it spreads the rows over workers (``components.evaluation``).

Definitions (``components/task_metrics.py`` and sklearn, as the per-task gate's): ``auc`` is the exact ROC AUC
and ``average_precision`` sklearn's step-wise average precision, where TFMA interpolates over 10,000
thresholds (they agree to about 0.001, tested); the others are TFMA's own definitions.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from components import task_metrics

READ_BATCH = 4096  # eval rows parsed and scored at once
# The Evaluator's engines (components.evaluation.engine): auto picks this module's one pass on one machine,
# TFMA where Beam runs beyond it.
ENGINES = ("auto", "direct", "tfma")


def _auc(labels, scores, weights):
    from sklearn.metrics import roc_auc_score

    positives = float((weights * labels).sum())
    return roc_auc_score(labels, scores, sample_weight=weights) if 0 < positives < weights.sum() else float("nan")


def _average_precision(labels, scores, weights):
    from sklearn.metrics import average_precision_score

    positives = float((weights * labels).sum())
    return average_precision_score(labels, scores, sample_weight=weights) if positives > 0 else float("nan")


def _mean(values, weights):
    return float((weights * values).sum() / weights.sum())


# A TFMA metric name (the eval config's, components.evaluation) -> its value from (labels, scores, weights).
METRICS = {
    "example_count": lambda labels, scores, weights: float(weights.sum()),
    "auc": _auc,
    "average_precision": _average_precision,
    "normalized_entropy": task_metrics.normalized_entropy,
    "calibration": task_metrics.calibration,
    "mean_label": lambda labels, scores, weights: _mean(labels, weights),
    "mean_prediction": lambda labels, scores, weights: _mean(scores, weights),
    "root_mean_squared_error": task_metrics.rmse,
    "mean_absolute_error": task_metrics.mae,
}


@dataclasses.dataclass(frozen=True)
class Coded:
    """A column of one value a row, as int32 codes into its distinct values: ``values[codes]`` is the column,
    b"" the value of a row without one. 4 bytes a row, whatever the values' length (an object array of the values
    costs 8, plus the work of comparing objects)."""

    codes: np.ndarray  # int32, one a row
    values: np.ndarray  # object: each distinct value once (bytes, or ints for an integer column), b"" among them

    def __len__(self) -> int:
        return len(self.codes)

    def isin(self, wanted) -> np.ndarray:
        """The rows whose value is one of ``wanted``, as a boolean mask."""
        wanted = set(wanted)
        return np.isin(self.codes, [code for code, value in enumerate(self.values) if value in wanted])

    def tolist(self) -> list:
        return self.values[self.codes].tolist()


def read_eval_columns(
    files: list[str],
    models: list,
    strings: tuple = (),
    labels: str | None = None,
    weight: str | None = None,
    batch: int = READ_BATCH,
) -> tuple[dict, list]:
    """The columns of the eval rows that the metrics need, and each model's scores, in batches of ``batch``
    serialized examples: ({column: array}, [scores per model of ``models``, each a serving signature]).

    ``strings``: columns kept as one value a row (the task and slicing columns; a row without one gets b""),
    each a ``Coded`` column (4 bytes a row); ``labels``: the
    label column (0/1 ints, or floats with regression tasks), as float32; ``weight``: an example weight
    column (floats or ints), as float32 (1 where a row has none). Never the rows: memory grows by these few
    bytes a row only.

    Raises:
        ValueError: a row with more than one value in a column of ``strings``, named with the file.
    """
    import tensorflow as tf

    from serving.contract import EXAMPLES_INPUT, OUTPUT_KEY

    kinds: dict = {}  # a column -> its feature's kind ("int64_list", ...), from the first row that holds it
    names: dict[str, dict] = {column: {} for column in strings}
    codes: dict[str, list] = {column: [] for column in strings}
    label_parts, weight_parts, scores = [], [], [[] for _ in models]
    for records in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(batch):
        for column in (*strings, labels, weight):
            if column is not None and column not in kinds:
                kinds.update(_kind(records, column))
        # Strings, or integers (an integer-coded aux task column), as the rows hold them.
        integer = {column: kinds.get(column) == "int64_list" for column in (*strings, weight)}
        features = {column: tf.io.VarLenFeature(tf.int64 if integer[column] else tf.string) for column in strings}
        if labels is not None:  # 0/1 ints, or floats with regression tasks (a float label column)
            features[labels] = tf.io.FixedLenFeature([], tf.float32 if kinds.get(labels) == "float_list" else tf.int64)
        if weight is not None:  # a float column, or an integer one (a CSV of whole weights)
            dtype, default = (tf.int64, 1) if integer[weight] else (tf.float32, 1.0)
            features[weight] = tf.io.FixedLenFeature([], dtype, default_value=default)
        parsed = tf.io.parse_example(records, features)
        rows = int(tf.size(records))
        for column in strings:
            sparse = parsed[column]
            if sparse.indices.shape[0] and np.bincount(sparse.indices[:, 0].numpy()).max() > 1:
                raise ValueError(f"{files}: column {column!r} has rows with several values; slices need one a row")
            known = names[column]
            batch_codes = np.full(rows, known.setdefault(b"", len(known)), dtype="int32")  # b"": no value
            if sparse.indices.shape[0]:
                batch_names, inverse = np.unique(sparse.values.numpy(), return_inverse=True)
                lookup = np.array([known.setdefault(_plain(name), len(known)) for name in batch_names], dtype="int32")
                batch_codes[sparse.indices[:, 0].numpy()] = lookup[inverse]
            codes[column].append(batch_codes)
        if labels is not None:
            label_parts.append(parsed[labels].numpy().astype("float32"))
        if weight is not None:
            weight_parts.append(parsed[weight].numpy().astype("float32"))
        for model, out in zip(models, scores, strict=True):
            out.append(model(**{EXAMPLES_INPUT: records})[OUTPUT_KEY].numpy().reshape(-1).astype("float32"))
    columns = {}
    for column in strings:
        values = np.empty(len(names[column]), dtype=object)
        values[:] = sorted(names[column], key=names[column].get)  # element by element: b"" beside integers
        columns[column] = Coded(np.concatenate(codes[column]) if codes[column] else np.array([], "int32"), values)
    if labels is not None:
        columns[labels] = np.concatenate(label_parts) if label_parts else np.array([], dtype="float32")
    if weight is not None:
        columns[weight] = np.concatenate(weight_parts) if weight_parts else np.array([], dtype="float32")
    return columns, [np.concatenate(s) if s else np.array([], dtype="float32") for s in scores]


def _plain(value):
    """A NumPy scalar as the Python value TFMA keys a slice by (int, bytes)."""
    return value.item() if isinstance(value, np.generic) else value


def _kind(records, column: str) -> dict:
    """{column: its feature's kind, "int64_list", "float_list" or "bytes_list"} from the first of ``records`` that
    holds ``column``; {} when none does."""
    import tensorflow as tf

    for record in records.numpy():
        feature = tf.train.Example.FromString(record).features.feature
        if column in feature:
            return {column: feature[column].WhichOneof("kind")}
    return {}


def slices(eval_config, columns: dict) -> list[tuple[tuple, np.ndarray]]:
    """(TFMA's slice key, the rows' mask) for every slice of the eval config's slicing specs that has rows: the
    overall slice ``()``, and per spec one slice for each combination of its columns' values present."""
    n = len(next(iter(columns.values()))) if columns else 0
    result = []
    for spec in eval_config.slicing_specs:
        keys = sorted(spec.feature_keys)
        fixed = dict(spec.feature_values)
        if not keys and not fixed:
            result.append(((), np.ones(n, dtype=bool)))
            continue
        names = keys + sorted(fixed)
        coded = [columns[name] for name in names]
        present = np.ones(n, dtype=bool)
        for column in coded:
            present &= ~column.isin([b""])
        for name, value in fixed.items():
            present &= columns[name].isin([value.encode()])
        if not present.any():
            continue
        # Each column's codes as ranks of its values present (bytes or integers, never both), so the slices come
        # in the order of their values; the slice key keeps each value as it is (TFMA keys an int as an int).
        ranks, distinct = [], []
        for column in coded:
            codes = column.codes[present]
            seen = np.unique(codes)
            seen = seen[np.argsort(column.values[seen].tolist(), kind="stable")]  # by value
            rank = np.zeros(len(column.values), dtype="int32")
            rank[seen] = np.arange(len(seen))
            ranks.append(rank[codes])
            distinct.append(column.values[seen])
        combos, inverse = np.unique(np.stack(ranks, axis=1), axis=0, return_inverse=True)
        where = np.flatnonzero(present)
        for index, combo in enumerate(combos):
            mask = np.zeros(n, dtype=bool)
            mask[where[inverse.reshape(-1) == index]] = True
            key = tuple((name, values[rank]) for name, values, rank in zip(names, distinct, combo, strict=True))
            result.append((key, mask))
    return result


def metric_keys(eval_config) -> list:
    """The public metric keys TFMA would write for ``eval_config`` (its defaults filled in), in its order."""
    from tensorflow_model_analysis.metrics import metric_specs

    keys = []
    for computation in metric_specs.to_computations(eval_config.metrics_specs, eval_config=eval_config):
        keys += [key for key in computation.keys if not key.name.startswith("_") and key not in keys]
    return keys


def compute(
    eval_config,
    columns: dict,
    scores: dict,
    label: str,
    weight: str | None = None,
    task_column: str | None = None,
    regression_tasks: tuple = (),
) -> list[tuple[tuple, dict]]:
    """Every slice's metrics, keyed as TFMA keys them: [(slice key, {MetricKey: value})].

    ``scores``: the model spec's name (``""`` alone, ``candidate`` and ``baseline`` with a baseline) -> its scores
    of the rows. A key's output picks its rows: ``probability`` the rows of binary tasks, ``value`` those of the
    ``regression_tasks`` (the evaluation signature's split, ``components/signatures.py``), no output name every
    row; it is weighted by ``weight`` when TFMA weighs it. With a baseline, each candidate metric also gets its
    difference from the baseline's (TFMA's ``is_diff`` keys), which the change thresholds read.

    Raises:
        ValueError: a metric of the eval config that is not in ``METRICS``, named.
    """
    from tensorflow_model_analysis.utils import model_util

    from serving.contract import VALUE_KEY

    keys = metric_keys(eval_config)
    unknown = sorted({key.name for key in keys} - set(METRICS))
    if unknown:
        raise ValueError(
            f"eval config metric(s) {unknown} have no vectorized definition in components/slice_metrics.py "
            f"(it has {sorted(METRICS)}); run TFMA for them (the Evaluator's engine='tfma')"
        )
    labels = columns[label].astype("float64")
    weights = columns[weight].astype("float64") if weight else np.ones(len(labels))
    regression = (
        columns[task_column].isin([t.encode() for t in regression_tasks])
        if regression_tasks
        else np.zeros(len(labels), dtype=bool)
    )
    kinds = {"": np.ones(len(labels), dtype=bool), VALUE_KEY: regression}
    baseline = model_util.get_baseline_model_spec(eval_config)
    result = []
    for slice_key, mask in slices(eval_config, columns):
        metrics = {}
        for key in keys:
            rows = mask & kinds.get(key.output_name, ~regression)
            if key.name == "example_count" or rows.any():
                w = weights[rows] if key.example_weighted else np.ones(int(rows.sum()))
                value = METRICS[key.name](labels[rows], scores[key.model_name][rows].astype("float64"), w)
            else:
                value = float("nan")
            metrics[key] = float(value)
        if baseline is not None:
            for key, value in list(metrics.items()):
                base = key.make_baseline_key(baseline.name)
                if key.model_name != baseline.name and base in metrics:
                    metrics[key.make_diff_key()] = value - metrics[base]
        result.append((slice_key, metrics))
    return result


def validate(eval_config, sliced_metrics: list):
    """TFMA's ValidationResult for the sliced metrics: its validator on each slice, combined as TFMA combines
    them (a threshold's slice without rows fails; no thresholds at all is not ok)."""
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.writers.metrics_plots_and_validations_writer import CombineValidations

    combine = CombineValidations(eval_config, rubber_stamp=False)  # as TFX's Evaluator runs TFMA
    accumulator = combine.create_accumulator()
    for sliced in sliced_metrics:
        accumulator = combine.add_input(accumulator, metrics_validator.validate_metrics(sliced, eval_config))
    return combine.extract_output(accumulator)


def write(output_dir: str, eval_config, sliced_metrics: list, validation, data_location: str, models: dict) -> None:
    """The evaluation as TFMA writes it: ``metrics-00000-of-00001.tfrecord`` (one MetricsForSlice a slice),
    ``validations.tfrecord`` and ``eval_config.json`` (``models``: model name -> its SavedModel path)."""
    import tensorflow as tf
    from tensorflow_model_analysis.writers import eval_config_writer
    from tensorflow_model_analysis.writers.metrics_plots_and_validations_writer import convert_slice_metrics_to_proto

    tf.io.gfile.makedirs(output_dir)
    with tf.io.TFRecordWriter(os.path.join(output_dir, "metrics-00000-of-00001.tfrecord")) as out:
        for sliced in sliced_metrics:
            out.write(convert_slice_metrics_to_proto(sliced, add_metrics_callbacks=None).SerializeToString())
    with tf.io.TFRecordWriter(os.path.join(output_dir, "validations.tfrecord")) as out:
        out.write(validation.SerializeToString())
    run = eval_config_writer._serialize_eval_run(eval_config, data_location, "tfrecord", models)  # TFMA's own JSON
    with tf.io.gfile.GFile(os.path.join(output_dir, "eval_config.json"), "w") as out:
        out.write(run)
