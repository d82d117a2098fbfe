"""Spans: dated folders read with TFX's span patterns, the newest (or a given) span ingested and recorded,
and the rolling window of the latest N spans for Transform and the Trainer."""

import csv
import json
import os
import pathlib

import pytest

from data_tools import generate_synthetic, synthetic
from pipelines.spans import DATE_PATTERN, SPAN_PATTERN, SpanError, date_span, find_spans, parse_span
from tests.pipelines import TINY_GREC


def _folders(root, *names):
    for name in names:
        (root / name / "train").mkdir(parents=True)


def test_span_folders_are_found_by_tfx_s_two_conventions(tmp_path):
    _folders(tmp_path / "numbered", "span-1", "span-2", "span-10")
    spans = find_spans(str(tmp_path / "numbered"))
    assert spans.pattern == SPAN_PATTERN and sorted(spans.folders) == [1, 2, 10] and spans.newest == 10
    assert spans.folder(2).endswith("span-2") and spans.folder().endswith("span-10")
    with pytest.raises(SpanError, match=r"span 3 is not in the data root; spans there: \[1, 2, 10\]"):
        spans.folder(3)
    _folders(tmp_path / "dated", "2026-12-01", "2026-12-02")
    dated = find_spans(str(tmp_path / "dated"))
    assert dated.pattern == DATE_PATTERN and dated.newest == date_span("2026-12-02") == 20789
    assert parse_span("2026-12-02") == 20789 and parse_span("7") == 7 and parse_span(None) is None
    _folders(tmp_path / "plain", "train", "eval")
    assert find_spans(str(tmp_path / "plain")) is None
    _folders(tmp_path / "mixed", "span-1", "old")
    with pytest.raises(SpanError, match=r"folders \['old'\] beside the span folders"):
        find_spans(str(tmp_path / "mixed"))
    with pytest.raises(SpanError, match="a span number or a date"):
        parse_span("yesterday")


def test_the_generator_writes_days_as_spans_with_a_later_eval_part(tmp_path):
    config = synthetic.SyntheticConfig(num_rows=3_000, train_days=3, eval_days=1, seed=4)
    manifest = generate_synthetic.write_spans(config, str(tmp_path), drift_spans=(3,))
    assert sorted(manifest["spans"]) == [1, 2, 3]
    for span in (1, 2, 3):
        rows = {}
        for split in ("train", "eval"):
            with open(tmp_path / f"span-{span}" / split / "data.csv") as f:
                rows[split] = list(csv.DictReader(f))
        assert rows["train"] and rows["eval"]
        assert max(int(r["ts"]) for r in rows["train"]) < min(int(r["ts"]) for r in rows["eval"])
        day = (synthetic.START_TS + (span - 1) * synthetic.DAY, synthetic.START_TS + span * synthetic.DAY)
        assert all(day[0] <= int(r["ts"]) < day[1] for r in rows["train"] + rows["eval"])
        surfaces = {r["surface"] for r in rows["train"]}
        assert surfaces == {synthetic.SURFACES[-1]} if span == 3 else len(surfaces) == len(synthetic.SURFACES)


def test_drift_is_measured_by_value_shares_for_words_and_by_histograms_for_numbers():
    import schemas
    from components.drift_gate import drift_kinds
    from components.feature_spec import load_feature_spec

    kinds = drift_kinds(load_feature_spec(schemas.path("synthetic")).to_dict())
    assert kinds["surface"] == kinds["task"] == kinds["user_id"] == "categorical"
    assert kinds["price"] == kinds["device"] == "numerical"  # device: an integer code, compared by histogram
    assert "label" not in kinds and "query" not in kinds and "ts" not in kinds


@pytest.mark.e2e
def test_four_days_arrive_one_drifts_and_the_window_and_the_gate_use_the_accepted_days(tmp_path):
    """Four days of logs, the third with its ``surface`` column drifted. Day 1 trains cold; day 2 trains on
    spans 1-2, warm-started from day 1's blessed model (its first validation loss below day 1's first); day 3
    stops before Transform naming the feature, its distance and the threshold; day 4 is compared with day 2
    (the last accepted day), trains on spans 3-4 (a drifted span stays in later windows: the documented
    policy) from day 2's model, is judged on span 4's eval rows against day 2's blessed model, and is
    pushed."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    from pipelines import local_runner

    data = tmp_path / "data"
    config = synthetic.SyntheticConfig(num_rows=12_000, train_days=4, eval_days=1, seed=2)
    generate_synthetic.write_spans(config, str(data), drift_spans=(3,))
    paths = {
        "data_root": str(data),
        "pipeline_root": str(tmp_path / "pipeline"),
        "serving_model_dir": str(tmp_path / "serving" / "grec"),
        "metadata_path": str(tmp_path / "pipeline" / "metadata.sqlite"),
    }
    small = {"model": "grec", "hyperparameters": TINY_GREC}

    def day(span):
        layout = local_runner.preflight({**local_runner.default_paths(), **paths}, span=span)
        # Tiny 20-step models are noisy: the gates run against the last blessed model with wide tolerances.
        local_runner.run(
            paths,
            layout,
            trainer_config=small,
            train_steps=20,
            train_spans=2,
            warm_start=True,
            min_auc=0.5,
            max_auc_drop=0.5,
            task_gates={"max_drop": 0.5},
        )

    day(1)
    day(2)
    with pytest.raises(Exception) as stopped:
        day(3)
    message = str(stopped.value)
    assert "span 3 drifted from span 2" in message, message[-3000:]
    assert "feature 'surface': L-infinity distance" in message and "(threshold 0.3)" in message
    day(None)  # the newest: span 4

    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata_path"])
    )
    types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}

    def runs(component):
        return sorted((e for e in store.get_executions() if types[e.type_id] == component), key=lambda e: e.id)

    def inputs(execution, key):
        events = store.get_events_by_execution_ids([execution.id])
        ids = [e.artifact_id for e in events if e.type == e.INPUT and e.path.steps[0].key == key]
        return store.get_artifacts_by_id(ids)

    def spans_of(artifacts):  # ExampleGen's driver records the span as a custom property
        return sorted(
            int(a.custom_properties["span"].int_value or a.custom_properties["span"].string_value or 0)
            if "span" in a.custom_properties
            else a.properties["span"].int_value
            for a in artifacts
        )

    examples = [a for a in store.get_artifacts_by_type("Examples") if "CsvExampleGen" in a.uri]
    assert spans_of(examples) == [1, 2, 3, 4]  # every day ingested and recorded
    assert [spans_of(inputs(e, "examples")) for e in runs("Transform")] == [[1], [1, 2], [3, 4]]  # day 3: none
    assert [spans_of(inputs(e, "examples")) for e in runs("Evaluator")] == [[1], [2], [4]]
    drift = runs("DriftGate")
    assert [spans_of(inputs(e, "baseline")) for e in drift] == [[], [1], [2], [2]]  # day 4 against day 2
    trainers = runs("Trainer")
    day2_model = [e.artifact_id for e in store.get_events_by_execution_ids([trainers[1].id]) if e.type == e.OUTPUT]
    (baseline,) = inputs(runs("Evaluator")[-1], "baseline_model")
    assert baseline.id in day2_model  # gated against day 2's blessed model
    assert len(os.listdir(paths["serving_model_dir"])) == 3  # days 1, 2 and 4 pushed

    # Warm start: each day's Trainer read the last blessed model (TFX base_model) and started from it.
    outputs = [store.get_events_by_execution_ids([t.id]) for t in trainers]
    models = [[e.artifact_id for e in events if e.type == e.OUTPUT] for events in outputs]
    bases = [[a.id for a in inputs(t, "base_model")] for t in trainers]
    assert bases[0] == [] and bases[1][0] in models[0] and bases[2][0] in models[1]  # day 4 from day 2's
    started, history = [], []
    for trainer_models in models:
        (run,) = [a for a in store.get_artifacts_by_id(trainer_models) if "model_run" in a.uri]
        started.append(json.loads((pathlib.Path(run.uri) / "warm_start.json").read_text()))
        history.append(json.loads((pathlib.Path(run.uri) / "history.json").read_text()))
    assert [s["warm"] for s in started] == [False, True, True], started
    assert started[0]["message"] == "cold start: no blessed model yet"
    assert "remapped by id value" in started[1]["message"] and started[1]["ids"]["user_id"]["kept"] > 0
    assert history[1]["val_loss"][0] < history[0]["val_loss"][0], history  # day 2 starts where day 1 ended
