"""The ``grec`` command: one subcommand per job, each the ``main(argv)`` of its module.

    grec run --spec my_spec/feature_spec.yaml --data-root my_data
    grec bench real_data adult --seeds 3

Every subcommand is also ``python -m <module>`` (the table below). A subcommand's one-line help is the
first line of its module's docstring, read without importing the module (TensorFlow loads only when a
subcommand runs).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys

# subcommand -> module whose main(argv) it runs
COMMANDS = {
    "demo": "pipelines.main_job",
    "draft-spec": "data_tools.draft_spec",
    "to-tasks": "data_tools.wide_to_tasks",
    "generate": "data_tools.generate_synthetic",
    "public-data": "data_tools.public_data",
    "aliexpress": "data_tools.aliexpress",
    "draft-schema": "components.schema_draft",
    "check-transform": "components.transform_check",
    "run": "pipelines.local_runner",
    "kubeflow": "pipelines.kubeflow_runner",
    "report": "pipelines.report",
    "serve": "serving.model_server",
    "predict": "serving.client",
}
# grec bench NAME -> benchmarks.NAME
BENCHMARKS = (
    "real_data",
    "paper_claims",
    "train_models",
    "forward_cost",
    "text_columns",
    "warm_start",
    "example_gen_overhead",
    "request_shapes",
    "serving_load",
    "serving_faults",
    "scale",
    "train_step",
)


def summary(module: str) -> str:
    """The first line of ``module``'s docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    with open(spec.origin, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grec",
        description="GRec, the Generalist Recommender. `grec COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        sub.add_parser(name, help=summary(module), add_help=False)
    bench = sub.add_parser("bench", help="a benchmark: " + ", ".join(BENCHMARKS), add_help=False)
    bench.add_argument("name", choices=BENCHMARKS, nargs="?")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "bench":
        if not rest or rest[0] in ("-h", "--help"):
            print("usage: grec bench NAME [options]\n\nbenchmarks:")
            for name in BENCHMARKS:
                print(f"  {name:22s}{summary('benchmarks.' + name)}")
            return 0 if rest else 2
        if rest[0] not in BENCHMARKS:
            parser.error(f"unknown benchmark {rest[0]!r}; known: {', '.join(BENCHMARKS)}")
        command, module, rest = f"bench {rest[0]}", f"benchmarks.{rest[0]}", rest[1:]
    elif command in COMMANDS:
        module = COMMANDS[command]
    else:
        parser.error(f"unknown command {command!r}; known: {', '.join([*COMMANDS, 'bench'])}")
    sys.argv[0] = f"grec {command}"  # argparse names the program after it in usage lines
    code = importlib.import_module(module).main(rest)
    return code if isinstance(code, int) else 0
