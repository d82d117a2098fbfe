"""Spans: a data root of dated folders, one per day (or any period) of logs, in TFX's own convention.

    DATA_ROOT/span-1/train/*.csv  DATA_ROOT/span-1/eval/*.csv   (or span-N/*.csv, one input split inside)
    DATA_ROOT/2026-12-01/train/*.csv ...                          (a date: span = days since 1970-01-01)

ExampleGen reads them with TFX's span patterns (``span-{SPAN}``, ``{YYYY}-{MM}-{DD}``): its driver picks
the newest span (or the one ``--span`` names), records it on the examples artifact in the metadata store,
and the rolling window (``--train-spans N``) resolves the latest N spans' examples with TFX's
``SpanRangeStrategy``. Here only what the pre-flight check and the runners need: which layout a data
root has, and the folder of a span.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re

SPAN_PATTERN = "span-{SPAN}"  # TFX's span spec: the folder of span N is span-N
DATE_PATTERN = "{YYYY}-{MM}-{DD}"  # TFX's date spec: span = days since 1970-01-01
_SPAN_FOLDER = re.compile(r"^span-(\d+)$")
_DATE_FOLDER = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EPOCH = datetime.date(1970, 1, 1)


class SpanError(ValueError):
    """A data root whose span folders cannot be read, or a span that is not there (named)."""


@dataclasses.dataclass(frozen=True)
class Spans:
    """The span folders of a data root: TFX's ``pattern`` and span number -> folder."""

    pattern: str
    folders: dict

    @property
    def newest(self) -> int:
        return max(self.folders)

    def folder(self, span: int | None = None) -> str:
        """The folder of ``span`` (None: the newest).

        Raises:
            SpanError: no such span, the ones there named.
        """
        span = self.newest if span is None else span
        if span not in self.folders:
            raise SpanError(f"span {span} is not in the data root; spans there: {sorted(self.folders)}")
        return self.folders[span]


def date_span(text: str) -> int:
    """``2026-12-04`` -> its span number under the date spec (days since 1970-01-01, TFX's numbering)."""
    return (datetime.date.fromisoformat(text) - _EPOCH).days


def parse_span(text: str | None) -> int | None:
    """A ``--span`` value: a span number, or a date (``YYYY-MM-DD``) for a data root of dated folders."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return date_span(text)
    except ValueError:
        raise SpanError(f"--span {text!r}: expected a span number or a date YYYY-MM-DD") from None


def find_spans(data_root: str) -> Spans | None:
    """The span folders of ``data_root``, or None when it has none (a plain ``train/`` + ``eval/`` or one
    folder of files).

    Raises:
        SpanError: span folders beside other folders, or both kinds of span folder.
    """
    if not os.path.isdir(data_root):
        return None
    folders = sorted(f for f in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, f)))
    numbered = {int(m.group(1)): f for f in folders if (m := _SPAN_FOLDER.match(f))}
    dated = {date_span(f): f for f in folders if _DATE_FOLDER.match(f)}
    if not numbered and not dated:
        return None
    if numbered and dated:
        raise SpanError(f"{data_root}: both span-N and YYYY-MM-DD folders; keep one kind")
    spans = numbered or dated
    others = sorted(set(folders) - set(spans.values()))
    if others:
        raise SpanError(f"{data_root}: folders {others} beside the span folders; a data root of spans holds only spans")
    pattern = SPAN_PATTERN if numbered else DATE_PATTERN
    return Spans(pattern, {span: os.path.join(data_root, name) for span, name in spans.items()})
