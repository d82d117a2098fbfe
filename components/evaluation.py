"""The Evaluator: TFMA's configuration (AP, AUC and normalized entropy per task slice, calibration, counts, the overall
thresholds; RMSE, MAE and the mean label of regression tasks) and TFX's Evaluator with the per-task gate after it
(``components/task_gate.py``). On one machine the metrics are computed in one vectorized pass
(``components/slice_metrics.py``; TFMA took 44x that work's floor, ``results/scale.md``), with TFMA's keys,
validator and files; TFMA computes them where Beam runs beyond the machine."""

from __future__ import annotations

import json
import os

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import component as tfx_evaluator
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components import slice_metrics, task_gate, tfma_metrics
from components.feature_spec import FeatureSpec
from serving.contract import (
    DEFAULT_SIGNATURE,
    EVALUATION_LABEL_KEYS,
    EVALUATION_LABELS,
    EVALUATION_SIGNATURE,
    EVALUATION_WEIGHT_KEYS,
    OUTPUT_KEY,
    VALUE_KEY,
)

MIN_AUC = 0.6  # the blessing's floor on overall AUC: a model below it ranks little better than chance
MAX_AUC_DROP = 0.01  # overall AUC at most this below the last blessed model's


def slicing_specs(spec: FeatureSpec) -> list:
    """Overall, by main task, by each auxiliary task column, and by main task x each auxiliary column."""
    main = spec.task_column.name
    specs = [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[main])]
    for aux in spec.by_role("aux_task"):
        specs.append(tfma.SlicingSpec(feature_keys=[aux.name]))
        specs.append(tfma.SlicingSpec(feature_keys=[main, aux.name]))
    return specs


def eval_config(spec: FeatureSpec, min_auc: float = MIN_AUC, max_auc_drop: float = MAX_AUC_DROP) -> tfma.EvalConfig:
    """EvalConfig for the exported model.

    The model is a generic SavedModel (Keras 3 inside ``tf.saved_model.save``),
    so the signature and its output key are named explicitly.

    Args:
        spec: the feature spec (label, weight and task columns).
        min_auc: value threshold on overall AUC: a model below it is not blessed.
        max_auc_drop: change threshold: a model whose overall AUC is lower than
            the last blessed model's by more than this is not blessed.
    """
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_auc_drop}
        ),
    )
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        # TFMA gates the overall slice; every main task is gated after it, with paired intervals
        # sized to its positives (components/task_gate.py).
        tfma.MetricConfig(
            class_name="AUC",
            per_slice_thresholds=[
                tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=auc_threshold)
            ],
        ),
        tfma.MetricConfig(class_name="AUCPrecisionRecall", config='"name": "average_precision"'),
        tfma.MetricConfig(class_name="NormalizedEntropy", module=tfma_metrics.__name__),
        tfma.MetricConfig(class_name="Calibration"),
        tfma.MetricConfig(class_name="MeanLabel"),
        tfma.MetricConfig(class_name="MeanPrediction"),
    ]
    if not spec.regression_tasks:
        model_spec = tfma.ModelSpec(
            signature_name=DEFAULT_SIGNATURE,
            label_key=spec.label_column.name,
            prediction_key=OUTPUT_KEY,
            preprocessing_function_names=[],
        )
        if spec.weight_column is not None:
            model_spec.example_weight_key = spec.weight_column.name
        metrics_specs = [tfma.MetricsSpec(metrics=metrics)]
    else:
        # Binary metrics on the binary rows, regression metrics on the regression rows: the export's evaluation
        # signature splits the answers into two outputs and its preprocessing function gives each output its
        # labels and weights, 0 on the rows of the other kind (components/signatures.py). Every metric is
        # weighted by them, so a slice's example count is its rows of that kind (weighted, with a weight column).
        model_spec = tfma.ModelSpec(
            signature_name=EVALUATION_SIGNATURE,
            label_keys=EVALUATION_LABEL_KEYS,
            example_weight_keys=EVALUATION_WEIGHT_KEYS,
            preprocessing_function_names=[EVALUATION_LABELS],
        )
        weighted = tfma.ExampleWeightOptions(weighted=True, unweighted=False)
        regression = [
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="RootMeanSquaredError", module=tfma_metrics.__name__),
            tfma.MetricConfig(class_name="MeanAbsoluteError"),
            tfma.MetricConfig(class_name="MeanLabel"),
            tfma.MetricConfig(class_name="MeanPrediction"),
        ]
        metrics_specs = [
            tfma.MetricsSpec(metrics=metrics, output_names=[OUTPUT_KEY], example_weights=weighted),
            tfma.MetricsSpec(metrics=regression, output_names=[VALUE_KEY], example_weights=weighted),
        ]
    return tfma.EvalConfig(model_specs=[model_spec], slicing_specs=slicing_specs(spec), metrics_specs=metrics_specs)


TASK_GATES_KEY = "task_gates"
ENGINE_KEY = "engine"
WEIGHT_COLUMN_KEY = "weight_column"
ENGINES = slice_metrics.ENGINES


GATE_BATCH = 4096  # eval rows parsed and scored at once by the per-task gate


def _eval_files(examples, splits: list[str]) -> list[str]:
    import tensorflow as tf
    from tfx.types import artifact_utils

    return sorted(
        path
        for split in splits
        for path in tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri(examples, split), "*"))
    )


def _serving_function(model_artifact):
    import tensorflow as tf
    from tfx.utils import path_utils

    return tf.saved_model.load(path_utils.serving_model_path(model_artifact.uri)).signatures[DEFAULT_SIGNATURE]


def gate_inputs(files: list[str], gates: task_gate.TaskGates, models: list, batch: int = GATE_BATCH):
    """The per-task gate's columns of the eval rows, read and scored in batches of ``batch`` serialized
    examples: (tasks, labels, one score array per model of ``models``, each a serving signature).

    Only those columns are kept (``slice_metrics.read_eval_columns``), never the rows: the gate's memory grows
    only by the few bytes a row that the paired bootstrap over the rows needs (``components/intervals.py``).
    """
    columns, scores = slice_metrics.read_eval_columns(
        files, models, strings=(gates.task_column,), labels=gates.label_column, batch=batch
    )
    return _task_names(columns[gates.task_column]), columns[gates.label_column], scores


def _task_names(column: slice_metrics.Coded):
    """A ``Coded`` column as str, one a row (each distinct value decoded once)."""
    import numpy as np

    names = [value.decode() if isinstance(value, bytes) else str(value) for value in column.values]
    return np.array(names, dtype=object)[column.codes]


def _signatures(model_artifact) -> set[str]:
    """The signature names of a Model artifact's SavedModel, read from its proto (nothing is loaded)."""
    from tensorflow.python.saved_model import loader_impl
    from tfx.utils import path_utils

    saved = loader_impl.parse_saved_model(path_utils.serving_model_path(model_artifact.uri))
    return {name for graph in saved.meta_graphs for name in graph.signature_def}


def comparable_inputs(input_dict: dict, exec_properties: dict) -> dict:
    """``input_dict`` without its baseline model when that model lacks a signature the eval config reads (one
    exported before the spec declared regression tasks, which add the evaluation signatures): the candidate
    is then judged as on a first run, without a baseline, and the log says so (TFMA would fail on it)."""
    from tfx.utils import proto_utils

    baseline = input_dict.get("baseline_model") or []
    if not baseline:
        return input_dict
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(exec_properties["eval_config"], config)
    wanted = {name for spec in config.model_specs for name in (spec.signature_name, *spec.preprocessing_function_names)}
    missing = sorted(wanted - _signatures(baseline[0]))
    if not missing:
        return input_dict
    task_gate.log.warning(
        "Evaluator: the last blessed model (%s) has no %s signature (exported before the feature spec's regression "
        "tasks); the candidate is judged without a baseline, as on a first run",
        baseline[0].uri,
        ", ".join(missing),
    )
    return {**input_dict, "baseline_model": []}


def engine(asked: str, beam_pipeline_args) -> str:
    """The Evaluator's engine: ``direct`` (``components/slice_metrics.py``, one pass on this machine) unless Beam
    runs beyond this machine (Dataflow, Flink, Spark: ``pipelines.beam.distributed``), where TFMA spreads the rows
    over the workers; ``asked`` other than ``auto`` is taken as it is."""
    from pipelines.beam import distributed

    if asked not in ENGINES:
        raise ValueError(f"Evaluator engine {asked!r}: expected one of {list(ENGINES)}")
    if asked != "auto":
        return asked
    return "tfma" if distributed(beam_pipeline_args) else "direct"


class GatedEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator (its metrics, the overall thresholds, the blessing), then the per-task gate. The metrics
    come from TFMA, or from ``components/slice_metrics.py`` in the same formats (``engine``)."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        import tensorflow as tf
        from tfx.components.evaluator import constants
        from tfx.types import artifact_utils

        input_dict = comparable_inputs(input_dict, exec_properties)
        gates = task_gate.TaskGates.from_json(exec_properties[TASK_GATES_KEY])
        splits = json.loads(exec_properties.get("example_splits") or "null") or ["eval"]
        baseline = input_dict.get("baseline_model") or []
        models = [_serving_function(artifact_utils.get_single_instance(input_dict["model"]))]
        models += [_serving_function(baseline[0])] if baseline else []
        files = _eval_files(input_dict["examples"], splits)
        chosen = engine(exec_properties.get(ENGINE_KEY) or "auto", self._beam_pipeline_args)
        task_gate.log.info("Evaluator: engine %s", chosen)
        if chosen == "tfma":
            super().Do(input_dict, output_dict, exec_properties)
            tasks, labels, scores = gate_inputs(files, gates, models)
        else:
            tasks, labels, scores = _direct(input_dict, output_dict, exec_properties, gates, files, models)
        verdicts = task_gate.judge(tasks, labels, scores[0], scores[1] if baseline else None, gates)
        task_gate.write(artifact_utils.get_single_uri(output_dict["evaluation"]), verdicts, gates)
        failures = [failure for v in verdicts for failure in v.failures]
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        if not failures:
            return
        task_gate.log.warning("Evaluator: per-task gate failed; not blessed, not pushed:\n  %s", "\n  ".join(failures))
        if blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == constants.BLESSED_VALUE:
            tf.io.gfile.remove(os.path.join(blessing.uri, constants.BLESSED_FILE_NAME))
            with tf.io.gfile.GFile(os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME), "w") as f:
                f.write("")
            blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.NOT_BLESSED_VALUE)
        blessing.set_string_custom_property("task_gate_failures", json.dumps(failures))


def _direct(input_dict, output_dict, exec_properties, gates: task_gate.TaskGates, files, models):
    """What TFX's executor does with TFMA, from one pass over ``files`` (``components/slice_metrics.py``): the
    metrics and validations in TFMA's formats, the blessing by the eval config's thresholds; returns the
    per-task gate's inputs (tasks, labels, scores per model) from the same pass."""
    from tfx.components.evaluator import constants
    from tfx.types import artifact_utils
    from tfx.utils import io_utils, path_utils, proto_utils

    baseline = input_dict.get("baseline_model") or []
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(exec_properties["eval_config"], config)
    config = tfma.utils.update_eval_config_with_defaults(config, has_baseline=bool(baseline), rubber_stamp=True)
    tfma.utils.verify_eval_config(config)
    weight = exec_properties.get(WEIGHT_COLUMN_KEY) or None
    strings = sorted(
        {gates.task_column}
        | {key for spec in config.slicing_specs for key in (*spec.feature_keys, *spec.feature_values)}
    )
    columns, scores = slice_metrics.read_eval_columns(
        files, models, strings=tuple(strings), labels=gates.label_column, weight=weight
    )
    names = [spec.name for spec in config.model_specs if not spec.is_baseline]
    names += [spec.name for spec in config.model_specs if spec.is_baseline]
    sliced = slice_metrics.compute(
        config,
        columns,
        dict(zip(names, scores, strict=True)),
        gates.label_column,
        weight=weight,
        task_column=gates.task_column,
        regression_tasks=gates.regression_tasks,
    )
    validation = slice_metrics.validate(config, sliced)
    model = artifact_utils.get_single_instance(input_dict["model"])
    paths = {names[0]: path_utils.serving_model_path(model.uri)}
    paths.update({names[1]: path_utils.serving_model_path(baseline[0].uri)} if baseline else {})
    output_uri = artifact_utils.get_single_uri(output_dict["evaluation"])
    slice_metrics.write(output_uri, config, sliced, validation, ",".join(files), paths)
    task_gate.log.info(
        "Evaluator: %d eval rows, %d slices, validation %s", len(scores[0]), len(sliced), validation.validation_ok
    )
    # The blessing as TFX's executor writes it from TFMA's validation result.
    blessing = artifact_utils.get_single_instance(output_dict["blessing"])
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    if baseline:
        blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline[0].uri)
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline[0].id)
    if "current_component_id" in exec_properties:
        blessing.set_string_custom_property("component_id", exec_properties["current_component_id"])
    blessed = validation.validation_ok
    name = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
    io_utils.write_string_file(os.path.join(blessing.uri, name), "")
    blessing.set_int_custom_property(
        constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE
    )
    return _task_names(columns[gates.task_column]), columns[gates.label_column], scores


class _EvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        TASK_GATES_KEY: ExecutionParameter(type=str),
        ENGINE_KEY: ExecutionParameter(type=str, optional=True),
        WEIGHT_COLUMN_KEY: ExecutionParameter(type=str, optional=True),
    }


class Evaluator(tfx_evaluator.Evaluator):
    """TFX's Evaluator with the per-task gate after its metrics (``components/task_gate.py``).

    ``engine``: ``auto`` (``direct`` on this machine, TFMA when Beam runs on Dataflow, Flink or Spark), ``direct``
    (``components/slice_metrics.py``) or ``tfma``; either writes TFMA's formats. ``weight_column``: the spec's
    example weight column, which the direct engine weighs the metrics by as TFMA does.
    """

    SPEC_CLASS = _EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(GatedEvaluatorExecutor)

    def __init__(
        self,
        examples,
        model,
        eval_config,
        task_gates: task_gate.TaskGates,
        baseline_model=None,
        example_splits=("eval",),
        engine: str = "auto",
        weight_column: str | None = None,
    ):
        if engine not in ENGINES:
            raise ValueError(f"Evaluator engine {engine!r}: expected one of {list(ENGINES)}")
        # tfx.components.Evaluator.__init__ builds its own spec; this is the same with one more parameter.
        spec = _EvaluatorSpec(
            examples=examples,
            model=model,
            baseline_model=baseline_model,
            feature_slicing_spec=None,
            fairness_indicator_thresholds=json_utils.dumps(None),
            example_splits=json_utils.dumps(list(example_splits)),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            eval_config=eval_config,
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            schema=None,
            module_file=None,
            module_path=None,
            task_gates=task_gates.to_json(),
            engine=engine,
            weight_column=weight_column,
        )
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
