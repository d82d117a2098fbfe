"""The GRec TFX pipeline: ExampleGen -> ... -> Pusher.

``create_pipeline`` is the pure constructor: it knows no paths or defaults of a
run (``pipelines/config.py``) and no runner (``local_runner.py``,
``airflow_dag.py``, ``kubeflow_runner.py``; the TFX CLI's file is ``tfx_cli.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2, range_config_pb2

from components.anomaly_gate import AnomalyGate
from components.drift_gate import (
    DEFAULT_CATEGORICAL_THRESHOLD,
    DEFAULT_NUMERICAL_THRESHOLD,
    DriftGate,
    LatestIfAny,
    drift_kinds,
)
from components.evaluation import MAX_AUC_DROP, MIN_AUC, Evaluator, eval_config
from components.example_gen.component import (
    CheckedImportExampleGen,
    SpecCsvExampleGen,
    TimeSplitCsvExampleGen,
    TimeSplitImportExampleGen,
)
from components.example_gen.splits import DEFAULT_VALIDATION_FRACTION, VALIDATION
from components.feature_spec import load_feature_spec
from components.pusher import idempotent_pusher
from components.row_check import DEFAULT_MAX_BAD_ROWS
from components.serving_names import check_serving_names
from components.task_gate import TaskGates
from pipelines.preflight import check_tuning

# What Transform, the Trainer and the Evaluator run (serving: the contract's names, the warm-up rows' encoding).
CODE_PACKAGES = ("components", "models", "serving")


def code_fingerprint(root: str | None = None, packages=CODE_PACKAGES) -> str:
    """sha256 over the Python files of ``packages`` (under ``root``, default: where they are imported from):
    their paths relative to the package's parent folder and their bytes."""
    digest = hashlib.sha256()
    for package in packages:
        top = os.path.join(root, package) if root else importlib.util.find_spec(package).submodule_search_locations[0]
        for folder, dirs, files in sorted(os.walk(top)):
            dirs.sort()
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, os.path.dirname(top)).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read() + b"\0")
    return digest.hexdigest()[:16]


HASH_SPLIT = {"train": 4, "eval": 1}  # one input without a time split: 80 % train, 20 % eval by a stable hash


def example_gen_component(
    data_root: str,
    spec,
    data_format: str = "csv",
    time_split: dict | None = None,
    input_pattern: str | None = None,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
    validation_fraction: float = 0.0,
    span_pattern: str | None = None,
    span: int | None = None,
):
    """ExampleGen of ``data_root`` (of its newest span with ``span_pattern``, TFX's ``span-{SPAN}`` or
    ``{YYYY}-{MM}-{DD}`` folder pattern, or of span ``span``): the ``train/`` and ``eval/`` folders as they
    are; or one input (``input_pattern``, default every file in ``data_root``) split by the spec's time column with
    ``time_split``, else by a stable hash (``HASH_SPLIT``). CSV columns are read with the spec's types;
    bad rows go to the ``bad_rows`` output, up to ``max_bad_rows`` per input split; ``validation_fraction``
    of ``train`` becomes the ``validation`` split (``components/example_gen/splits.py``)."""
    checks = {"spec": spec.to_dict(), "max_bad_rows": max_bad_rows, "validation_fraction": validation_fraction}
    if span is not None and span_pattern is None:
        raise ValueError(f"span {span}: the data root has no span folders (give span_pattern)")
    if span is not None:
        checks["range_config"] = range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(start_span_number=span, end_span_number=span)
        )
    prefix = f"{span_pattern}/" if span_pattern else ""
    if time_split is not None:
        if spec.time_column is None:
            raise ValueError(f"{spec.path or spec.name}: time_split needs a column with role 'time'")
        split_gen = TimeSplitCsvExampleGen if data_format == "csv" else TimeSplitImportExampleGen
        return split_gen(
            input_base=data_root,
            time_column=spec.time_column.name,
            pattern=prefix + (input_pattern or "*"),
            **time_split,
            **checks,
        )
    output_config = None
    if input_pattern is None:
        splits = example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name="train", pattern=prefix + "train/*"),
                example_gen_pb2.Input.Split(name="eval", pattern=prefix + "eval/*"),
            ]
        )
    else:
        splits = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=prefix + input_pattern)])
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=n) for name, n in HASH_SPLIT.items()]
            )
        )
    if data_format == "csv":
        # The id users and their tooling know (pipeline_root/grec/CsvExampleGen/...).
        return SpecCsvExampleGen(
            input_base=data_root, input_config=splits, output_config=output_config, **checks
        ).with_id("CsvExampleGen")
    return CheckedImportExampleGen(
        input_base=data_root, input_config=splits, output_config=output_config, **checks
    ).with_id("ImportExampleGen")


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    feature_spec_path: str,
    schema_path: str,
    serving_model_dir: str,
    metadata_connection_config=None,
    trainer_config: dict | None = None,
    train_steps: int | None = None,
    eval_steps: int | None = None,
    min_auc: float = MIN_AUC,
    max_auc_drop: float = MAX_AUC_DROP,
    data_format: str = "csv",
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    time_split: dict | None = None,
    input_pattern: str | None = None,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    task_gates: dict | None = None,
    tune_trials: int = 0,
    span_pattern: str | None = None,
    span: int | None = None,
    train_spans: int | None = None,
    drift_thresholds: dict | None = None,
    warm_start: bool = False,
    evaluator_engine: str = "auto",
) -> tfx.dsl.Pipeline:
    """Builds the GRec pipeline.

    Args:
        pipeline_name: name in the metadata store (and the TFX CLI).
        pipeline_root: where artifacts go.
        data_root: folder with ``train/`` and ``eval/`` subfolders (split by
            time, as ``data_tools`` writes them) of CSV or TFRecord files; with
            ``time_split``, any files directly in it (one split).
        feature_spec_path: the data set's feature spec.
        schema_path: the curated raw schema (``schema.pbtxt``).
        serving_model_dir: TF Serving model base path ``<root>/<model_name>``;
            blessed models are pushed to ``<serving_model_dir>/<version>/``.
        metadata_connection_config: ML Metadata connection (runner's choice).
        trainer_config: Trainer ``custom_config`` additions (model, hyperparameters...).
        train_steps, eval_steps: Trainer steps (``train_steps`` None: ``models.training.MAX_STEPS``, an upper
            bound: the Trainer stops early on the validation split) and validation batches a round (None: the
            whole validation split, the same rows each round).
        min_auc: the Evaluator's value threshold on overall AUC.
        max_auc_drop: its change threshold: overall AUC at most this below the
            last blessed model's.
        data_format: ``csv`` or ``tfrecord``.
        beam_pipeline_args: see ``pipelines/beam.py``.
        enable_cache: reuse executions whose inputs did not change.
        time_split: split ``data_root/*`` inside ExampleGen by the spec's time
            column: ``{"eval_days": 7}`` (the last 7 days before the latest
            row are eval) or ``{"eval_start": <unix seconds>}``.
        input_pattern: one input (files under ``data_root`` matching it, e.g.
            ``train/*``) instead of the ``train/`` and ``eval/`` folders, split
            by time with ``time_split``, else 80/20 by a stable hash.
        max_bad_rows: ExampleGen quarantines rows that do not fit the spec
            (and corrupt TFRecords); more than this per input split stops the
            run: a count (>= 1), a fraction of the split's rows (< 1), 0 strict.
        validation_fraction: the share of the training rows ExampleGen carves
            out as the ``validation`` split (the latest by time when the spec
            has a time column, else by a hash of the context), which the
            Trainer early-stops on; the Evaluator reads only ``eval``. 0: the
            Trainer validates on ``eval`` (the pre-validation behaviour).
        task_gates: the per-task gate (``components/task_gate.py``):
            ``min_positives`` (default 20), ``max_drop`` (0.01) and
            ``floors`` ({task: {metric: worst acceptable value}}) and ``compare`` (the metrics judged
            against the last blessed model): ``components.task_gate``.
        tune_trials: run TFX's Tuner before the Trainer: this many KerasTuner
            trials over the model's search space, each trained as the Trainer
            trains and scored on the validation split (``components/tuner.py``);
            the Trainer takes the best. 0: no Tuner.
        span_pattern: a data root of spans (``pipelines/spans.py``): TFX's folder pattern (``span-{SPAN}``,
            ``{YYYY}-{MM}-{DD}``); ExampleGen ingests the newest span, or ``span``.
        train_spans: the rolling window: Transform and the Trainer read the latest N spans' examples
            (TFX's ``SpanRangeStrategy``; None: this run's span only); the Evaluator and the per-task gate
            judge on this run's span's eval rows.
        drift_thresholds: with spans, the drift check between days (``components/drift_gate.py``):
            ``{"categorical": L-infinity, "numerical": Jensen-Shannon}`` thresholds against the last
            accepted span (None: the defaults there; a threshold of 0 turns that check off).
        warm_start: the Trainer starts from the last blessed model's weights (TFX ``base_model``, the same
            resolver as the Evaluator's baseline), id-indexed rows carried by value (``models.warm_start``);
            a cold start, said in the Trainer's log, when there is none or its architecture differs.
        evaluator_engine: how the Evaluator computes its metrics (``components.evaluation.engine``): ``auto``
            (one vectorized pass on this machine, TFMA when Beam runs on Dataflow, Flink or Spark), ``direct``
            or ``tfma``; the same files and blessing either way.

    Raises:
        ValueError: ``tune_trials`` without a validation split (tuning on eval would pick the model on the
            rows that judge it).
    """
    from models.training import MAX_STEPS  # the model package only when a pipeline is built

    check_tuning(tune_trials, validation_fraction)
    spec = load_feature_spec(feature_spec_path)
    check_serving_names(spec)  # every runner: before anything runs, not at the export after training
    spec_dict = spec.to_dict()
    # TFX caches an execution by its inputs and properties, not by the code that a module path
    # ("components.trainer.run_fn") names: the fingerprint of that code makes an edit re-run
    # Transform and the Trainer instead of silently reusing their old outputs.
    custom_config = {
        "feature_spec": spec_dict,
        "feature_spec_path": feature_spec_path,
        "code_fingerprint": code_fingerprint(),
    }

    example_gen = example_gen_component(
        data_root, spec, data_format, time_split, input_pattern, max_bad_rows, validation_fraction, span_pattern, span
    )
    training_examples = example_gen.outputs["examples"]
    window = None
    if train_spans:
        if not span_pattern:
            raise ValueError(f"train_spans {train_spans}: the data root has no span folders (span_pattern)")
        # The latest N spans' examples in the metadata store, this run's included (TFX's resolver). With an
        # older ``span`` asked for, the window ends there.
        if span is not None:
            ranges = range_config_pb2.RangeConfig(
                static_range=range_config_pb2.StaticRange(
                    start_span_number=max(0, span - train_spans + 1), end_span_number=span
                )
            )
        else:
            ranges = range_config_pb2.RangeConfig(rolling_range=range_config_pb2.RollingRange(num_spans=train_spans))
        window = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.SpanRangeStrategy,
            config={"range_config": ranges},
            examples=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples, producer_component_id=example_gen.id),
        ).with_id("span_window")
        window.add_upstream_node(example_gen)
        training_examples = window.outputs["examples"]

    # Statistics of every split.
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])

    # The curated schema (not an inferred one).
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)

    # Anomalies of every split against the schema...
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )

    # ...stop the run here, naming feature and anomaly.
    gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"])

    # Spans: the new day against the last accepted day (a drifted day stops here and is no baseline).
    drift = baseline_statistics = None
    if span_pattern:
        thresholds = {"categorical": DEFAULT_CATEGORICAL_THRESHOLD, "numerical": DEFAULT_NUMERICAL_THRESHOLD}
        thresholds.update(drift_thresholds or {})
        baseline_statistics = tfx.dsl.Resolver(
            strategy_class=LatestIfAny,
            statistics=tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.ExampleStatistics,
                producer_component_id="DriftGate",
                output_key="accepted",
            ),
        ).with_id("last_accepted_statistics")
        drift = DriftGate(
            statistics=statistics_gen.outputs["statistics"],
            examples=example_gen.outputs["examples"],
            schema=schema_gen.outputs["schema"],
            baseline=baseline_statistics.outputs["statistics"],
            kinds=json.dumps(drift_kinds(spec_dict)),
            categorical_threshold=float(thresholds["categorical"]),
            numerical_threshold=float(thresholds["numerical"]),
        ).with_id("DriftGate")

    # Vocabularies, scaling, tokenisation from the feature spec.
    transform = tfx.components.Transform(
        examples=training_examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="components.preprocessing.preprocessing_fn",
        custom_config=custom_config,
    )
    transform.add_upstream_node(gate)
    if drift:
        transform.add_upstream_node(drift)

    # Optional: the best hyperparameters on the validation split, each trial trained as the Trainer trains.
    training = dict(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps or MAX_STEPS),
        eval_args=tfx.proto.EvalArgs(num_steps=eval_steps, splits=[VALIDATION if validation_fraction else "eval"]),
        custom_config={
            **custom_config,
            **(trainer_config or {}),
            "tune_trials": tune_trials,
            "warm_start": warm_start,
        },
    )
    tuner = tfx.components.Tuner(tuner_fn="components.tuner.tuner_fn", **training) if tune_trials else None

    # The latest blessed model: the baseline of the change threshold and, with warm_start, the Trainer's start.
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")

    # GRec (or a baseline) on the transformed examples.
    trainer = tfx.components.Trainer(
        run_fn="components.trainer.run_fn",
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        base_model=model_resolver.outputs["model"] if warm_start else None,
        **training,
    )

    # AP and AUC per task slice on the raw eval split; blessing by the eval config's overall thresholds,
    # then every main task gated against the last blessed model (components/task_gate.py).
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=eval_config(spec, min_auc=min_auc, max_auc_drop=max_auc_drop),
        task_gates=TaskGates(
            task_column=spec.task_column.name,
            label_column=spec.label_column.name,
            regression_tasks=tuple(spec.regression_tasks),
            **(task_gates or {}),
        ),
        example_splits=["eval"],  # never the validation split the Trainer early-stopped on
        engine=evaluator_engine,
        weight_column=spec.weight_column.name if spec.weight_column is not None else None,
    )

    # Only a blessed model reaches the TF Serving model base path, and only once.
    pusher = idempotent_pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            *([window] if window else []),
            statistics_gen,
            schema_gen,
            example_validator,
            gate,
            *([baseline_statistics, drift] if drift else []),
            transform,
            *([tuner] if tuner else []),
            model_resolver,
            trainer,
            evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
