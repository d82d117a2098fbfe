"""Where a pipeline run's facts live: paths, the model and its hyperparameters, and ``build``.

The local, Airflow and Kubeflow runners and the TFX CLI's entry file
(``pipelines/tfx_cli.py``) all build the pipeline here, from
``grec_pipeline.create_pipeline`` (the pure constructor, which knows no paths).
"""

from __future__ import annotations

import json
import os

import schemas
from components.row_check import DEFAULT_MAX_BAD_ROWS
from models import DEFAULT_MODEL
from pipelines.preflight import DataRootError, check_data_root

PIPELINE_NAME = "grec"


def default_paths(root: str | None = None, dataset: str = "synthetic", spec: str | None = None) -> dict:
    """Paths of a local run: data, artifacts and served models under ``root`` (default ``$GREC_HOME``,
    else the current folder); the spec is ``spec``, else ``$GREC_SPEC``, else the repository's
    ``schemas/<dataset>/feature_spec.yaml``; the schema is ``schema.pbtxt`` beside the spec."""
    root = os.path.abspath(root or os.environ.get("GREC_HOME") or os.getcwd())
    spec = spec or os.environ.get("GREC_SPEC") or schemas.path(dataset, "feature_spec.yaml")
    spec = os.path.abspath(spec)
    return {
        "data_root": os.environ.get("GREC_DATA_ROOT") or os.path.join(root, "data", dataset),
        "feature_spec_path": spec,
        "schema_path": os.path.join(os.path.dirname(spec), "schema.pbtxt"),
        "pipeline_root": os.path.join(root, "pipeline_root", PIPELINE_NAME),
        "serving_model_dir": os.path.join(root, "serving_models", PIPELINE_NAME),
        "metadata_path": os.path.join(root, "pipeline_root", PIPELINE_NAME, "metadata.sqlite"),
    }


def env_train_steps() -> int | None:
    """The Trainer's step budget from ``$GREC_TRAIN_STEPS``, for the runners configured by environment
    (the TFX CLI's file, Airflow's DAG); None when unset: the pipeline's default."""
    steps = os.environ.get("GREC_TRAIN_STEPS", "").strip()
    if not steps:
        return None
    if not steps.isdigit() or int(steps) < 1:
        raise ValueError(f"GREC_TRAIN_STEPS={steps!r}: expected a whole number of training steps, at least 1")
    return int(steps)


def options_from_env(data_root: str | None = None) -> dict:
    """``build``'s options for the runners configured by environment (the TFX CLI's file, Airflow's DAG), the
    same as the local runner's flags: ``$GREC_MODEL`` (``--model``), ``$GREC_PRESET`` (``--preset``),
    ``$GREC_HYPERPARAMETERS`` (``--hyperparameters``, JSON), ``$GREC_TRAIN_STEPS`` (``--train-steps``),
    ``$GREC_TRAIN_SPANS`` (``--train-spans``), ``$GREC_WARM_START`` (``--warm-start``: 1 or true). With
    ``data_root``, a data root of spans is recognised as the local runner's pre-flight does (the TFX CLI's
    file runs that pre-flight itself).

    Raises:
        ValueError: a value that is not what its flag takes, named.
    """
    text = os.environ.get("GREC_HYPERPARAMETERS", "").strip() or "{}"
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"GREC_HYPERPARAMETERS={text!r} is not JSON: {e}") from None
    model = os.environ.get("GREC_MODEL", "").strip() or DEFAULT_MODEL
    preset = os.environ.get("GREC_PRESET", "").strip() or "small"
    options = {"trainer_config": trainer_config(model, overrides, preset), "train_steps": env_train_steps()}
    spans = os.environ.get("GREC_TRAIN_SPANS", "").strip()
    if spans:
        if not spans.isdigit() or int(spans) < 1:
            raise ValueError(f"GREC_TRAIN_SPANS={spans!r}: expected a whole number of spans, at least 1")
        options["train_spans"] = int(spans)
    warm = os.environ.get("GREC_WARM_START", "").strip().lower()
    if warm not in ("", "0", "1", "false", "true"):
        raise ValueError(f"GREC_WARM_START={warm!r}: expected 1, true, 0 or false")
    if warm in ("1", "true"):
        options["warm_start"] = True
    if data_root is not None:
        from pipelines.spans import find_spans

        found = find_spans(data_root)
        if found is not None:
            options["span_pattern"] = found.pattern
    return options


def trainer_config(model: str = DEFAULT_MODEL, overrides: dict | None = None, preset: str = "small") -> dict:
    """The Trainer's model, hyperparameters and optimizer: the model's preset with ``overrides`` applied; an
    ``optimizer`` key among them names the recipe's optimizer (``models.training.split_optimizer``).

    Raises:
        ValueError: an unknown model or optimizer, or a key the model does not take (the accepted keys named).
    """
    from models import presets, training

    optimizer, overrides = training.split_optimizer(overrides)
    return {"model": model, "hyperparameters": presets.resolve(model, overrides, preset), "optimizer": optimizer}


def preflight(
    paths: dict,
    data_format: str = "csv",
    time_split: dict | None = None,
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS,
    span: int | None = None,
):
    """Checks spec, schema and data folder before anything runs; returns the data layout. A data root of
    spans (``pipelines/spans.py``): the folder of ``span`` (None: the newest) is checked."""
    import dataclasses

    from components.feature_spec import check_against_schema, load_feature_spec
    from components.serving_names import check_serving_names
    from pipelines.spans import SpanError, find_spans

    spec = load_feature_spec(paths["feature_spec_path"])
    check_serving_names(spec)
    if not os.path.exists(paths["schema_path"]):
        raise DataRootError(
            f"{paths['schema_path']}: missing; the schema goes beside the feature spec "
            f"(python -m components.schema_draft {paths['feature_spec_path']} > {paths['schema_path']})"
        )
    check_against_schema(spec, paths["schema_path"])
    one_input = bool(time_split)
    spans = find_spans(paths["data_root"])
    if spans is None:
        if span is not None:
            raise SpanError(f"--span {span}: {paths['data_root']} has no span folders (span-N or YYYY-MM-DD)")
        return check_data_root(paths["data_root"], spec, data_format, one_input, max_bad_rows)
    found = check_data_root(spans.folder(span), spec, data_format, one_input, max_bad_rows)
    return dataclasses.replace(found, span_pattern=spans.pattern, span=span, spans=tuple(sorted(spans.folders)))


def build(paths: dict | None = None, metadata: bool = True, **kwargs):
    """The pipeline for ``paths`` (over ``default_paths()``), built the same way for every runner;
    ``trainer_config`` is completed from the model's preset and checked here, before anything runs.
    ``metadata``: a local SQLite metadata store at ``paths["metadata_path"]`` (Kubeflow brings its own)."""
    from tfx import v1 as tfx

    from pipelines import beam
    from pipelines.grec_pipeline import create_pipeline

    paths = {**default_paths(), **(paths or {})}
    connection = (
        tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"]) if metadata else None
    )
    config = dict(kwargs.pop("trainer_config", None) or {})
    overrides = dict(config.pop("hyperparameters", None) or {})
    if "optimizer" in config:  # given beside the hyperparameters (as trainer_config returns it)
        overrides["optimizer"] = config.pop("optimizer")
    config.update(trainer_config(config.pop("model", DEFAULT_MODEL), overrides, config.pop("preset", "small")))
    return create_pipeline(
        pipeline_name=kwargs.pop("pipeline_name", PIPELINE_NAME),
        pipeline_root=paths["pipeline_root"],
        data_root=paths["data_root"],
        feature_spec_path=paths["feature_spec_path"],
        schema_path=paths["schema_path"],
        serving_model_dir=paths["serving_model_dir"],
        metadata_connection_config=connection,
        beam_pipeline_args=kwargs.pop("beam_pipeline_args", beam.beam_pipeline_args("direct")),
        trainer_config=config,
        **kwargs,
    )
