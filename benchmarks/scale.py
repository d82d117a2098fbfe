"""How each pipeline component's cost grows with the rows, beside a floor for the same work in the same run.

    python -m benchmarks.scale                                   # 100k, 400k, 1.6M task examples (about an hour)
    python -m benchmarks.scale --rows 20000 40000 --out /tmp/scale   # minutes

For every size: the embedded synthetic generator writes the rows (distinct users
and items growing with them: ``USERS_PER_ROW``, ``ITEMS_PER_ROW``), the whole
pipeline runs with LocalDagRunner at a fixed training budget (``--train-steps``
steps of 256, validation on ``--eval-steps`` batches), and each component's wall
time (from ML Metadata), peak resident memory of the process tree while it ran
(sampled every ``SAMPLE_SECONDS``) and rows per second are recorded. The spec is
the synthetic one with bounded ids (``BOUNDED``): hashed users, the most
frequent items, so the tables stay the same size however many ids arrive.

Beside each component, in the same process after the pipeline, a floor for the
same work, the simplest code that does it:

* ExampleGen: reading the CSV files with pyarrow (no row checks, no tf.Example);
* StatisticsGen: per-column counts, missing values, mean, std, min, max and a
  10-bin histogram of numericals, distinct counts and the top 20 values of
  categoricals and tokens, with pandas over both splits;
* Transform: the vocabularies (top ``max_ids``, hashing), token vocabularies,
  means and variances on the training split, then every column of both splits
  mapped through them (pandas; nothing written);
* Trainer: the model's compiled train step on transformed batches already in
  memory, for the same number of steps;
* Evaluator: the pushed SavedModel's serving signature on the eval split in
  batches of 4,096 serialized examples, then per-task AUC and AP (sklearn).

The per-task gate is also run alone on each size's eval split, in a fresh
process, with the candidate as its own baseline (both models score every row):
its seconds and peak memory show whether it grows with the eval rows.

The exponent b of seconds ~ rows^b is fitted per component over the sizes (a
least-squares line in log-log). After the largest size, the model server
answers requests with ids never seen in training (``served``). Writes
``results/scale.{json,md}`` and ``results/scale.png``.

The gate's memory against its eval rows alone, the model and the rows' kind fixed:

    python -m benchmarks.scale --rows 100000 --keep --work /tmp/scale_work --out /tmp/scale  # a kept run
    python -m benchmarks.scale --gate-growth /tmp/scale_work/rows_100000 --repeats 1 4 16 64 256

runs the gate alone on that run's eval split read 1, 4, ... times over (``gate_growth``) and writes
``results/gate_memory.{json,md}``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import schemas
from benchmarks import RESULTS, machine

SIZES = (100_000, 400_000, 1_600_000)
USERS_PER_ROW = 0.5  # distinct training users per task example: 800,000 at 1.6M rows
ITEMS_PER_ROW = 0.125  # distinct items per task example: 200,000 at 1.6M rows
USER_BUCKETS = 2**17
ITEM_IDS = 50_000
BOUNDED = {  # the synthetic spec's line -> its bounded form
    "user_id:       {role: categorical, oov_buckets: 10}": "user_id: {{role: categorical, hash_buckets: {users}}}",
    "item_id:       {role: categorical, oov_buckets: 10}": "item_id: {{role: categorical, max_ids: {items}}}",
}
SAMPLE_SECONDS = 0.2
PASSED_ON = (
    "model",
    "optimizer",
    "train_steps",
    "eval_steps",
    "seed",
    "user_buckets",
    "item_ids",
    "beam_runner",
)  # to each size's process
SCORE_BATCH = 4096
FLOORS = {
    "CsvExampleGen": "pyarrow CSV read",
    "StatisticsGen": "pandas statistics",
    "Transform": "pandas vocabularies + mapping",
    "Trainer": "in-memory train step",
    "Evaluator": "batched SavedModel scoring + sklearn",
}


def bounded_spec(folder: str, user_buckets: int = USER_BUCKETS, item_ids: int = ITEM_IDS) -> str:
    """The synthetic spec with ``BOUNDED`` ids, written to ``folder`` (its schema beside it)."""
    with open(schemas.path("synthetic", "feature_spec.yaml")) as f:
        text = f.read()
    for old, new in BOUNDED.items():
        if old not in text:
            raise RuntimeError(f"schemas/synthetic/feature_spec.yaml no longer has {old!r}; update BOUNDED")
        text = text.replace(old, new.format(users=user_buckets, items=item_ids))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "feature_spec.yaml")
    with open(path, "w") as f:
        f.write(text)
    shutil.copy(schemas.path("synthetic", "schema.pbtxt"), os.path.join(folder, "schema.pbtxt"))
    return path


class MemorySampler:
    """Resident memory of this process and its children, sampled in a thread: (epoch ms, bytes) pairs."""

    def __init__(self, seconds: float = SAMPLE_SECONDS):
        import psutil

        self.process, self.seconds, self.samples = psutil.Process(), seconds, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        import psutil

        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.time() * 1000, self._rss()))
            self._stop.wait(self.seconds)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start_ms: float, end_ms: float) -> float:
        inside = [rss for t, rss in self.samples if start_ms <= t <= end_ms]
        return max(inside, default=float("nan")) / 2**20


def component_windows(metadata_path: str) -> dict[str, tuple[float, float]]:
    """Component id -> (start, end) in epoch ms, of the latest pipeline run's executions."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    store = metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    latest = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    nodes = {c.id: c.name.rsplit(".", 1)[-1] for c in store.get_contexts_by_type("node")}
    resolvers = {t.id for t in store.get_execution_types() if "resolver" in t.name.lower()}
    windows = {}
    for execution in store.get_executions_by_context(latest.id):
        if execution.type_id in resolvers:  # resolver nodes: no work of their own
            continue
        node = next(
            (nodes[c.id] for c in store.get_contexts_by_execution(execution.id) if c.id in nodes), str(execution.id)
        )
        windows[node] = (execution.create_time_since_epoch, execution.last_update_time_since_epoch)
    return windows


def _artifact(pipeline_root: str, component: str, output: str) -> str:
    found = sorted(glob.glob(os.path.join(pipeline_root, component, output, "*")), key=os.path.getmtime)
    if not found:
        raise RuntimeError(f"no {component} {output} artifact under {pipeline_root}")
    return found[-1]


def _eval_split_and_model(pipeline_root: str) -> tuple[list[str], str]:
    """A pipeline run's eval split files (ExampleGen's) and its Trainer's serving model folder."""
    eval_files = sorted(
        glob.glob(os.path.join(_artifact(pipeline_root, "CsvExampleGen", "examples"), "Split-eval", "*"))
    )
    return eval_files, os.path.join(_artifact(pipeline_root, "Trainer", "model"), "Format-Serving")


def _timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def floor_example_gen(files: list[str]):
    import pyarrow.csv as pv

    return [pv.read_csv(path) for path in files]


def floor_statistics(frames, spec) -> int:
    """TFDV's kind of statistics per column and split; returns how many values it looked at."""
    seen = 0
    for frame in frames:
        for column in spec.columns:
            if column.name not in frame:
                continue
            values = frame[column.name]
            seen += len(values)
            if column.dtype in ("int", "float") and column.role not in ("categorical",):
                numbers = values.to_numpy(dtype="float64", na_value=np.nan)
                finite = numbers[~np.isnan(numbers)]
                if len(finite):
                    finite.mean(), finite.std(), finite.min(), finite.max(), np.count_nonzero(finite == 0)
                    np.histogram(finite, bins=10)
            elif column.role in ("text", "history"):
                tokens = values.dropna().astype(str).str.split().explode()
                tokens.value_counts().head(20), tokens.nunique()
            else:
                counts = values.value_counts()
                counts.head(20), len(counts), values.isna().sum()
    return seen


def floor_transform(frames, spec) -> int:
    """Vocabularies, hashing, means and variances on the first frame (train), every column of each frame mapped
    through them; returns the mapped values."""
    import pandas as pd

    train, mapped = frames[0], 0
    for column in spec.columns:
        if column.name not in train:
            continue
        if column.role in ("categorical", "aux_task", "task"):
            if column.option("hash_buckets"):
                buckets = int(column.option("hash_buckets"))
                for frame in frames:
                    mapped += len(pd.util.hash_array(frame[column.name].astype(str).to_numpy()) % buckets)
                continue
            vocabulary = train[column.name].value_counts()
            if column.option("max_ids"):
                vocabulary = vocabulary.head(int(column.option("max_ids")))
            for frame in frames:
                mapped += len(pd.Categorical(frame[column.name], categories=vocabulary.index).codes)
        elif column.role in ("text", "history"):
            vocabulary = train[column.name].fillna("").astype(str).str.split().explode().value_counts()
            for frame in frames:
                tokens = frame[column.name].fillna("").astype(str).str.split().explode()
                mapped += len(pd.Categorical(tokens, categories=vocabulary.index).codes)
        elif column.role in ("numerical", "image_embedding"):
            if column.role == "image_embedding":
                for frame in frames:
                    mapped += np.fromstring(" ".join(frame[column.name].astype(str)), sep=" ").size
                continue
            numbers = train[column.name].to_numpy(dtype="float64", na_value=np.nan)
            mean, std = np.nanmean(numbers), np.nanstd(numbers) or 1.0
            for frame in frames:
                mapped += len((frame[column.name].to_numpy(dtype="float64", na_value=np.nan) - mean) / std)
    return mapped


def floor_trainer(
    pipeline_root: str, spec, model_name: str, steps: int, optimizer: str = "adam"
) -> tuple[float, float]:
    """(seconds of ``steps`` compiled train steps of the pipeline's model on 20 transformed batches held in
    memory, seconds of as many steps fed by the Trainer's own input pipeline): the floor, and the steps with
    reading, parsing and shuffling the transformed examples (``components.trainer._dataset``, TFX's TFXIO
    reader) beside them. Both through ``model.fit``, as the Trainer trains, after the same warm-up."""
    import keras
    import tensorflow_transform as tft
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx_bsl.public import tfxio

    from benchmarks.train_step import in_memory_options
    from components import trainer
    from components.model_inputs import input_config_from_transform, task_loss
    from models import build_model, presets, training

    def tf_dataset_factory(file_pattern, options, schema):  # what TFX's DataAccessor gives the Trainer
        return tfxio.TFExampleRecord(
            file_pattern=file_pattern, schema=schema, telemetry_descriptors=["grec-scale"]
        ).TensorFlowDataset(options)

    transform = tft.TFTransformOutput(_artifact(pipeline_root, "Transform", "transform_graph"))
    pattern = os.path.join(_artifact(pipeline_root, "Transform", "transformed_examples"), "Split-train", "*")
    accessor = DataAccessor(tf_dataset_factory=tf_dataset_factory, record_batch_factory=None, data_view_decode_fn=None)
    fed = trainer._dataset([pattern], accessor, transform, spec, training.BATCH_SIZE)
    in_memory = fed.take(20).cache().repeat().with_options(in_memory_options())
    model = build_model(
        model_name,
        input_config_from_transform(spec, transform),
        **presets.resolve(model_name, None, "small"),
        **task_loss(spec, transform),
    )
    model.build_from_config_inputs()
    model.compile(optimizer=training.optimizer(None, optimizer))
    seconds = []
    for dataset in (in_memory, fed):
        model.fit(dataset, steps_per_epoch=25, epochs=1, verbose=0)  # compiles; reads all 20 into the cache
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    keras.backend.clear_session()
    return seconds[0], seconds[1]


def floor_evaluator(eval_files: list[str], model_dir: str, spec) -> float:
    """Seconds to score the eval rows with the serving signature in batches and compute per-task AUC and AP."""
    import tensorflow as tf
    from sklearn.metrics import average_precision_score, roc_auc_score

    from serving.contract import DEFAULT_SIGNATURE, EXAMPLES_INPUT, OUTPUT_KEY

    serve = tf.saved_model.load(model_dir).signatures[DEFAULT_SIGNATURE]
    start = time.perf_counter()
    task_key, label_key = spec.task_column.name, spec.label_column.name
    parse = {task_key: tf.io.FixedLenFeature([], tf.string), label_key: tf.io.FixedLenFeature([], tf.int64)}
    tasks, labels, scores = [], [], []
    for records in tf.data.TFRecordDataset(eval_files, compression_type="GZIP").batch(SCORE_BATCH):
        parsed = tf.io.parse_example(records, parse)
        tasks.append(parsed[task_key].numpy())
        labels.append(parsed[label_key].numpy())
        scores.append(serve(**{EXAMPLES_INPUT: records})[OUTPUT_KEY].numpy().reshape(-1))
    tasks, labels, scores = np.concatenate(tasks), np.concatenate(labels), np.concatenate(scores)
    for task in np.unique(tasks):
        rows = tasks == task
        if 0 < labels[rows].sum() < rows.sum():
            roc_auc_score(labels[rows], scores[rows]), average_precision_score(labels[rows], scores[rows])
    return time.perf_counter() - start


def gate_alone(eval_files: list[str], model_dir: str, spec_path: str) -> dict:
    """The per-task gate on ``eval_files`` in a fresh process, the model as its own baseline: seconds, the
    resident memory once the model is loaded and has scored one batch, and the peak while the gate ran."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--gate", json.dumps([eval_files, model_dir, spec_path])],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gate_process(argument: str) -> None:
    import tensorflow as tf

    from components import evaluation, task_gate
    from components.feature_spec import load_feature_spec
    from serving.contract import EXAMPLES_INPUT

    files, model_dir, spec_path = json.loads(argument)
    spec = load_feature_spec(spec_path)
    gates = task_gate.TaskGates(spec.task_column.name, spec.label_column.name)
    serve = tf.saved_model.load(model_dir).signatures[evaluation.DEFAULT_SIGNATURE]
    first = next(iter(tf.data.TFRecordDataset(files, compression_type="GZIP").batch(evaluation.GATE_BATCH)))
    serve(**{EXAMPLES_INPUT: first})  # traced and warm: what follows is the gate's own
    with MemorySampler(0.05) as memory:
        start = time.perf_counter()
        loaded = memory._rss()
        tasks, labels, (new, old) = evaluation.gate_inputs(files, gates, [serve, serve])
        verdicts = task_gate.judge(tasks, labels, new, old, gates)
        seconds = time.perf_counter() - start
    peak = max(rss for _, rss in memory.samples)
    held = sum(array.nbytes for array in (tasks, labels, new, old))  # the per-row arrays the gate keeps
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": len(tasks),
                "tasks": len(verdicts),
                "loaded_mb": loaded / 2**20,
                "peak_mb": peak / 2**20,
                "growth_mb": (peak - loaded) / 2**20,
                "held_mb": held / 2**20,
            }
        )
    )


def gate_growth(run: str, repeats: list[int]) -> dict:
    """The per-task gate alone (``gate_alone``) on a kept run's eval split (``--keep``) read each of ``repeats``
    times over: the same model and the same kind of rows, only their number growing, so its memory against the
    eval rows alone. Each point: the gate's seconds, its peak over the loaded model and the bytes of the per-row
    arrays it keeps."""
    from pipelines.config import default_paths

    spec_path = os.path.join(run, "spec", "feature_spec.yaml")
    pipeline_root = default_paths(run, spec=spec_path)["pipeline_root"]
    eval_files, model_dir = _eval_split_and_model(pipeline_root)
    points = []
    for times in repeats:
        point = {"repeats": times, **gate_alone(eval_files * times, model_dir, spec_path)}
        print(
            f"{point['rows']:>10,} eval rows: {point['seconds']:6.1f} s, growth {point['growth_mb']:6.1f} MB, "
            f"per-row arrays {point['held_mb']:5.1f} MB",
            flush=True,
        )
        points.append(point)
    rows = [p["rows"] for p in points]
    half = len(points) // 2  # the growth's slope over the larger half of the points: after TF's warm-up
    slope = np.polyfit([r / 1e6 for r in rows[half:]], [p["growth_mb"] for p in points[half:]], 1)[0]
    return {"run": run, "points": points, "growth_mb_per_million_rows_upper_half": float(slope)}


def gate_markdown(result: dict) -> str:
    lines = [
        "# The per-task gate's memory against its eval rows",
        "",
        f"`{result['command']}`, {result['seconds'] / 60:.0f} min.",
        "",
        machine.summary(result["machine"]),
        "",
        f"One kept scale run's eval split (`{result['run']}`) read 1, 4, ... times over by the gate alone, in a "
        "fresh process each, the candidate as its own baseline (two models score every row): the model and the kind "
        "of rows fixed, only their number growing. Growth: the peak resident memory while the gate ran over the "
        "memory once the model was loaded and had scored one batch. Per-row arrays: the bytes of what the gate "
        "keeps a row (task, label, two scores) for the paired bootstrap.",
        "",
        "| eval rows | seconds | growth MB | per-row arrays MB |",
        "|---|---|---|---|",
    ]
    for p in result["points"]:
        lines.append(f"| {p['rows']:,} | {p['seconds']:.1f} | {p['growth_mb']:.1f} | {p['held_mb']:.1f} |")
    lines += [
        "",
        f"Slope of the growth over the larger half of the points: "
        f"{result['growth_mb_per_million_rows_upper_half']:.1f} MB per million eval rows.",
        "",
    ]
    return "\n".join(lines)


def served_unseen_ids(paths: dict, train_frame, pipeline_root: str, user_buckets: int) -> dict:
    """Requests to the model server with ids never seen in training, beside seen ids under the same rule."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from serving.client import GRecClient
    from serving.demo import CONTEXT
    from serving.launcher import ServerProcess

    users = train_frame["user_id"].astype(str).unique().tolist()
    buckets = dict(zip(users, tf.strings.to_hash_bucket_fast(users, user_buckets).numpy().tolist(), strict=True))
    by_bucket = {}
    for user, bucket in buckets.items():
        by_bucket.setdefault(bucket, user)

    def bucket(value):
        return int(tf.strings.to_hash_bucket_fast([value], user_buckets).numpy()[0])

    unseen_user = next(f"u_never_seen_{k}" for k in range(10_000) if bucket(f"u_never_seen_{k}") in by_bucket)
    same_bucket = by_bucket[bucket(unseen_user)]
    transform = tft.TFTransformOutput(_artifact(pipeline_root, "Transform", "transform_graph"))
    vocabulary = {v.decode() for v in transform.vocabulary_by_name("vocab_item_id")}
    counts = train_frame["item_id"].astype(str).value_counts()
    left_out = [item for item in counts.index if item not in vocabulary]
    kept = counts.index[0]
    rows = [dict(CONTEXT, task="ctr", user_id=u) for u in (unseen_user, same_bucket)]
    rows += [dict(CONTEXT, task="ctr", item_id=i) for i in ("i_never_seen", left_out[0], left_out[-1], kept)]
    with ServerProcess(paths["serving_model_dir"]) as server:
        client = GRecClient(server.target)
        scores = [float(s) for s in client.predict(rows)]
        client.close()
    return {
        "server": server.kind,
        "distinct_train_users": len(users),
        "distinct_train_items": int(len(counts)),
        "item_vocabulary": len(vocabulary),
        "items_left_out": len(left_out),
        "unseen_user": unseen_user,
        "seen_user_same_bucket": same_bucket,
        "user_scores": scores[:2],
        "item_rows": ["i_never_seen", left_out[0], left_out[-1], kept],
        "item_scores": scores[2:],
        "user_rule_holds": abs(scores[0] - scores[1]) < 1e-6,
        "item_rule_holds": max(scores[2:5]) - min(scores[2:5]) < 1e-6,
    }


def run_size(rows: int, work: str, args, serve: bool) -> dict:
    from components.feature_spec import load_feature_spec
    from data_tools import generate_synthetic, synthetic
    from pipelines import beam, local_runner
    from pipelines.config import default_paths

    root = os.path.join(work, f"rows_{rows}")
    shutil.rmtree(root, ignore_errors=True)
    spec_path = bounded_spec(os.path.join(root, "spec"), args.user_buckets, args.item_ids)
    spec = load_feature_spec(spec_path)
    paths = default_paths(root, spec=spec_path)
    config = synthetic.SyntheticConfig(
        num_rows=rows, num_users=int(rows * USERS_PER_ROW), num_items=int(rows * ITEMS_PER_ROW), seed=args.seed
    )
    generated, manifest = _timed(generate_synthetic.write_dataset, config, paths["data_root"])
    print(f"\n=== {rows:,} task examples ({manifest['rows']}), generated in {generated:.0f} s", flush=True)
    with MemorySampler() as memory:
        start = time.perf_counter()
        local_runner.run(
            paths,
            train_steps=args.train_steps,
            eval_steps=args.eval_steps,
            trainer_config={"model": args.model, "optimizer": args.optimizer},
            beam_pipeline_args=beam.beam_pipeline_args(args.beam_runner),
        )
        pipeline_seconds = time.perf_counter() - start
    windows = component_windows(paths["metadata_path"])
    pipeline_root = paths["pipeline_root"]
    csv_files = [os.path.join(paths["data_root"], split, "data.csv") for split in ("train", "eval")]
    eval_rows, all_rows = manifest["rows"]["eval"], sum(manifest["rows"].values())
    floors = {}
    floors["CsvExampleGen"], tables = _timed(floor_example_gen, csv_files)
    frames = [table.to_pandas() for table in tables]
    del tables
    floors["StatisticsGen"], _ = _timed(floor_statistics, frames, spec)
    floors["Transform"], _ = _timed(floor_transform, frames, spec)
    floors["Trainer"], fed_seconds = floor_trainer(pipeline_root, spec, args.model, args.train_steps, args.optimizer)
    eval_files, model_dir = _eval_split_and_model(pipeline_root)
    floors["Evaluator"] = floor_evaluator(eval_files, model_dir, spec)
    gate = gate_alone(eval_files, model_dir, spec_path)
    components = {}
    for name, (start_ms, end_ms) in sorted(windows.items(), key=lambda item: item[1]):
        seconds = (end_ms - start_ms) / 1000
        rows_read = eval_rows if name == "Evaluator" else all_rows
        entry = {
            "seconds": seconds,
            "peak_mb": memory.peak_mb(start_ms, end_ms),
            "rows_per_second": rows_read / seconds,
        }
        if name in floors:
            entry.update(floor_seconds=floors[name], ratio=seconds / floors[name])
        components[name] = entry
        ratio = f"  {entry['ratio']:6.1f}x its floor ({floors[name]:.1f} s)" if name in floors else ""
        print(f"{name:<18}{seconds:8.1f} s {entry['peak_mb']:8.0f} MB {entry['rows_per_second']:10,.0f} rows/s{ratio}")
    print(f"per-task gate alone: {gate['seconds']:.1f} s, peak {gate['peak_mb']:.0f} MB ({gate['rows']:,} eval rows)")
    input_share = 1 - floors["Trainer"] / fed_seconds  # below 0: fed ran faster than in memory (noise)
    print(
        f"the train steps fed by the Trainer's input pipeline: {fed_seconds:.1f} s against {floors['Trainer']:.1f} s "
        f"in memory ({fed_seconds / floors['Trainer']:.2f}x)"
    )
    result = {
        "rows": all_rows,
        "train_rows": manifest["rows"]["train"],
        "eval_rows": eval_rows,
        "distinct_users": int(frames[0]["user_id"].nunique()),
        "distinct_items": int(frames[0]["item_id"].nunique()),
        "generate_seconds": generated,
        "pipeline_seconds": pipeline_seconds,
        "pipeline_start_mb": memory.samples[0][1] / 2**20,  # this process before the first component
        "components": components,
        "gate": gate,
        "trainer_input": {"in_memory_seconds": floors["Trainer"], "fed_seconds": fed_seconds, "share": input_share},
    }
    if serve:
        result["served"] = served_unseen_ids(paths, frames[0], pipeline_root, args.user_buckets)
        print(json.dumps(result["served"], indent=1))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


def components(sizes: list[dict]) -> list[str]:
    """The component ids of the runs, in the order they ran."""
    return list(dict.fromkeys(name for size in sizes for name in size["components"]))


def exponents(sizes: list[dict]) -> dict:
    """Component -> {component, floor}: b of seconds ~ rows^b, least squares in log-log (None below 2 sizes)."""
    out = {}
    if len(sizes) < 2:
        return out
    for name in components(sizes):
        points = [(s["rows"], s["components"][name]) for s in sizes if name in s["components"]]
        if len(points) < 2:
            continue
        x = np.log([rows for rows, _ in points])
        out[name] = {"component": float(np.polyfit(x, np.log([c["seconds"] for _, c in points]), 1)[0])}
        if "floor_seconds" in points[0][1]:
            out[name]["floor"] = float(np.polyfit(x, np.log([c["floor_seconds"] for _, c in points]), 1)[0])
    gates = [(s["gate"]["rows"], s["gate"]) for s in sizes]
    x = np.log([rows for rows, _ in gates])
    out["gate"] = {
        "seconds": float(np.polyfit(x, np.log([g["seconds"] for _, g in gates]), 1)[0]),
        "growth_mb_per_million_eval_rows": float(
            np.polyfit([rows / 1e6 for rows, _ in gates], [g["growth_mb"] for _, g in gates], 1)[0]
        ),
    }
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = result["sizes"]
    fig, ax = plt.subplots(figsize=(7, 5))
    for name in components(sizes):
        points = [(s["rows"], s["components"][name]["seconds"]) for s in sizes if name in s["components"]]
        if points:
            (line,) = ax.plot(*zip(*points, strict=True), marker="o", label=name)
            if name in FLOORS:
                floor = [(s["rows"], s["components"][name]["floor_seconds"]) for s in sizes]
                ax.plot(*zip(*floor, strict=True), linestyle="--", color=line.get_color(), alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("task examples (train + eval)")
    ax.set_ylabel("seconds")
    ax.set_title("Component wall time (solid) and its floor (dashed)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mb(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # NaN: the component ran between two samples


def markdown(result: dict) -> str:
    lines = [
        "# Scale: each component's cost as the rows grow, beside a floor for the same work",
        "",
        f"`{result['command']}`, {result['seconds'] / 60:.0f} min in all.",
        "",
        machine.summary(result["machine"]),
        "",
        f"Pipeline: model {result['args']['model']} ({result['args'].get('optimizer', 'adam')}), "
        f"{result['args']['train_steps']} training steps of 256, "
        f"validation on {result['args']['eval_steps']} batches; spec: the synthetic one with hashed users "
        f"({result['args']['user_buckets']:,} buckets) and the {result['args']['item_ids']:,} most frequent items. "
        "Floors: "
        + "; ".join(f"{k}: {v}" for k, v in FLOORS.items())
        + " (benchmarks/scale.py says what each does). Beam: "
        + result["args"].get("beam_runner", "direct")
        + ". Peak MB: the resident memory of the process tree while the component ran (each size in a fresh "
        "process; LocalDagRunner runs the components in it).",
        "",
        "| rows (train + eval) | users | items | component | seconds | peak MB | rows/s | floor s | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in result["sizes"]:
        for name, c in size["components"].items():
            floor = f"{c['floor_seconds']:.1f} | {c['ratio']:.1f}x" if "floor_seconds" in c else "- | -"
            lines.append(
                f"| {size['rows']:,} | {size['distinct_users']:,} | {size['distinct_items']:,} | {name} | "
                f"{c['seconds']:.1f} | {_mb(c['peak_mb'])} | {c['rows_per_second']:,.0f} | {floor} |"
            )
    lines += [
        "",
        "Rows/s: every row for the data components, the eval rows for the Evaluator, every row for the Trainer "
        f"too (it trains a fixed budget, so its rows/s says nothing of its step). Peak MB `-`: the component "
        f"ran between two samples ({SAMPLE_SECONDS} s apart). Users and items: distinct values in the training "
        f"split (the generator draws them Zipf-distributed from {USERS_PER_ROW} users and {ITEMS_PER_ROW} items "
        "per task example).",
        "",
    ]
    fed = [size for size in result["sizes"] if "trainer_input" in size]
    if fed:
        lines += [
            "## The Trainer's input pipeline",
            "",
            f"The same {result['args']['train_steps']} train steps (`model.fit`, batch 256) on 20 transformed "
            "batches in memory (the Trainer's floor) and fed by the Trainer's own input pipeline (TFXIO reading, "
            "parsing and shuffling the transformed examples, `components.trainer._dataset`), one after the other; "
            "the input's share of the step is 1 - in memory / fed where fed is the slower.",
            "",
            "| rows | in memory s | fed s | fed / in memory |",
            "|---|---|---|---|",
        ]
        for size in fed:
            t = size["trainer_input"]
            lines.append(
                f"| {size['rows']:,} | {t['in_memory_seconds']:.1f} | {t['fed_seconds']:.1f} | "
                f"{t['fed_seconds'] / t['in_memory_seconds']:.2f}x |"
            )
        lines.append("")
    if result["exponents"]:
        lines += ["## Exponent b of seconds ~ rows^b", "", "| component | b | floor's b |", "|---|---|---|"]
        for name, e in result["exponents"].items():
            if name == "gate":
                continue
            floor = f"{e['floor']:.2f}" if "floor" in e else "-"
            lines.append(f"| {name} | {e['component']:.2f} | {floor} |")
        lines.append("")
    lines += [
        "## The per-task gate alone (fresh process, candidate as its own baseline: two models score every row)",
        "",
        "| eval rows | seconds | MB with the model loaded | peak MB | growth MB |",
        "|---|---|---|---|---|",
    ]
    for size in result["sizes"]:
        g = size["gate"]
        lines.append(
            f"| {g['rows']:,} | {g['seconds']:.1f} | {g['loaded_mb']:,.0f} | {g['peak_mb']:,.0f} | "
            f"{g['growth_mb']:,.0f} |"
        )
    if "gate" in result["exponents"]:
        g = result["exponents"]["gate"]
        lines += [
            "",
            f"The gate's growth over the loaded model: {g['growth_mb_per_million_eval_rows']:.0f} MB per million "
            f"eval rows (fitted; the per-row task, label and two scores the paired bootstrap needs are 20 bytes a "
            f"row); seconds ~ rows^{g['seconds']:.2f}.",
        ]
    served = result["sizes"][-1].get("served")
    if served:
        lines += [
            "",
            "## Unseen ids on the largest run's served model",
            "",
            f"Server: {served['server']}. {served['distinct_train_users']:,} training users hashed into "
            f"{result['args']['user_buckets']:,} buckets; {served['distinct_train_items']:,} training items, the "
            f"{served['item_vocabulary']:,} most frequent in the vocabulary, {served['items_left_out']:,} left out.",
            "",
            f"- user `{served['unseen_user']}` (never seen) scores {served['user_scores'][0]:.6f}; "
            f"`{served['seen_user_same_bucket']}` (seen, same bucket) {served['user_scores'][1]:.6f}: "
            f"{'equal' if served['user_rule_holds'] else 'DIFFERENT'}.",
            "- items "
            + ", ".join(f"`{i}` {s:.6f}" for i, s in zip(served["item_rows"], served["item_scores"], strict=True))
            + f": the unseen and the two left-out items share the OOV id "
            f"({'equal' if served['item_rule_holds'] else 'DIFFERENT'}); the most frequent item has its own.",
        ]
    lines += ["", f"![time against rows]({result.get('plot', 'scale.png')})", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES), help="task examples per size")
    parser.add_argument("--model", default="grec")
    parser.add_argument("--optimizer", default="adam", help="the Trainer's: models.training.OPTIMIZERS")
    parser.add_argument("--train-steps", type=int, default=300, help="the fixed training budget (default: 300)")
    parser.add_argument("--eval-steps", type=int, default=20, help="validation batches per round (default: 20)")
    parser.add_argument("--user-buckets", type=int, default=USER_BUCKETS, help="hash_buckets of user_id")
    parser.add_argument("--item-ids", type=int, default=ITEM_IDS, help="max_ids of item_id")
    parser.add_argument("--beam-runner", default="direct", help="pipelines/beam.py's runner (default: direct)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="where the runs go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep each size's data and pipeline root")
    parser.add_argument("--no-serve", action="store_true", help="no server queries after the largest size")
    parser.add_argument("--out", help="results path without suffix (default: results/scale)")
    parser.add_argument("--report", help="only write the report and plot again from this results JSON")
    parser.add_argument("--single", help=argparse.SUPPRESS)  # one size in this process, its result to this file
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # with --single
    parser.add_argument("--gate", help=argparse.SUPPRESS)  # the gate alone (gate_alone)
    parser.add_argument("--gate-growth", metavar="RUN", help="the gate's memory on a kept run's eval split only")
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 4, 16, 64], help="with --gate-growth")
    args = parser.parse_args(argv)
    if args.gate:
        _gate_process(args.gate)
        return 0
    if args.gate_growth:
        start = time.perf_counter()
        result = gate_growth(args.gate_growth, args.repeats)
        out = os.path.join(RESULTS, "gate_memory")
        machine.finish(
            result, args, argv or sys.argv[1:], "benchmarks.scale", time.perf_counter() - start, out, gate_markdown
        )
        return 0
    if args.report:
        with open(args.report) as f:
            result = json.load(f)
        out = os.path.splitext(args.report)[0]
        result["plot"] = os.path.basename(out) + ".png"
        plot(result, out + ".png")
        machine.write_results(os.path.dirname(out), os.path.basename(out), result, markdown(result))
        return 0
    from pipelines import output

    output.configure(False)
    start = time.perf_counter()
    work = args.work or tempfile.mkdtemp(prefix="grec-scale-")
    os.makedirs(work, exist_ok=True)
    if args.single:
        with open(args.single, "w") as f:
            json.dump(run_size(args.rows[0], work, args, args.serve), f, default=float)
        return 0
    sizes, result = sorted(args.rows), {"sizes": []}
    for rows in sizes:  # each size in a fresh process: its memory is its own
        single = os.path.join(work, f"rows_{rows}.json")
        command = [sys.executable, "-m", "benchmarks.scale", "--rows", str(rows), "--single", single, "--work", work]
        command += [f"--{key.replace('_', '-')}={getattr(args, key)}" for key in PASSED_ON]
        command += ["--keep"] * args.keep + ["--serve"] * (not args.no_serve and rows == sizes[-1])
        subprocess.run(command, check=True)
        with open(single) as f:
            result["sizes"].append(json.load(f))
    result["exponents"] = exponents(result["sizes"])
    out = args.out or os.path.join(RESULTS, "scale")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    result["plot"] = os.path.basename(out) + ".png"
    plot(result, os.path.abspath(out) + ".png")
    machine.finish(result, args, argv or sys.argv[1:], "benchmarks.scale", time.perf_counter() - start, out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
