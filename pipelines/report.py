"""Reads the Evaluator's output back: the per-task AP/AUC table and why a model was (not) blessed.

python -m pipelines.report [--pipeline-root DIR]   # default: $GREC_HOME/pipeline_root/grec, as the runners
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

METRICS = (
    "example_count",
    "average_precision",
    "auc",
    "normalized_entropy",
    "calibration",
    "mean_label",
    "mean_prediction",
)
# A regression task's (the evaluation signature's value output): in the label's units.
REGRESSION_METRICS = (
    "example_count",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_label",
    "mean_prediction",
)


def latest_evaluation(pipeline_root: str) -> str:
    runs = sorted(
        glob.glob(os.path.join(pipeline_root, "Evaluator", "evaluation", "*")), key=lambda p: int(os.path.basename(p))
    )
    if not runs:
        raise FileNotFoundError(f"{pipeline_root}: no Evaluator output yet (run the pipeline first)")
    return runs[-1]


def _value(metric) -> float:
    """A TFMA metric value as a float (NaN when TFMA reports none, e.g. AUC of a one-class slice)."""
    for key in ("doubleValue", "boundedValue"):
        if key in metric:
            value = metric[key] if key == "doubleValue" else metric[key].get("value")
            try:
                return float(value)
            except (TypeError, ValueError):
                return float("nan")
    return float("nan")


def slice_table(evaluation_dir: str) -> list[dict]:
    """One row per slice: {'slice': 'task=ctr', metric: value, ...}; with regression tasks, their metrics too,
    as ``value/<metric>`` (the evaluation signature's value output, ``components/evaluation.py``)."""
    import tensorflow_model_analysis as tfma

    from serving.contract import VALUE_KEY

    result = tfma.load_eval_result(evaluation_dir)
    rows = []
    for slice_key, metrics in result.slicing_metrics:
        name = ", ".join(f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in slice_key) or "overall"
        row = {"slice": name}
        for output, by_sub_key in metrics.items():  # output '' (one output) or 'probability' and 'value'
            values = next(iter(by_sub_key.values()))  # sub key ''
            if output == VALUE_KEY:
                row.update({f"{VALUE_KEY}/{m}": _value(values[m]) for m in REGRESSION_METRICS if m in values})
            else:
                row.update({m: _value(values[m]) for m in METRICS if m in values})
        rows.append(row)
    rows.sort(key=lambda r: (r["slice"] != "overall", r["slice"].count(","), r["slice"]))
    return rows


def validation(evaluation_dir: str) -> tuple[bool, list[str]]:
    """(blessed, reasons it is not): TFMA's overall thresholds, then the per-task gate."""
    import tensorflow_model_analysis as tfma

    from components import task_gate

    result = tfma.load_validation_result(evaluation_dir)
    reasons = []
    for failure in result.metric_validations_per_slice:
        where = ", ".join(
            f"{c.column}={c.bytes_value.decode() or c.int64_value}" for c in failure.slice_key.single_slice_keys
        )
        for f in failure.failures:
            threshold = f.metric_threshold
            if threshold.HasField("change_threshold"):
                rule = f"change vs the last blessed model, at least {threshold.change_threshold.absolute.value:+g}"
            else:
                rule = f"at least {threshold.value_threshold.lower_bound.value:g}"
            reasons.append(
                f"{where or 'overall'} {f.metric_key.name}{' change' if f.metric_key.is_diff else ''} "
                f"{f.metric_value.double_value.value:+.4f}: needs {rule}" + (f" ({f.message})" if f.message else "")
            )
    gate = task_gate.read(evaluation_dir)
    failures = gate[1] if gate else []
    return result.validation_ok and not failures, reasons + failures


def gate_section(evaluation_dir: str) -> str:
    """The per-task gate's table (``components/task_gate.py``), or "" when the evaluation has none."""
    from components import task_gate

    gate = task_gate.read(evaluation_dir)
    if gate is None:
        return ""
    return "\n\nper-task gate, against the last blessed model:\n" + task_gate.format_verdicts(gate[0])


def format_table(rows: list[dict]) -> str:
    """The binary tasks' table (slices with binary rows), then the regression tasks' (slices with such rows)."""
    nan = float("nan")
    regression = [r for r in rows if r.get("value/example_count", 0) > 0]
    header = f"{'slice':<36}{'examples':>10}{'AP':>9}{'AUC':>9}{'NE':>8}{'calibration':>13}{'mean label':>12}"
    lines = [header, "-" * len(header)]
    for r in rows:
        if regression and not r.get("example_count", 0) > 0:
            continue  # a slice of regression rows only
        if r.get("mean_label", 0.0) in (0.0, 1.0):  # one class only: AP and AUC are undefined
            r = {**r, "average_precision": nan, "auc": nan, "normalized_entropy": nan}
        lines.append(
            f"{r['slice']:<36}{r.get('example_count', nan):>10.0f}{r.get('average_precision', nan):>9.4f}"
            f"{r.get('auc', nan):>9.4f}{r.get('normalized_entropy', nan):>8.4f}{r.get('calibration', nan):>13.3f}"
            f"{r.get('mean_label', nan):>12.4f}"
        )
    if regression:
        header = (
            f"{'regression tasks, slice':<36}{'examples':>10}{'RMSE':>12}{'MAE':>12}{'mean label':>12}{'mean pred':>12}"
        )
        lines += ["", header, "-" * len(header)]
        for r in regression:
            lines.append(
                f"{r['slice']:<36}{r['value/example_count']:>10.0f}{r.get('value/root_mean_squared_error', nan):>12.4g}"
                f"{r.get('value/mean_absolute_error', nan):>12.4g}{r.get('value/mean_label', nan):>12.4g}"
                f"{r.get('value/mean_prediction', nan):>12.4g}"
            )
    return "\n".join(lines)


def component_times(metadata_path: str) -> list[tuple[str, str, float]]:
    """(component, state, seconds) of each execution of the latest pipeline run in the metadata store."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx import v1 as tfx

    store = metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return []
    latest = max(runs, key=lambda c: c.create_time_since_epoch)
    types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    states = metadata_store_pb2.Execution.State
    return [
        (
            types[e.type_id],
            states.Name(e.last_known_state).lower(),
            (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000,
        )
        for e in sorted(store.get_executions_by_context(latest.id), key=lambda e: e.create_time_since_epoch)
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline-root", help="default: the local runner's ($GREC_HOME/pipeline_root/grec)")
    parser.add_argument("--verbose", action="store_true", help="show every library log line")
    args = parser.parse_args(argv)
    from pipelines import output

    output.configure(args.verbose)
    if args.pipeline_root is None:
        from pipelines.config import default_paths

        args.pipeline_root = default_paths()["pipeline_root"]
    evaluation = latest_evaluation(args.pipeline_root)
    print(f"Evaluator output: {evaluation}\n")
    with output.progress(args.verbose):
        rows = slice_table(evaluation)
    print(format_table(rows) + gate_section(evaluation))
    ok, reasons = validation(evaluation)
    print("\nblessed: yes" if ok else "\nblessed: NO\n  " + "\n  ".join(reasons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
