"""Runs the GRec pipeline locally with LocalDagRunner (what `tfx run create --engine=local` does).

    python -m pipelines.local_runner [--data-root data/synthetic] [--model mmoe] [--train-steps 3000]
    python -m pipelines.local_runner --spec my_spec/feature_spec.yaml --data-root my_data   # your own data
    python -m pipelines.local_runner --data-root my_data/ --eval-days 7   # one folder of files, split by time
    python -m pipelines.local_runner --dataset aliexpress    # data/aliexpress from data_tools.aliexpress

Data, artifacts and served models go under ``$GREC_HOME`` (default: the
current folder; ``./run.sh`` runs in the repository): data/<dataset>,
pipeline_root/grec/, serving_models/grec/ (the TF Serving model base path). The feature
spec is ``--spec`` (its schema.pbtxt beside it), else ``$GREC_SPEC``, else ``schemas/<dataset>/``. Each model starts
from its own preset (``models/presets.py``); ``--hyperparameters`` overrides keys.
Before any component runs, the data folder is checked against the spec
(``pipelines/preflight.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from components.example_gen.splits import DEFAULT_VALIDATION_FRACTION
from components.row_check import DEFAULT_MAX_BAD_ROWS, REPORTED
from components.slice_metrics import ENGINES
from components.task_gate import DEFAULT_COMPARE, DEFAULT_MAX_DROP, DEFAULT_MIN_POSITIVES, METRICS, TaskGates
from pipelines.config import (  # noqa: F401 (re-exported for callers)
    DEFAULT_MODEL,
    PIPELINE_NAME,
    build,
    default_paths,
    preflight,
    trainer_config,
)
from pipelines.preflight import (  # noqa: F401 (re-exported for callers)
    DataRootError,
    Layout,
    check_data_root,
    check_tuning,
)
from pipelines.spans import parse_span


def run(paths: dict | None = None, layout: Layout | None = None, **kwargs):
    """Checks spec, schema and data folder (unless ``layout`` says a check already ran), then builds
    and runs the pipeline with LocalDagRunner. Beam: ``beam_pipeline_args``, else ``beam_runner`` (default
    ``auto``: ``pipelines.beam.resolve`` by the input's size) with ``beam_options``."""
    from tfx import v1 as tfx

    paths = {**default_paths(), **(paths or {})}
    if layout is None:
        layout = preflight(
            paths,
            kwargs.get("data_format", "csv"),
            kwargs.get("time_split"),
            kwargs.get("max_bad_rows", DEFAULT_MAX_BAD_ROWS),
            kwargs.get("span"),
        )
    if "beam_pipeline_args" not in kwargs:  # the runner asked for (default: auto, by the input's size)
        from pipelines import beam

        kwargs["beam_pipeline_args"] = beam.local_args(
            kwargs.pop("beam_runner", beam.AUTO), [f for _, f in layout.folders], kwargs.pop("beam_options", None)
        )
    kwargs.setdefault("input_pattern", layout.pattern)
    kwargs.setdefault("span_pattern", layout.span_pattern)
    if layout.span is not None:
        kwargs.setdefault("span", layout.span)
    pipeline = build(paths, **kwargs)
    return tfx.orchestration.LocalDagRunner().run(pipeline)


def parse_floors(items: list[str]) -> dict:
    """``["cvr:average_precision=0.1", ...]`` -> ``{"cvr": {"average_precision": 0.1}}``."""
    floors: dict = {}
    for item in items:
        try:
            task, rest = item.split(":", 1)
            metric, value = rest.split("=", 1)
            floors.setdefault(task, {})[metric] = float(value)
        except ValueError:
            raise ValueError(
                f"--task-floor {item!r}: expected TASK:METRIC=VALUE, e.g. cvr:average_precision=0.1"
            ) from None
    return floors


def main(argv=None) -> int:
    from pipelines import beam, output

    argv = list(sys.argv[1:] if argv is None else argv)
    output.configure("--verbose" in argv)  # before the registry imports TensorFlow
    from components.drift_gate import DEFAULT_CATEGORICAL_THRESHOLD, DEFAULT_NUMERICAL_THRESHOLD
    from models import MODEL_NAMES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dataset",
        default="synthetic",
        help="schemas/<dataset>/ spec and schema, " "$GREC_HOME/data/<dataset> data (default: %(default)s)",
    )
    parser.add_argument("--spec", help="your feature spec (schema.pbtxt beside it); default: $GREC_SPEC or --dataset's")
    parser.add_argument("--data-root", help="default: $GREC_HOME/data/<dataset>")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=MODEL_NAMES,
        metavar="MODEL",
        help=f"{', '.join(MODEL_NAMES)} (models/registry.py; default: %(default)s)",
    )
    parser.add_argument("--preset", default="small", help="small (CPU-sized, default) or paper (D=256)")
    parser.add_argument(
        "--hyperparameters",
        default="{}",
        help="JSON overriding keys of the model's preset, e.g. '{\"dim\": 128}', and the optimizer: "
        '\'{"optimizer": "lazy_adam"}\' (models.training.OPTIMIZERS)',
    )
    parser.add_argument(
        "--train-steps",
        type=int,
        help="at most this many training steps; the Trainer stops early when the validation "
        "loss stops improving (default: models.training.MAX_STEPS)",
    )
    parser.add_argument(
        "--eval-steps",
        type=int,
        metavar="N",
        help="validate on the first N batches of the validation split each round, the same N "
        "every round (default: the whole split; cap it when the split is large)",
    )
    parser.add_argument(
        "--tune-trials",
        type=int,
        default=0,
        metavar="N",
        help="run TFX's Tuner first: N KerasTuner trials over the model's search space "
        "(models/presets.py), each trained like the Trainer and scored on the validation "
        "split; the Trainer takes the best (default: no tuning)",
    )
    beam.add_arguments(parser, beam.AUTO)
    parser.add_argument(
        "--eval-days",
        type=float,
        help="split the one input folder by time inside ExampleGen: "
        "the last N days are eval (default: train/ and eval/ folders, or an 80/20 hash split)",
    )
    parser.add_argument(
        "--span",
        help="a data root of spans (span-N or YYYY-MM-DD folders): ingest this span (a number or a date) "
        "instead of the newest",
    )
    parser.add_argument(
        "--train-spans",
        type=int,
        metavar="N",
        help="the rolling window: Transform and the Trainer read the latest N spans (TFX's span resolver); "
        "the model is judged on the newest span's eval rows (default: that span only)",
    )
    parser.add_argument(
        "--warm-start",
        action="store_true",
        help="the Trainer starts from the last blessed model's weights (embedding rows carried by id value); "
        "a cold start, said in the Trainer's log, when there is none or its architecture differs",
    )
    parser.add_argument(
        "--drift-categorical",
        type=float,
        default=DEFAULT_CATEGORICAL_THRESHOLD,
        metavar="D",
        help="spans: stop when a categorical's value shares moved by more than this (L-infinity) from the "
        "last accepted span's; 0: no check (default: %(default)s)",
    )
    parser.add_argument(
        "--drift-numerical",
        type=float,
        default=DEFAULT_NUMERICAL_THRESHOLD,
        metavar="D",
        help="spans: the same for a numerical's histogram (Jensen-Shannon divergence) (default: %(default)s)",
    )
    parser.add_argument(
        "--max-bad-rows",
        type=float,
        default=DEFAULT_MAX_BAD_ROWS,
        help="rows that do not fit the spec are quarantined (CsvExampleGen's bad_rows output); "
        "more than this per input split stops the run: a count (>= 1), a fraction of the "
        "rows (< 1), 0 = strict (default: %(default)s)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=DEFAULT_VALIDATION_FRACTION,
        help="share of the training rows ExampleGen carves out as the validation split the "
        "Trainer early-stops on (latest by time, else whole contexts by hash); 0: validate on "
        "eval (default: %(default)s)",
    )
    parser.add_argument(
        "--max-task-drop",
        type=float,
        default=DEFAULT_MAX_DROP,
        help="a main task whose AP or AUC (each metric of --task-compare) changes for the worse by more than "
        "this against the last blessed model's, beyond its 95 %% interval, blocks the push (for a regression task's "
        "RMSE or MAE: this share of the baseline's value) (default: %(default)s)",
    )
    parser.add_argument(
        "--task-compare",
        default=",".join(DEFAULT_COMPARE),
        metavar="METRICS",
        help=f"the metrics judged against the last blessed model, comma-separated, of {', '.join(METRICS)} "
        "(default: %(default)s); every metric is reported",
    )
    parser.add_argument(
        "--evaluator-engine",
        choices=ENGINES,
        default="auto",
        help="how the Evaluator computes its slice metrics: direct (one vectorized pass on this machine), tfma, "
        "or auto: direct unless Beam runs on Dataflow, Flink or Spark (default: %(default)s)",
    )
    parser.add_argument(
        "--min-task-positives",
        type=int,
        default=DEFAULT_MIN_POSITIVES,
        help="binary tasks with fewer positive eval rows (regression tasks with fewer rows) are reported, not "
        "gated (default: %(default)s)",
    )
    parser.add_argument(
        "--task-floor",
        action="append",
        default=[],
        metavar="TASK:METRIC=VALUE",
        help="a task's worst acceptable value: the lowest AP or AUC, the highest normalized_entropy, "
        "calibration_error, rmse or mae, e.g. cvr:average_precision=0.1 (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="show every library log line")
    args = parser.parse_args(argv)
    paths = default_paths(dataset=args.dataset, spec=args.spec)
    if args.data_root:
        paths["data_root"] = os.path.abspath(args.data_root)
    try:
        overrides = json.loads(args.hyperparameters)
        config = trainer_config(args.model, overrides, args.preset)
        time_split = {"eval_days": args.eval_days} if args.eval_days else None
        gates = {
            "max_drop": args.max_task_drop,
            "min_positives": args.min_task_positives,
            "floors": parse_floors(args.task_floor),
            "compare": [m for m in args.task_compare.split(",") if m],
        }
        TaskGates("task", "label", **gates)  # unknown metrics named now, not after Transform
        check_tuning(args.tune_trials, args.validation_fraction)
        if args.eval_steps is not None and args.eval_steps < 1:
            raise ValueError(
                f"--eval-steps {args.eval_steps}: at least 1 batch (leave it out for the whole " "validation split)"
            )
        span = parse_span(args.span)
        if args.train_spans is not None and args.train_spans < 1:
            raise ValueError(f"--train-spans {args.train_spans}: at least 1")
        found = preflight(paths, time_split=time_split, max_bad_rows=args.max_bad_rows, span=span)
        if args.train_spans and not found.span_pattern:
            raise ValueError(f"--train-spans: {paths['data_root']} has no span folders (span-N or YYYY-MM-DD)")
        beam_options = beam.parse_options(args.beam_option)
    except json.JSONDecodeError as e:
        print(f"error: --hyperparameters is not JSON: {e}", file=sys.stderr)
        return 2
    except (ValueError, DataRootError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from components.feature_spec import load_feature_spec, role_summary

    summary = role_summary(load_feature_spec(paths["feature_spec_path"]))
    split = ", time split" if time_split else ", 80/20 hash split"
    spans = ""
    if found.span_pattern:
        window = f", training on the latest {args.train_spans}" if args.train_spans else ""
        spans = f"; spans {list(found.spans)}, ingesting {found.span if found.span is not None else found.spans[-1]}"
        spans += window
    print(
        f"spec {paths['feature_spec_path']}: {summary}\ndata {paths['data_root']} "
        f"({'train/ and eval/' if found.pattern is None else found.pattern + split}{spans})\n"
        f"model {args.model} {json.dumps(config['hyperparameters'])}, optimizer {config['optimizer']}",
        flush=True,
    )
    if found.bad_rows:
        print(
            f"{len(found.bad_rows)} bad row(s) in the files' first lines (ExampleGen quarantines them, and any "
            "others):\n" + "\n".join(f"  {b}" for b in found.bad_rows[:REPORTED]),
            flush=True,
        )
    beam_args = beam.local_args(args.beam_runner, [folder for _, folder in found.folders], beam_options)
    with output.progress(args.verbose):
        run(
            paths,
            found,
            trainer_config=config,
            train_steps=args.train_steps,
            eval_steps=args.eval_steps,
            beam_pipeline_args=beam_args,
            time_split=time_split,
            max_bad_rows=args.max_bad_rows,
            validation_fraction=args.validation_fraction,
            task_gates=gates,
            evaluator_engine=args.evaluator_engine,
            tune_trials=args.tune_trials,
            train_spans=args.train_spans,
            warm_start=args.warm_start,
            drift_thresholds={"categorical": args.drift_categorical, "numerical": args.drift_numerical},
        )
    print(
        f"done: pipeline_root {paths['pipeline_root']}; served models {paths['serving_model_dir']}; "
        "per-task AP: python -m pipelines.report"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
