"""Routing: decide which K of E experts each routing group uses, as a frozen plan.

A routing mode only decides *what the router reads* and *what a routing group
is*; every mode then goes through ``top_k_plan`` and one dispatch path
(``models/dispatch.py``):

* ``token``: every token is its own group (G = B*T, R = 1), routed on its own
  normalised representation;
* ``sentence``: one group per example (G = B, R = T), routed on the mean of
  its normalised tokens;
* ``task``: one group per example, routed on the main-task embedding;
* ``task_sentence`` (GRec's default): one group per example, routed on the
  mean of the task-sentence embeddings (main task + auxiliary descriptors).

In the last two the decision depends only on the task sentence, so every
example of one task sentence uses the same K experts.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from keras import ops


class RoutingMode(str, enum.Enum):
    TOKEN = "token"
    SENTENCE = "sentence"
    TASK = "task"
    TASK_SENTENCE = "task_sentence"


ROUTING_MODES = tuple(m.value for m in RoutingMode)
PER_EXAMPLE_MODES = ("sentence", "task", "task_sentence")
TASK_ONLY_MODES = ("task", "task_sentence")


class RoutingPlan(NamedTuple):
    """What the router decided for G routing groups.

    Attributes:
        expert_index: <int32>[G, K] chosen experts, best first.
        combine_weights: <float32>[G, K] weights of the chosen experts (sum 1).
        router_probs: <float32>[G, E] softmax over all experts.
        router_logits: <float32>[G, E].
    """

    expert_index: object
    combine_weights: object
    router_probs: object
    router_logits: object


def top_k_plan(router_logits, top_k):
    """Builds the plan from router logits: top-K experts, renormalised weights.

    Args:
        router_logits: <float32>[G, E].
        top_k: K.

    Returns:
        RoutingPlan.
    """
    router_logits = ops.cast(router_logits, "float32")
    probs = ops.softmax(router_logits, axis=-1)
    # Shape: [G, K].
    top_probs, expert_index = ops.top_k(probs, k=top_k)
    combine = top_probs / ops.sum(top_probs, axis=-1, keepdims=True)
    return RoutingPlan(ops.cast(expert_index, "int32"), combine, probs, router_logits)


def router_input(mode, normed_tokens, task_sentence):
    """What the router reads for a mode.

    Args:
        mode: one of ROUTING_MODES.
        normed_tokens: <float>[B, T, D] the RMS-normalised tokens.
        task_sentence: <float>[B, S, D] task-sentence embeddings (main task
            first), or None (only ``token`` and ``sentence`` work without it).

    Returns:
        <float>[G, D]: G = B*T for ``token``, B otherwise.
    """
    mode = RoutingMode(mode).value
    if mode == "token":
        return ops.reshape(normed_tokens, (-1, ops.shape(normed_tokens)[-1]))
    if mode == "sentence":
        return ops.mean(normed_tokens, axis=1)
    if task_sentence is None:
        raise ValueError(f"Routing mode {mode!r} needs the task sentence. Received: `task_sentence=None`")
    if mode == "task":
        return task_sentence[:, 0, :]
    return ops.mean(task_sentence, axis=1)
