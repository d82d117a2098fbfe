"""The exported serving graphs themselves."""

import collections
import os

import tensorflow as tf


def _op_counts(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    ops = collections.Counter(node.op for node in graph.node)
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    return ops


def test_requests_look_up_vocabularies_but_never_initialise_tables(exported):
    """Export logs TF's "Tables initialized inside a tf.function will be re-initialized on every invocation"
    for the Transform vocabularies; the saved signatures show it does not apply to them: the tables are
    initialised once when the model loads, and a request only looks values up."""
    model = tf.saved_model.load(os.path.join(exported.base_path, "1"))
    assert set(model.signatures) == {"serving_default", "serve_raw"}
    for name, function in model.signatures.items():
        ops = _op_counts(function)
        assert ops["LookupTableFindV2"] >= 3, (name, ops)  # task, flow, surface at least
        initialising = sorted(op for op in ops if "InitializeTable" in op or "LookupTableImport" in op)
        assert not initialising, (name, initialising)
