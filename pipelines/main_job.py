"""The main job behind ./run.sh: synthetic data -> TFX pipeline -> per-task AP table -> gRPC query.

Steps (each skipped when its output is already there and up to date):
1. write the synthetic data set (data/synthetic), unless its manifest matches;
2. run the pipeline with LocalDagRunner (cached executions are reused);
3. print the Evaluator's per-task AP/AUC table and the blessing;
4. start the model server on the pushed model (serving_models/grec), send one
   Predict request scoring one context for several tasks over gRPC, print the
   scores, stop the server.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time


def _step(title):
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def ensure_data(rows: int, data_root: str) -> None:
    from data_tools import generate_synthetic, synthetic

    config = synthetic.SyntheticConfig(num_rows=rows)
    manifest = os.path.join(data_root, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            written = json.load(f)
            if written.get("layout_version") == generate_synthetic.LAYOUT_VERSION and written[
                "config"
            ] == dataclasses.asdict(config):
                print(f"synthetic data already in {data_root} ({rows} rows)")
                return
    print(generate_synthetic.format_summary(generate_synthetic.write_dataset(config, data_root), data_root))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic task examples (default: %(default)s)")
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--no-serve", action="store_true", help="stop after the pipeline and the AP table")
    parser.add_argument("--verbose", action="store_true", help="show every library log line")
    args = parser.parse_args(argv)

    from pipelines import output

    output.configure(args.verbose)
    from pipelines import local_runner, report

    paths = local_runner.default_paths()  # $GREC_HOME, else the current folder (./run.sh: the repository)
    timings = {}
    start = _step("1/4 synthetic data")
    ensure_data(args.rows, paths["data_root"])
    timings["data"] = time.perf_counter() - start

    start = _step("2/4 TFX pipeline (LocalDagRunner): ExampleGen -> ... -> Pusher")
    with output.progress(args.verbose):
        local_runner.run(paths, train_steps=args.train_steps)
    timings["pipeline"] = time.perf_counter() - start
    print("component              state        seconds")
    for component, state, seconds in report.component_times(paths["metadata_path"]):
        print(f"{component:<22} {state:<12} {seconds:7.1f}")

    start = _step("3/4 Evaluator output: AP and AUC per task slice")
    evaluation = report.latest_evaluation(paths["pipeline_root"])
    with output.progress(args.verbose):
        rows = report.slice_table(evaluation)
        blessed, reasons = report.validation(evaluation)
    print(report.format_table(rows) + report.gate_section(evaluation))
    print("\nblessed: yes" if blessed else "\nblessed: NO\n  " + "\n  ".join(reasons))
    timings["report"] = time.perf_counter() - start

    if not args.no_serve:
        start = _step("4/4 gRPC: one Predict request, one context, several tasks")
        from serving import demo

        demo.serve_and_query(paths["serving_model_dir"])
        timings["serving"] = time.perf_counter() - start
    print("\nwall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
