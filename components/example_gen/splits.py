"""The splitters: the time split of one input, and the validation split carved from the training rows inside
ExampleGen, so the eval split is the Evaluator's alone.

Early stopping (and any tuning) must not read the rows that bless a model. The
ExampleGens (``components.example_gen``) write a third split,
``validation``, from ``train`` whatever the input layout:

* by time when the spec has a time column: the latest ``fraction`` of the
  training rows (the time at that quantile of ``train``, by Beam's
  ``ApproximateQuantiles``), the period just before eval, as eval is to train;
* else by a stable hash of the row's context (every feature but the task,
  label and weight), so all the tasks of one context go to the same side and
  a model is never validated on a context it trained on under another task.

The Trainer reads ``validation`` for early stopping and its per-task logs; the
Evaluator reads only ``eval``.
"""

from __future__ import annotations

import hashlib

# Beam and TensorFlow are imported where used: the runners read this module's constants before
# TensorFlow loads (quiet mode must set its log level first).
VALIDATION = "validation"
DEFAULT_VALIDATION_FRACTION = 0.1  # a tenth of the training rows, as benchmarks.real_data holds out
_BUCKETS = 10_000
_QUANTILES = 100  # the time cutoff is a percentile of train's times
DAY = 86_400
SPLITS = ("train", "eval")  # what a time split writes


def _example(record):
    import tensorflow as tf

    return tf.train.Example.FromString(record) if isinstance(record, bytes) else record


def time_of(record, column: str) -> int:
    """The one number in ``record``'s ``column`` (an int or float feature)."""
    example = _example(record)
    feature = example.features.feature.get(column)
    values = [] if feature is None else list(feature.int64_list.value) or list(feature.float_list.value)
    if len(values) != 1:
        raise ValueError(
            f"time column {column!r} must hold one number per row; found {values!r} in " f"{str(example)[:300]!r}"
        )
    return int(values[0])


def context_bucket(record, not_context: frozenset[str]) -> int:
    """A stable bucket in [0, 10000) of the row's features other than ``not_context``."""
    features = _example(record).features.feature
    digest = hashlib.sha256()
    for name in sorted(features):
        if name not in not_context:
            digest.update(name.encode() + b"\0" + features[name].SerializeToString(deterministic=True))
    return int.from_bytes(digest.digest()[:8], "little") % _BUCKETS


def carve(train, fraction: float, time_column: str | None, not_context: frozenset[str]):
    """(train, validation) PCollections from ``train``: ``fraction`` of its rows, by time or by context hash.

    A time column whose percentile equals its earliest time (one time for all
    rows) cannot order the rows: they are carved by context hash instead.
    """
    import apache_beam as beam

    threshold = round(fraction * _BUCKETS)

    def by_hash(record) -> int:
        return int(context_bucket(record, not_context) < threshold)

    if time_column is None:
        return tuple(train | "CarveByContext" >> beam.Partition(lambda record, _: by_hash(record), 2))
    timed = train | "ValidationTime" >> beam.Map(lambda record: (time_of(record, time_column), record))
    index = min(_QUANTILES - 1, round((1 - fraction) * _QUANTILES))
    bounds = beam.pvalue.AsSingleton(
        timed
        | "ValidationTimes" >> beam.Keys()
        | "TimeQuantiles" >> beam.transforms.stats.ApproximateQuantiles.Globally(_QUANTILES + 1)
        | "ValidationCutoff" >> beam.Map(lambda quantiles: (quantiles[index], quantiles[0]))
    )

    def side(pair, _, cutoff_first) -> int:
        cutoff, first = cutoff_first
        return int(pair[0] >= cutoff) if cutoff > first else by_hash(pair[1])

    parts = timed | "CarveByTime" >> beam.Partition(side, 2, cutoff_first=bounds)
    return tuple(
        part | f"Carved[{name}]" >> beam.Values() for name, part in zip(("train", VALIDATION), parts, strict=True)
    )


def split_by_time(pipeline, records, config: dict) -> dict:
    """``records`` (one PCollection of serialized rows) -> {"train": ..., "eval": ...}: a row goes to eval
    when its ``config["time_column"]`` is at or after the cutoff, ``eval_start`` (unix seconds) or
    ``eval_days`` before the latest time in the data."""
    import apache_beam as beam

    column = config["time_column"]
    # Each record's time is read once: (time, record) pairs are split, then the records kept.
    timed = records | "Time" >> beam.Map(lambda record: (time_of(record, column), record))
    if "eval_start" in config:
        cutoff = beam.pvalue.AsSingleton(pipeline | "Cutoff" >> beam.Create([int(config["eval_start"])]))
    else:
        eval_seconds = int(config["eval_days"] * DAY)
        cutoff = beam.pvalue.AsSingleton(
            timed
            | "Times" >> beam.Keys()
            | "Latest" >> beam.CombineGlobally(max)
            | "Cutoff" >> beam.Map(lambda latest: latest - eval_seconds)
        )
    parts = timed | "SplitByTime" >> beam.Partition(
        lambda pair, _, start: int(pair[0] >= start), len(SPLITS), start=cutoff
    )
    parts = [part | f"Records[{name}]" >> beam.Values() for name, part in zip(SPLITS, parts, strict=True)]
    return dict(zip(SPLITS, parts, strict=True))
