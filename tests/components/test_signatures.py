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


def test_the_graph_loader_of_tensorflow_model_server_restores_every_variable(exported):
    """tensorflow_model_server loads a SavedModel into a session with its restore and init ops, not with
    tf.saved_model.load; Keras 3 variables inside a tf.Module were left out of the restore op
    ("Could not find variable g_rec/tower_w1" on the first request) until the export tracked them."""
    from serving.client import serialize_rows
    from serving.sample_model import SAMPLE_ROW

    rows = [dict(SAMPLE_ROW, task=t) for t in ("ctr", "atc", "cvr", "churn")]
    from components.signatures import DTYPES

    dtypes = {c.name: DTYPES[c.dtype] for c in exported.spec.feature_columns}
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], os.path.join(exported.base_path, "1"))
        signature = meta_graph.signature_def["serving_default"]
        scores = session.run(
            signature.outputs["probability"].name, {signature.inputs["examples"].name: serialize_rows(rows, dtypes)}
        )
    assert abs(scores - exported.in_process(rows)).max() < 1e-5
