"""The validation split carved from train: the latest rows by time, else whole contexts by hash."""

import apache_beam as beam
import tensorflow as tf

from components.example_gen.splits import carve


def _row(context: int, task: str, label: int, ts: int | None = None) -> bytes:
    example = tf.train.Example()
    features = example.features.feature
    features["user"].bytes_list.value.append(f"u{context}".encode())
    features["price"].float_list.value.append(context * 0.5)
    features["task"].bytes_list.value.append(task.encode())
    features["label"].int64_list.value.append(label)
    if ts is not None:
        features["ts"].int64_list.value.append(ts)
    return example.SerializeToString()


_COLLECTED: dict[str, list] = {}  # filled in this process by the DirectRunner (module functions, not pickled copies)


def _collect(record, side):
    _COLLECTED[side].append(record)


def _carve(rows, fraction, time_column=None):
    _COLLECTED.update(train=[], validation=[])
    with beam.Pipeline() as pipeline:
        parts = carve(pipeline | beam.Create(rows), fraction, time_column, frozenset({"task", "label"}))
        _ = parts[0] | "T" >> beam.Map(_collect, "train")
        _ = parts[1] | "V" >> beam.Map(_collect, "validation")
    return list(_COLLECTED["train"]), list(_COLLECTED["validation"])


def _field(record, name):
    feature = tf.train.Example.FromString(record).features.feature[name]
    return (list(feature.int64_list.value) or list(feature.bytes_list.value))[0]


def test_without_a_time_column_whole_contexts_go_to_one_side():
    rows = [_row(c, task, c % 2) for c in range(2_000) for task in ("ctr", "cvr")]
    train, validation = _carve(rows, 0.1)
    assert len(train) + len(validation) == 4_000
    assert 300 <= len(validation) <= 500  # about a tenth (a hash: 400 +- 3 sd of 19)
    sides = {}
    for side, records in (("train", train), ("validation", validation)):
        for record in records:
            sides.setdefault(_field(record, "user"), set()).add(side)
    assert all(len(s) == 1 for s in sides.values())  # a context's two tasks never straddle the split
    # Stable: the same rows carve the same way every run.
    assert sorted(_carve(rows, 0.1)[1]) == sorted(validation)


def test_with_a_time_column_validation_is_the_latest_tenth():
    rows = [_row(c, "ctr", 0, ts=1_000 + c) for c in range(1_000)]
    train, validation = _carve(rows, 0.1, "ts")
    train_times, validation_times = [_field(r, "ts") for r in train], [_field(r, "ts") for r in validation]
    assert max(train_times) < min(validation_times)  # the period just before eval, as eval follows train
    assert 90 <= len(validation) <= 110


def test_one_time_for_every_row_falls_back_to_the_hash():
    rows = [_row(c, "ctr", 0, ts=7) for c in range(1_000)]
    train, validation = _carve(rows, 0.1, "ts")
    assert 50 <= len(validation) <= 150 and len(train) + len(validation) == 1_000
