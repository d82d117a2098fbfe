"""Reads TensorBoard event files back (tests of what the Trainer logs)."""

import glob

import tensorflow as tf


def read_events(log_dir) -> dict:
    """{tag: [(step, value)]} of every scalar and histogram written under ``log_dir`` (recursively)."""
    found = {}
    for path in glob.glob(f"{log_dir}/**/events.out.tfevents.*", recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return found
