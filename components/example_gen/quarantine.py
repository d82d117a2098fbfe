"""Bad input rows are quarantined and counted, not fatal: ExampleGen's row-level validation.

Real exports hold a few broken rows (a stray newline in a free-text field, a
truncated last line, ``N/A`` in a numeric column, a corrupt TFRecord). TFX's
CSV reader raises on the first one with a Beam stack trace; these readers, used
by every ExampleGen of the pipeline (``components.example_gen``),
instead send each bad row to the component's ``bad_rows`` output with its file,
line (or record number), column and reason, and feed the rest on:

* CSV: a row whose field count is wrong, whose quoting never closes, that is
  not UTF-8, or whose value does not fit its column (``components/row_check.py``:
  the dtype, a required task/label/time value, a label outside 0/1, an
  embedding's length, a non-finite number). A quote that never closes costs its
  own line only: reading resumes on the next line.
* TFRecord: a record whose length or data CRC is wrong, a truncated file, a
  payload that is not a ``tf.train.Example``.

``<bad_rows uri>/<input split>/bad_rows.csv`` lists them
(``file,line,column,reason,row``; ``record`` instead of ``line`` for TFRecord),
``counts.json`` beside it the rows read and rejected. Per input split, more bad
rows than ``max_bad_rows`` (a count >= 1, or a fraction of the split's rows
below 1; 0 is strict) stops the run before Transform with a message naming the
count, the first rows and the list's path. Clean rows become exactly the
examples TFX's own CSV reader would make (same features, same bytes, hence the
same hash split).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import struct

import apache_beam as beam
import tensorflow as tf
from tfx.types.artifact import Artifact

from components.row_check import (  # noqa: F401 (DEFAULT_MAX_BAD_ROWS re-exported)
    DEFAULT_MAX_BAD_ROWS,
    REPORTED,
    RowParser,
    describe,
    limit,
    read_rows,
)

BAD_ROWS_KEY = "bad_rows"  # the ExampleGen output holding the quarantine
CSV_COLUMNS = ("file", "line", "column", "reason", "row")
TFRECORD_COLUMNS = ("file", "record", "column", "reason", "row")
_BAD, _COUNTS = "bad", "counts"
log = logging.getLogger("grec.example_gen")


class BadRows(Artifact):
    """ExampleGen's quarantine: per input split, ``bad_rows.csv`` and ``counts.json``."""

    TYPE_NAME = "grec.BadRows"  # KFP v2 wants <namespace>.<Title>


class TooManyBadRows(RuntimeError):
    """More bad rows in a split than ``max_bad_rows`` allows; the message names them and the full list."""


def _bad(path: str, position: int, column: str | None, reason: str, text: str):
    return beam.pvalue.TaggedOutput(_BAD, (path, position, column or "", reason, text.rstrip("\r\n")))


class ReadCsv(beam.DoFn):
    """One CSV file -> tf.train.Example per good row; bad rows and the file's counts as tagged outputs."""

    def __init__(self, header: list[str], columns: dict, regression_tasks=(), nonnegative_tasks=()):
        self._header, self._columns = header, columns
        self._regression, self._nonnegative = list(regression_tasks), list(nonnegative_tasks)

    def setup(self):
        self._parser = RowParser(self._header, self._columns, self._regression, self._nonnegative)
        kinds = {"int": "int64_list", "float": "float_list", "string": "bytes_list"}
        self._features = [(name, kinds[self._columns[name].dtype]) for name in self._header]

    def _example(self, values) -> tf.train.Example:
        # The features csv_executor._ParsedCsvToTfExample makes (an empty cell: a feature whose list has no
        # values), built in place: 3x faster than building each Feature and copying it into the map.
        example = tf.train.Example()
        features = example.features.feature
        for (name, kind), value in zip(self._features, values, strict=True):
            listed = getattr(features[name], kind)
            if value is None:
                listed.SetInParent()
            else:
                listed.value.append(value.encode() if isinstance(value, str) else value)
        return example

    def process(self, path: str):
        rows, bad = 0, 0
        with beam.io.filesystems.FileSystems.open(path) as f:
            for line, text, values, column, reason in read_rows(f, self._parser):
                rows += 1
                if values is None:
                    bad += 1
                    yield _bad(path, line, column, reason, text)
                else:
                    yield self._example(values)
        yield beam.pvalue.TaggedOutput(_COUNTS, (rows, bad))


_LENGTH, _CRC = struct.Struct("<Q"), struct.Struct("<I")


def _masked_crc(data: bytes) -> int:
    import google_crc32c  # what TensorFlow's TFRecord writer uses: CRC-32C, masked

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class ReadTfRecord(beam.DoFn):
    """One TFRecord file -> serialized tf.train.Example per good record; corrupt ones as tagged outputs.

    Reads the framing itself (length, masked CRC-32C of the length, data, masked
    CRC-32C of the data) because TensorFlow's and Beam's readers stop at the
    first corrupt record with no way to go on: a record with a bad data CRC is
    skipped and reading goes on; a bad length or a truncated file ends the file.
    """

    def process(self, path: str):
        rows, bad, record, offset, error, framed = 0, 0, 0, 0, None, True
        try:
            with beam.io.filesystems.FileSystems.open(path) as f:
                while True:
                    framed = True  # the record count is up to date
                    head = f.read(12)
                    if not head:
                        break
                    record, rows, framed = record + 1, rows + 1, False
                    if len(head) < 12:
                        error = f"truncated: the file ends {len(head)} bytes into a record header at byte {offset}"
                        break
                    (length,) = _LENGTH.unpack(head[:8])
                    if _masked_crc(head[:8]) != _CRC.unpack(head[8:])[0]:
                        error = (
                            f"corrupt record length at byte {offset} (CRC mismatch); "
                            "the rest of the file cannot be read"
                        )
                        break
                    body = f.read(length + 4)
                    if len(body) < length + 4:
                        error = (
                            f"truncated: a record of {length} bytes at byte {offset}, the file ends after {len(body)}"
                        )
                        break
                    payload, at, offset = body[:length], offset, offset + 16 + length
                    if _masked_crc(payload) != _CRC.unpack(body[length:])[0]:
                        bad += 1
                        yield _bad(path, record, None, f"corrupt record data at byte {at} (CRC mismatch)", "")
                        continue
                    try:
                        tf.train.Example.FromString(payload)
                    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError
                        bad += 1
                        yield _bad(path, record, None, f"not a tf.train.Example: {exc}", repr(payload[:200]))
                        continue
                    yield payload
        except Exception as exc:  # noqa: BLE001 - e.g. a truncated .gz: reported like any corrupt record
            record, rows = record + framed, rows + framed
            error = f"the file cannot be read past byte {offset}: {exc}"
        if error is not None:
            bad += 1
            yield _bad(path, record, None, error, "")
        yield beam.pvalue.TaggedOutput(_COUNTS, (rows, bad))


def _write_counts(counts, path: str):
    rows, bad = counts
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump({"rows": rows, "bad_rows": bad}, f)


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def read_checked(pipeline, files: list[str], reader: beam.DoFn, folder: str, columns=CSV_COLUMNS):
    """Good records of ``files``; bad ones written to ``folder``/bad_rows.csv, counts to counts.json."""
    results = (
        pipeline | "Files" >> beam.Create(files) | "Read" >> beam.ParDo(reader).with_outputs(_BAD, _COUNTS, main="good")
    )
    _ = (
        results[_BAD]
        | "FormatBad" >> beam.Map(_csv_line)
        | "WriteBad"
        >> beam.io.WriteToText(
            os.path.join(folder, "bad_rows"),
            file_name_suffix=".csv",
            num_shards=1,
            shard_name_template="",
            header=",".join(columns),
        )
    )
    _ = (
        results[_COUNTS]
        | "Count" >> beam.CombineGlobally(lambda pairs: tuple(map(sum, zip(*pairs, strict=True))) if pairs else (0, 0))
        | "WriteCounts" >> beam.Map(_write_counts, os.path.join(folder, "counts.json"))
    )
    return results["good"]


def _first(folder: str, n: int = REPORTED) -> list[str]:
    with tf.io.gfile.GFile(os.path.join(folder, "bad_rows.csv")) as f:
        reader = csv.reader(f)
        position = next(reader)[1]
        found = sorted(reader, key=lambda r: (r[0], int(r[1])))
    return [describe(r[0], r[1], r[2], r[3], position) for r in found[:n]]


def summarize(uri: str, splits: list[str], max_bad_rows: float) -> dict[str, dict]:
    """Per input split, rows and bad rows; logs the quarantine; raises ``TooManyBadRows`` above the threshold."""
    summary = {}
    for split in splits:
        folder = os.path.join(uri, split)
        with tf.io.gfile.GFile(os.path.join(folder, "counts.json")) as f:
            counts = json.load(f)
        summary[split] = counts
        rows, bad = counts["rows"], counts["bad_rows"]
        if not bad:
            continue
        allowed = limit(max_bad_rows, rows)
        first = _first(folder)
        where = os.path.join(folder, "bad_rows.csv")
        listed = "\n".join(f"  {line}" for line in first) + (
            f"\n  ... and {bad - len(first)} more" if bad > len(first) else ""
        )
        if bad > allowed:
            rule = "0 (strict)" if max_bad_rows == 0 else f"{max_bad_rows:g} ({allowed} rows)"
            raise TooManyBadRows(
                f"ExampleGen: {bad} bad rows of {rows} in input split {split!r} ({bad / rows:.3%}), more than "
                f"max_bad_rows={rule}:\n{listed}\nAll bad rows, with line and reason: {where}\n"
                "Fix the rows, or raise the threshold (--max-bad-rows: a count, or a fraction of the rows below 1)."
            )
        log.warning(
            "ExampleGen: quarantined %d bad rows of %d in input split %r (%.3f %%; max_bad_rows %g allows %d):\n%s\n"
            "  all of them: %s",
            bad,
            rows,
            split,
            100 * bad / rows,
            max_bad_rows,
            allowed,
            listed,
            where,
        )
    return summary
