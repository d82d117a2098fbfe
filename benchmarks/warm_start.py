"""Warm start against cold start, day after day: steps and time to the same validation loss, and the next
day's AP per task with paired intervals.

    python -m benchmarks.warm_start [--days 5] [--window 2] [--rows 150000] [--seeds 2] [--quick]

The embedded generator writes ``--days`` + 1 days of logs. Each day d trains on the latest ``--window`` days
(the pipeline's ``--train-spans``), Transform fitted on them (the pipeline's ``preprocessing_fn``, so the ids
are given afresh by frequency each day, as in the pipeline), validates on a tenth of day d held out, and is
scored on day d + 1 (the rows it will serve). Cold: GRec at its preset from a fresh initialisation. Warm:
from the previous day's warm model (``models.warm_start``: every weight carried, id-indexed rows by the value
each id stands for, the same code as the Trainer's ``--warm-start``). Both train the same way: the recipe,
rounds of ``--eval-every`` steps, early stopping on validation loss (best weights kept), at most
``--max-steps``; both see the same rows in the same order.

Per day from day 2: cold's best validation loss; the steps and seconds warm needed to reach it (its first
round at or below it; "never" if none); the steps each trained; the next day's AP and AUC per task, warm
minus cold with 95 % intervals (bootstrap over rows, mean over seeds).

Writes results/warm_start.json and results/warm_start.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import RESULTS, features, harness, machine
from benchmarks.quality.compare import metrics, paired

MIN_POSITIVES = 30  # a task's next-day rows must hold this many positives to be compared


class _RoundTimes:
    """Seconds at the end of each round (a Keras callback), for the time to a validation loss."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start, self.ends = time.perf_counter(), []

            def on_epoch_end(self, epoch, logs=None):
                self.ends.append(time.perf_counter() - self.start)

        return Timer()


def _days(rows: int, days: int, seed: int) -> list[dict]:
    """``days`` + 1 days of generated logs, a dict of columns per day."""
    from data_tools import synthetic

    config = synthetic.SyntheticConfig(num_rows=rows, train_days=days + 1, eval_days=1, seed=seed)
    columns = synthetic.generate(config)
    out = []
    for day in range(days + 1):
        start = synthetic.START_TS + day * synthetic.DAY
        chosen = (columns["ts"] >= start) & (columns["ts"] < start + synthetic.DAY)
        out.append({k: v[chosen] for k, v in columns.items()})
    return out


def _features(day_columns: list[dict], day: int, window: int, description: dict):
    """(TFTransformOutput, {fit, valid, test: transformed features}, {split: columns}) of day ``day`` (0-based):
    its window's rows less a tenth of day ``day`` (validation), and day ``day`` + 1 (test)."""
    from data_tools import synthetic, writers

    newest = day_columns[day]
    held_out = np.random.default_rng(day).random(len(newest["ts"])) < 0.1
    parts = [day_columns[d] for d in range(max(0, day - window + 1), day)]
    parts.append({k: v[~held_out] for k, v in newest.items()})
    splits = {
        "fit": {k: np.concatenate([p[k] for p in parts]) for k in newest},
        "valid": {k: v[held_out] for k, v in newest.items()},
        "test": dict(day_columns[day + 1]),  # a copy: task_key is added below
    }
    key = features.cache_key(
        {**description, "day": day, "window": window},
        harness.SPEC_PATH,
        harness.SCHEMA_PATH,
        extra_modules=("data_tools.synthetic", "benchmarks.warm_start"),
    )

    def fit_csv(folder):
        path = os.path.join(folder, "fit.csv")
        writers.write_csv(splits["fit"], path)
        return path

    tft_output, x = features.cached(
        key,
        harness.SPEC_PATH,
        harness.SCHEMA_PATH,
        fit_csv=fit_csv,
        splits=lambda: {name: writers.serialize_examples(columns) for name, columns in splits.items()},
    )
    for columns in splits.values():
        columns["task_key"] = synthetic.task_names(columns)
    return tft_output, x, splits


def _train(config, x, splits, seed, max_steps, eval_every, start_from=None, keys=None):
    """GRec at its preset, warm from ``start_from`` (a ``models.warm_start`` folder) or cold; returns
    (model, validation loss per round, seconds at the end of each round, the warm start's report)."""
    import keras

    from models import build_model, presets, training, warm_start

    keras.utils.set_random_seed(seed)
    model = build_model("grec", config, **presets.resolve("grec"))
    model.build_from_config_inputs()
    report = None
    if start_from:
        report = warm_start.restore(model, keys, start_from, {"model": "grec"})
    model.compile(optimizer=training.optimizer())
    timer = _RoundTimes()
    history = model.fit(
        harness._dataset(x["fit"], splits["fit"]["label"], training.BATCH_SIZE, seed),
        epochs=max_steps // eval_every,
        steps_per_epoch=eval_every,
        validation_data=(x["valid"], splits["valid"]["label"]),
        validation_batch_size=4096,
        callbacks=[*training.callbacks(), timer],
        verbose=0,
    )
    return model, list(history.history["val_loss"]), timer.ends, report


def run(days: int, window: int, rows: int, seeds: int, max_steps: int, eval_every: int) -> dict:
    from components.feature_spec import load_feature_spec
    from components.model_inputs import id_keys, input_config_from_transform
    from models import warm_start

    spec = load_feature_spec(harness.SPEC_PATH)
    work = tempfile.mkdtemp(prefix="warm_start_")
    per_day: list[dict] = []
    scores: dict = {}  # day -> {"warm"|"cold": [seeds, test rows]}
    day_columns = _days(rows, days, 0)  # one data set: the seeds vary initialisation and row order
    for seed in range(seeds):
        previous = None  # the warm chain's saved model
        for day in range(days):
            description = {"warm_start_benchmark": rows, "days": days}
            tft_output, x, splits = _features(day_columns, day, window, description)
            config = input_config_from_transform(spec, tft_output)
            keys = id_keys(spec, tft_output)
            cold, cold_loss, cold_ends, _ = _train(config, x, splits, seed, max_steps, eval_every)
            if previous is None:
                warm, warm_loss, warm_ends, report = cold, cold_loss, cold_ends, None
            else:
                warm, warm_loss, warm_ends, report = _train(
                    config, x, splits, seed, max_steps, eval_every, previous, keys
                )
            previous = os.path.join(work, f"seed{seed}_day{day}")
            warm_start.save(warm, keys, previous, {"model": "grec"})
            entry = {"seed": seed, "day": day + 1, "cold_val_loss": cold_loss, "warm_val_loss": warm_loss}
            target = min(cold_loss)
            reached = next((i for i, loss in enumerate(warm_loss) if loss <= target), None)
            entry.update(
                cold_steps_to_best=(int(np.argmin(cold_loss)) + 1) * eval_every,
                cold_seconds_to_best=cold_ends[int(np.argmin(cold_loss))],
                warm_steps_to_cold_best=None if reached is None else (reached + 1) * eval_every,
                warm_seconds_to_cold_best=None if reached is None else warm_ends[reached],
                cold_steps=len(cold_loss) * eval_every,
                warm_steps=len(warm_loss) * eval_every,
                ids=report.ids if report else None,
            )
            per_day.append(entry)
            test = splits["test"]
            for name, model in (("cold", cold), ("warm", warm)):
                predicted = np.asarray(model.predict(x["test"], batch_size=4096, verbose=0), dtype="float64")
                scores.setdefault(day + 1, {}).setdefault(name, []).append(predicted.reshape(-1))
            scores[day + 1]["labels"], scores[day + 1]["tasks"] = test["label"], test["task_key"]
            print(
                f"  seed {seed} day {day + 1}: cold best val loss {target:.4f} at {entry['cold_steps_to_best']} "
                f"steps; warm first {warm_loss[0]:.4f} (cold first {cold_loss[0]:.4f}), reached cold's best at "
                f"{entry['warm_steps_to_cold_best']} steps",
                flush=True,
            )
    next_day = {}
    for day, found in scores.items():
        if day == 1:
            continue  # day 1: warm is cold
        labels, tasks = found["labels"], found["tasks"]
        warm, cold = np.stack(found["warm"]), np.stack(found["cold"])
        entry = {}
        for task in sorted(set(tasks)):
            rows_ = tasks == task
            y = labels[rows_]
            if y.sum() < MIN_POSITIVES:
                continue
            entry[task] = {
                "positives": int(y.sum()),
                "warm": metrics(y, warm[:, rows_].mean(axis=0)),
                "cold": metrics(y, cold[:, rows_].mean(axis=0)),
                "warm_minus_cold": paired(y, warm[:, rows_], cold[:, rows_]),
            }
        next_day[day] = entry
    return {"per_day": per_day, "next_day": next_day}


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Warm start against cold start, day after day (synthetic logs)",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]),
        "",
        f"{a['days']} days of {a['rows']:,} generated task examples over {a['days'] + 1} days; each day trains "
        f"on the latest {a['window']} days (a tenth of the newest held out for validation) and is scored on "
        f"the next day. GRec small preset, rounds of {a['eval_every']} steps, at most {a['max_steps']}, "
        f"early stopping; {a['seeds']} seed(s) over the same logs, each its own initialisation, row order "
        "and warm chain.",
        "",
        "## Steps and time to the same validation loss",
        "",
        "| seed | day | cold: first / best val loss | cold: steps (s) to best | warm: first val loss | "
        "warm: steps (s) to cold's best | steps trained cold / warm |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in result["per_day"]:
        if e["day"] == 1:
            continue
        warm_to = (
            "never"
            if e["warm_steps_to_cold_best"] is None
            else f"{e['warm_steps_to_cold_best']} ({e['warm_seconds_to_cold_best']:.0f})"
        )
        lines.append(
            f"| {e['seed']} | {e['day']} | {e['cold_val_loss'][0]:.4f} / {min(e['cold_val_loss']):.4f} | "
            f"{e['cold_steps_to_best']} ({e['cold_seconds_to_best']:.0f}) | {e['warm_val_loss'][0]:.4f} | "
            f"{warm_to} | {e['cold_steps']} / {e['warm_steps']} |"
        )
    lines += [
        "",
        "## The next day's AP per task: warm minus cold, 95 % interval (rows bootstrapped, mean over seeds)",
        "",
        "| trained on day | task | positives | AP cold | AP warm | warm - cold [95 % CI] | verdict |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    verdicts: dict[str, int] = {}
    for day, entry in result["next_day"].items():
        for task, t in entry.items():
            d = t["warm_minus_cold"]["ap"]
            verdicts[d["verdict"]] = verdicts.get(d["verdict"], 0) + 1
            lines.append(
                f"| {int(day)} | {task} | {t['positives']} | {t['cold']['ap']:.4f} | {t['warm']['ap']:.4f} | "
                f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] | warm {d['verdict']} |"
            )
    lines += ["", "Verdicts over (day, task): " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items()))]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--window", type=int, default=2, help="days each day trains on (--train-spans)")
    parser.add_argument("--rows", type=int, default=150_000, help="task examples over all days")
    parser.add_argument("--seeds", type=int, default=None, help="default 2 (1 with --quick)")
    parser.add_argument("--max-steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="3 days, 12,000 rows, 60 steps (a test)")
    parser.add_argument("--out", default=None, help="output path without suffix (default: results/warm_start)")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.rows, args.max_steps, args.eval_every = 3, 12_000, 60, 20
    if args.seeds is None:
        args.seeds = 1 if args.quick else 2
    start = time.perf_counter()
    result = run(args.days, args.window, args.rows, args.seeds, args.max_steps, args.eval_every)
    result.update(
        args=vars(args),
        machine=machine.describe(),
        seconds=time.perf_counter() - start,
        command="python -m benchmarks.warm_start" + (" " + " ".join(argv) if argv else ""),
    )
    out = os.path.abspath(args.out or os.path.join(RESULTS, "warm_start"))
    machine.write_results(os.path.dirname(out), os.path.basename(out), result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
