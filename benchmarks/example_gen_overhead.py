"""What row-level validation costs ExampleGen on clean data: the quarantining reader vs TFX's own.

    python -m benchmarks.example_gen_overhead                  # 1,000,000 clean rows, 2 rounds
    python -m benchmarks.example_gen_overhead --rows 30000 --rounds 1 --out /tmp/x   # a minute

Both run as the pipeline's ``CsvExampleGen`` (LocalDagRunner, Beam
DirectRunner, the output written as gzipped TFRecords, an 80/20 hash split),
on the same files: the synthetic sample's 300 rows repeated to ``--rows``.

* ``tfx_reader``: the executor before quarantining: TFX's CSV line reader,
  its CSV parser and its tf.Example builder with the spec's column types (a bad
  row ends the run).
* ``quarantine``: ``components.example_gen.quarantine.ReadCsv`` (line numbers, the spec's
  row checks, bad rows to the ``bad_rows`` output and counts).

Rounds alternate the two; the table gives each one's wall times and the ratio
of the medians. Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import apache_beam as beam
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs
from tfx_bsl.coders import csv_decoder

import schemas
from benchmarks import RESULTS
from components.example_gen import component as gen
from components.example_gen.config import read_config
from components.feature_spec import parse_feature_spec

SAMPLE = schemas.path("synthetic", "sample.csv")


def _write_rows(folder: str, rows: int) -> str:
    with open(SAMPLE) as f:
        header, *lines = f.read().splitlines()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "data.csv")
    with open(path, "w") as f:
        f.write(header + "\n")
        for i in range(rows):
            f.write(lines[i % len(lines)] + "\n")
    return path


class _TfxReader(beam.PTransform):
    """The reading path before quarantining: TFX's internals with the spec's column types."""

    def __init__(self, exec_properties, split_pattern):
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        spec = parse_feature_spec(json.loads(read_config(exec_properties)["spec"]))
        types = {
            "string": csv_decoder.ColumnType.STRING,
            "int": csv_decoder.ColumnType.INT,
            "float": csv_decoder.ColumnType.FLOAT,
        }
        self._infos = [csv_decoder.ColumnInfo(c.name, types[c.dtype]) for c in spec.columns]

    def expand(self, pipeline):
        return (
            pipeline
            | "CreateFilenames" >> beam.Create(sorted(fileio.glob(self._pattern)))
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
            | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), self._infos)
        )


class TfxReaderExecutor(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self):  # noqa: N802 (TFX's name)
        return _TfxReader


def _tfx_reader_component(data_root: str, spec):
    """The pipeline's CsvExampleGen with the reading path it had before quarantining."""
    component = gen.SpecCsvExampleGen(input_base=data_root, spec=spec.to_dict())
    component.executor_spec = executor_spec.BeamExecutorSpec(TfxReaderExecutor)  # no bad_rows written or counted
    return component


def _time(component, root: str) -> float:
    from tfx import v1 as tfx

    shutil.rmtree(root, ignore_errors=True)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="example_gen_overhead",
        pipeline_root=os.path.join(root, "pipeline"),
        components=[component],
        enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, "metadata.sqlite")
        ),
    )
    start = time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(RESULTS, "example_gen_overhead"))
    args = parser.parse_args(argv)

    from benchmarks import machine
    from components.feature_spec import load_feature_spec
    from pipelines import output
    from pipelines.grec_pipeline import example_gen_component

    output.configure()
    spec = load_feature_spec(schemas.path("synthetic", "feature_spec.yaml"))
    work = tempfile.mkdtemp(prefix="example_gen_overhead_")
    data = os.path.join(work, "data")
    path = _write_rows(data, args.rows)
    size_mb = os.path.getsize(path) / 1e6
    makers = {
        "tfx_reader": lambda: _tfx_reader_component(data, spec),
        "quarantine": lambda: example_gen_component(data, spec, input_pattern="*"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in makers}
    with output.progress():
        for round_ in range(args.rounds):
            for name, make in makers.items() if round_ % 2 == 0 else reversed(makers.items()):
                seconds[name].append(_time(make(), os.path.join(work, name)))
                print(f"round {round_ + 1}: {name} {seconds[name][-1]:.1f} s", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    ratio = medians["quarantine"] / medians["tfx_reader"]
    command = "python -m benchmarks.example_gen_overhead" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
    lines = [
        "# ExampleGen on clean CSV: quarantining reader vs TFX's reader",
        "",
        f"`{command}` ({args.rows:,} rows, {size_mb:.0f} MB, one file, 80/20 hash split, "
        f"DirectRunner; {args.rounds} rounds, alternating)",
        "",
        "| reader | wall time per run (s) | median (s) |",
        "|---|---|---:|",
        *[
            f"| {name} | {', '.join(f'{t:.1f}' for t in times)} | {medians[name]:.1f} |"
            for name, times in seconds.items()
        ],
        "",
        f"quarantine / tfx_reader: **{ratio:.2f}x** ExampleGen wall time (component run, including Beam "
        "start-up and writing the gzipped examples).",
    ]
    result = {
        "rows": args.rows,
        "megabytes": round(size_mb, 1),
        "seconds": seconds,
        "median_ratio": round(ratio, 3),
        "command": command,
        "machine": machine.describe(),
    }
    machine.write_results(os.path.dirname(args.out), os.path.basename(args.out), result, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
