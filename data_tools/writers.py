"""Writers for columnar data: CSV (with header) and TFRecord of tf.Example.

Both are vectorised: CSV through pandas, TFRecord through tfx-bsl's C++
RecordBatch -> tf.Example encoder (the encoder TFX itself uses), so no Python
loop builds a proto per row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import numpy as np


def _arrow_column(values: np.ndarray):
    """A flat Arrow array: strings as UTF-8, NaN floats as nulls."""
    import pyarrow as pa

    if values.dtype == object:
        return pa.array(values, type=pa.string())
    if values.dtype.kind == "f":
        return pa.array(values, mask=np.isnan(values))
    return pa.array(values)


def write_csv(columns: Mapping[str, np.ndarray], path: str) -> None:
    """Writes columns to a CSV file with a header; NaN becomes an empty field.

    pyarrow's C++ CSV writer is about 3x faster than pandas' ``to_csv`` here.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    table = pa.table({name: _arrow_column(np.asarray(v)) for name, v in columns.items()})
    # CsvExampleGen reads the header line without unquoting it, so it is written
    # plain; pyarrow quotes the string fields of the body (standard CSV).
    with open(path, "wb") as f:
        f.write((",".join(columns) + "\n").encode())
        pa_csv.write_csv(table, f, pa_csv.WriteOptions(include_header=False))


def _list_array(values: np.ndarray):
    """One-value lists for a column, null lists (feature absent) where NaN."""
    import pyarrow as pa

    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
    if values.dtype == object:
        return pa.ListArray.from_arrays(offsets, pa.array(values, type=pa.string()).cast(pa.binary()))
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        flat = pa.array(np.nan_to_num(values).astype(np.float32))
        if missing.any():
            return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(missing))
        return pa.ListArray.from_arrays(offsets, flat)
    return pa.ListArray.from_arrays(offsets, pa.array(values.astype(np.int64)))


def serialize_examples(columns: Mapping[str, np.ndarray], chunk_rows: int = 100_000) -> Iterator[bytes]:
    """The rows of ``columns`` as serialized tf.Examples, in order (NaN floats: the feature absent)."""
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    names = list(columns)
    total = len(next(iter(columns.values())))
    encoder = example_coder.RecordBatchToExamplesEncoder()
    for start in range(0, total, chunk_rows):
        batch = pa.RecordBatch.from_arrays(
            [_list_array(np.asarray(columns[n])[start : start + chunk_rows]) for n in names], names
        )
        yield from encoder.encode(batch)


def write_tfrecord(columns: Mapping[str, np.ndarray], path: str, chunk_rows: int = 100_000) -> None:
    """Writes columns as a gzip-free TFRecord file of serialized tf.Example."""
    import tensorflow as tf

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in serialize_examples(columns, chunk_rows):
            writer.write(record)


def write(columns: Mapping[str, np.ndarray], path: str, file_format: str) -> None:
    """Writes in ``file_format`` ('csv' or 'tfrecord')."""
    if file_format == "csv":
        write_csv(columns, path)
    elif file_format == "tfrecord":
        write_tfrecord(columns, path)
    else:
        raise ValueError(f"file_format must be 'csv' or 'tfrecord'. Received: `file_format={file_format!r}`")
