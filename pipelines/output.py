"""What a local run prints: the user's progress, not the libraries' logs (unless ``--verbose``).

TensorFlow, Beam, TFX and google-api-core write hundreds of lines per run
(cuFFT/cuDNN factory registrations, FutureWarnings, deprecation notices, every
Beam stage). Quiet mode keeps errors, one line when each component starts and
finishes (with its wall time) and Keras' one line per epoch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import warnings

_COMPONENT = re.compile(r"^Component (\S+) is (running|finished)\.$")


class _ProgressFilter(logging.Filter):
    """Passes errors and the project's own warnings (``grec.*`` loggers: e.g. ExampleGen's quarantined rows);
    turns LocalDagRunner's component messages into one progress line each."""

    def __init__(self):
        super().__init__()
        self.started: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or (record.levelno >= logging.WARNING and record.name.startswith("grec")):
            return True
        match = _COMPONENT.match(record.getMessage())
        if not match:
            return False
        node, state = match.groups()
        if state == "running":
            self.started[node] = time.monotonic()
            line = f"[{time.strftime('%H:%M:%S')}] {node} ..."
        else:
            seconds = time.monotonic() - self.started.get(node, time.monotonic())
            line = f"[{time.strftime('%H:%M:%S')}] {node} done in {seconds:.1f} s"
        print(line, file=sys.stdout, flush=True)
        return False


def configure(verbose: bool = False) -> None:
    """Quiet mode (unless ``verbose``); call before TensorFlow is imported to hide its C++ log lines."""
    if verbose:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # C++ INFO/WARNING/ERROR lines (cuFFT/cuDNN factories)
    warnings.simplefilter("ignore")  # FutureWarning / DeprecationWarning from google api_core, Beam, TFX
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # the same in Beam's worker processes


@contextlib.contextmanager
def progress(verbose: bool = False):
    """Within the block, library log records are reduced to progress lines and errors."""
    if verbose:
        yield
        return
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)  # the component messages are INFO; the filter drops the rest
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    progress_filter = _ProgressFilter()
    handler.addFilter(progress_filter)
    saved = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    # absl and TensorFlow log through handlers of their own: route them through the filter too.
    own = [logging.getLogger(name) for name in ("absl", "tensorflow")]
    own_saved = [(logger.handlers[:], logger.propagate) for logger in own]
    for logger in own:
        logger.handlers, logger.propagate = [], True
    try:
        yield
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        for logger, (handlers, propagate) in zip(own, own_saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
