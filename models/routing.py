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

The router owns the plan: ``LearnedRouter`` (a float32 linear map to E logits,
jitter in training, ``top_k_plan``) and ``FixedRouter`` (a layer specialised to
one task sentence: its K experts with fixed weights, nothing learned) both
return a ``RoutingPlan``; the MoE layer only dispatches by it and adds the
losses a learned plan carries.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import keras
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
        router_probs: <float32>[G, E] softmax over all experts (a fixed plan: its weights).
        router_logits: <float32>[G, E]; None for a fixed plan (no logits, no router losses).
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


@keras.saving.register_keras_serializable(package="grec")
class LearnedRouter(keras.layers.Layer):
    """The learned plan: what ``routing`` reads (``router_input``) -> E logits by a bias-free linear map ->
    ``top_k_plan``. Float32 whatever the dtype policy (small logit differences flip the top-k); in training,
    multiplicative jitter on the router input (Switch Transformer).

    Built by its MoE layer (``build(dim)``); ``plan`` gives the decision.

    Args:
        num_experts: E.
        top_k: K.
        routing: one of ``ROUTING_MODES``.
        jitter: multiplicative noise range, training only.
        seed: seed of the jitter; the router owns its ``keras.random.SeedGenerator``, so the noise state is
            one variable made here, never inside a traced (or replicated) training step.
    """

    def __init__(self, num_experts, top_k, routing, jitter=0.0, seed=None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.num_experts = num_experts
        self.top_k = top_k
        self.routing = RoutingMode(routing).value
        self.jitter = jitter
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="jitter_seed") if jitter > 0 else None

    def build(self, dim):
        self.kernel = self.add_weight(name="kernel", shape=(dim, self.num_experts), initializer="glorot_uniform")

    def plan(self, normed_tokens, task_sentence=None, training=False) -> RoutingPlan:
        """The plan for a batch: ``normed_tokens`` <float>[B, T, D] (may be None in ``task``/``task_sentence``
        modes), ``task_sentence`` <float>[B, S, D]."""
        state = ops.cast(router_input(self.routing, normed_tokens, task_sentence), "float32")
        if training and self.jitter > 0:
            state = state * keras.random.uniform(
                ops.shape(state), 1.0 - self.jitter, 1.0 + self.jitter, seed=self.seed_generator
            )
        return top_k_plan(ops.matmul(state, self.kernel), self.top_k)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_experts=self.num_experts, top_k=self.top_k, routing=self.routing, jitter=self.jitter, seed=self.seed
        )
        return config


class FixedRouter:
    """The plan of a layer specialised to one task sentence (``GRec.specialize``): its K experts, always, with
    fixed weights; nothing learned, no logits.

    Args:
        combine_weights: K floats.
        per_example: one routing group per example (else one per token).
    """

    def __init__(self, combine_weights, per_example=True):
        self.combine_weights = [float(w) for w in combine_weights]
        self.per_example = per_example

    def plan(self, normed_tokens, task_sentence=None, training=False) -> RoutingPlan:
        groups = ops.shape(normed_tokens)[0] * (1 if self.per_example else normed_tokens.shape[1])
        top_k = len(self.combine_weights)
        index = ops.tile(ops.expand_dims(ops.arange(top_k, dtype="int32"), 0), (groups, 1))
        combine = ops.tile(ops.expand_dims(ops.convert_to_tensor(self.combine_weights, "float32"), 0), (groups, 1))
        return RoutingPlan(index, combine, combine, None)
