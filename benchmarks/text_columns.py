"""What each extra text column costs: one encoder (and one token) per text column, against the floor of one
shared encoder reading the same words.

    python -m benchmarks.text_columns [--columns 1,2,3,4] [--batch 256] [--repeats 20] [--quick]

GRec at its ``small`` preset on synthetic-shaped inputs (``forward_cost.SYNTHETIC_LIKE``) whose text is
K columns of ``--tokens`` tokens from ``--vocab`` words each (Reviews: a title and a review). Per column
(the design of record): each its own vocabulary, embedding table and token. The floor, the shared design
it was chosen over: one column of K x ``--tokens`` tokens from a merged vocabulary of K x ``--vocab`` words
(the same embedding rows, one token). For each K: the compiled train step (``train_on_batch``, median of
``--repeats`` after warm-up) in examples per second, parameters, and the ratio per column / shared.

Writes results/text_columns.json and results/text_columns.md.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from benchmarks import RESULTS, machine
from benchmarks.forward_cost import SYNTHETIC_LIKE, time_calls


def _config(columns: int, vocab: int, tokens: int, shared: bool):
    from models.input_config import InputConfig

    if shared:
        text = [("text", vocab * columns, tokens * columns)]
    else:
        text = [(f"text_{i}", vocab, tokens) for i in range(columns)]
    return InputConfig(**{**SYNTHETIC_LIKE, "text": text})


def step_cost(columns: int, vocab: int, tokens: int, shared: bool, batch: int, repeats: int) -> dict:
    """Examples per second of GRec's compiled train step, and its parameters, for one text layout."""
    import keras

    from models import build_model, presets, training
    from models.input_config import example_inputs

    keras.utils.set_random_seed(0)
    config = _config(columns, vocab, tokens, shared)
    model = build_model("grec", config, **presets.resolve("grec"))
    model.compile(optimizer=training.optimizer())
    x = example_inputs(config, batch)
    y = np.random.default_rng(0).integers(0, 2, batch).astype("float32")
    seconds = time_calls(lambda: model.train_on_batch(x, y), repeats)
    return {"examples_per_second": batch / seconds, "parameters": int(model.count_params())}


def run(column_counts, vocab: int, tokens: int, batch: int, repeats: int) -> dict:
    rows = []
    for k in column_counts:
        per_column = step_cost(k, vocab, tokens, False, batch, repeats)
        shared = step_cost(k, vocab, tokens, True, batch, repeats)
        rows.append(
            {
                "columns": k,
                "per_column": per_column,
                "shared": shared,
                "time_ratio": shared["examples_per_second"] / per_column["examples_per_second"],
            }
        )
        print(
            f"  K={k}: per column {per_column['examples_per_second']:,.0f} ex/s, "
            f"shared {shared['examples_per_second']:,.0f} ex/s, time ratio {rows[-1]['time_ratio']:.2f}",
            flush=True,
        )
    return {"rows": rows}


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Text columns: one encoder per column against one shared encoder",
        "",
        f"Command: `{result['command']}`  ",
        machine.summary(result["machine"]),
        "",
        f"GRec, small preset, batch {a['batch']}; each text column {a['tokens']} tokens from {a['vocab']:,} words. "
        f"Compiled train step, median of {a['repeats']}. Shared: one column of K x {a['tokens']} tokens from a "
        f"merged vocabulary of K x {a['vocab']:,} words (the floor: the same words through one encoder).",
        "",
        "| text columns K | per column ex/s | shared ex/s | time per column / shared | parameters per column |"
        " parameters shared | ex/s vs K=1 (per column) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first = result["rows"][0]["per_column"]["examples_per_second"]
    for r in result["rows"]:
        p, s = r["per_column"], r["shared"]
        lines.append(
            f"| {r['columns']} | {p['examples_per_second']:,.0f} | {s['examples_per_second']:,.0f} | "
            f"{r['time_ratio']:.2f} | {p['parameters']:,} | {s['parameters']:,} | "
            f"{p['examples_per_second'] / first:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--columns", default="1,2,3,4", help="text column counts K, comma-separated")
    parser.add_argument("--vocab", type=int, default=20_000, help="words per text column")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per text column")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="K = 1, 2; 3 repeats; small vocabulary (a test)")
    parser.add_argument("--out", default=None, help="output path without suffix (default: results/text_columns)")
    args = parser.parse_args(argv)
    if args.quick:
        args.columns, args.repeats, args.vocab = "1,2", 3, 500
    counts = [int(k) for k in args.columns.split(",")]
    result = run(counts, args.vocab, args.tokens, args.batch, args.repeats)
    result.update(
        args=vars(args),
        machine=machine.describe(),
        command="python -m benchmarks.text_columns" + (" " + " ".join(argv) if argv else ""),
    )
    out = os.path.abspath(args.out or os.path.join(RESULTS, "text_columns"))
    machine.write_results(os.path.dirname(out), os.path.basename(out), result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
