"""Sparse Mixture-of-Experts feed-forward layer with task-sentence routing."""

from __future__ import annotations

import keras
from keras import ops

from models import dispatch as dispatch_lib
from models.expert_utilization import ExpertUtilization
from models.moe_losses import load_balancing_loss, router_z_loss
from models.routing import PER_EXAMPLE_MODES, ROUTING_MODES, FixedRouter, LearnedRouter, RoutingMode
from models.validation import require, require_positive

DISPATCH_MODES = ("auto", "sparse", "dense")


@keras.saving.register_keras_serializable(package="grec")
class SparseMoE(keras.layers.Layer):
    """``y = x + sum_k w_k Expert_k(RMSNorm x)`` over the K experts the router picks.

    Decide, then do: the router (``models/routing.py``: a ``LearnedRouter``, or
    a ``FixedRouter`` when specialised) makes the ``RoutingPlan``; this layer
    only runs the chosen experts by one dispatch path and adds the losses.
    Auxiliary losses (Switch load balancing, ST-MoE z-loss), each scaled by its
    own coefficient, are added with ``add_loss`` in training only and tracked
    as the metrics ``load_balancing_loss`` and ``router_z_loss``; expert
    utilisation (overall and per task) is tracked by ``utilization``.

    Args:
        num_experts: E.
        top_k: K experts per routing group.
        routing: one of ``token``, ``sentence``, ``task``, ``task_sentence``.
        expert_hidden_dim: F; default 2 * D.
        jitter: multiplicative router-input noise range (Switch), training only.
        load_balance_coef: weight of the load-balancing loss.
        z_loss_coef: weight of the router z-loss.
        dispatch: ``auto`` (the cheaper of the two for the request's size, ``models.dispatch.auto_dispatch``),
            ``sparse`` (only the chosen experts, padded to blocks) or ``dense`` (every expert; the reference).
        block_size: padding granularity of the sparse path, in routing groups.
        num_tasks: N main-task ids, for per-task utilisation (0: overall only).
        fixed_combine_weights: K weights for a layer specialised to one task
            sentence (``GRec.specialize``): no router, every expert always runs
            with these weights.
        seed: seed of the router jitter (see ``LearnedRouter``).

    Call args:
        tokens: <float>[B, T, D].
        task_sentence: <float>[B, S, D] (needed by ``task``, ``task_sentence``).
        task_ids: <int>[B] main-task ids, for per-task utilisation.

    Returns:
        <float>[B, T, D].
    """

    def __init__(
        self,
        num_experts=8,
        top_k=4,
        routing="task_sentence",
        expert_hidden_dim=None,
        jitter=0.01,
        load_balance_coef=0.01,
        z_loss_coef=0.001,
        dispatch="auto",
        block_size=16,
        num_tasks=0,
        fixed_combine_weights=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_positive(num_experts=num_experts, top_k=top_k, block_size=block_size)
        require(top_k <= num_experts, "`top_k` must not exceed `num_experts`.", top_k=top_k, num_experts=num_experts)
        require(routing in ROUTING_MODES, f"`routing` must be one of {list(ROUTING_MODES)}.", routing=routing)
        require(dispatch in DISPATCH_MODES, f"`dispatch` must be one of {list(DISPATCH_MODES)}.", dispatch=dispatch)
        require(0.0 <= jitter < 1.0, "`jitter` must be in [0, 1).", jitter=jitter)
        require(
            load_balance_coef >= 0 and z_loss_coef >= 0,
            "Loss coefficients must be >= 0.",
            load_balance_coef=load_balance_coef,
            z_loss_coef=z_loss_coef,
        )
        if expert_hidden_dim is not None:
            require_positive(expert_hidden_dim=expert_hidden_dim)
        self.num_experts = num_experts
        self.top_k = top_k
        self.routing = RoutingMode(routing).value
        self.expert_hidden_dim = expert_hidden_dim
        self.jitter = jitter
        self.load_balance_coef = load_balance_coef
        self.z_loss_coef = z_loss_coef
        self.dispatch = dispatch
        self.block_size = block_size
        self.num_tasks = num_tasks
        self.seed = seed
        if fixed_combine_weights is not None:
            fixed_combine_weights = [float(w) for w in fixed_combine_weights]
            require(
                len(fixed_combine_weights) == num_experts == top_k,
                "`fixed_combine_weights` needs one weight per expert and `top_k == num_experts`.",
                fixed_combine_weights=fixed_combine_weights,
                num_experts=num_experts,
                top_k=top_k,
            )
        self.fixed_combine_weights = fixed_combine_weights
        if fixed_combine_weights is not None:
            self.router = FixedRouter(fixed_combine_weights, per_example=self.routing in PER_EXAMPLE_MODES)
        else:  # a routed layer: losses and utilisation to report
            self.router = LearnedRouter(num_experts, top_k, routing, jitter=jitter, seed=seed, name="router")
            self.load_balancing_tracker = keras.metrics.Mean(name="load_balancing_loss")
            self.z_loss_tracker = keras.metrics.Mean(name="router_z_loss")
            self.utilization = ExpertUtilization(num_experts, num_tasks, name="expert_utilization")

    def build(self, tokens_shape, task_sentence_shape=None, task_ids_shape=None):
        dim = tokens_shape[-1]
        hidden = self.expert_hidden_dim or 2 * dim
        self.norm = keras.layers.RMSNormalization(name="norm", dtype=self.dtype_policy)
        self.norm.build(tokens_shape)
        if isinstance(self.router, LearnedRouter):
            self.router.build(dim)
        experts = self.num_experts
        self.w_in = self.add_weight(name="expert_w_in", shape=(experts, dim, hidden), initializer="glorot_uniform")
        self.b_in = self.add_weight(name="expert_b_in", shape=(experts, hidden), initializer="zeros")
        self.w_out = self.add_weight(name="expert_w_out", shape=(experts, hidden, dim), initializer="glorot_uniform")
        self.b_out = self.add_weight(name="expert_b_out", shape=(experts, dim), initializer="zeros")

    def plan(self, tokens, task_sentence=None, training=False):
        """(the routing plan for a batch, the normalised tokens); no experts run."""
        normed = self.norm(tokens)
        return self.router.plan(normed, task_sentence, training=training), normed

    def call(self, tokens, task_sentence=None, task_ids=None, training=None):
        plan, normed = self.plan(tokens, task_sentence, training)
        batch, length, dim = ops.shape(tokens)[0], tokens.shape[1], tokens.shape[2]
        # Shape: [G, R, D] routing groups: examples (R = T) or single tokens (R = 1).
        groups = normed if self.routing in PER_EXAMPLE_MODES else ops.reshape(normed, (-1, 1, dim))
        weights = [self.w_in, self.b_in, self.w_out, self.b_out]
        if self.dispatch in ("auto", "sparse"):
            run = dispatch_lib.auto_dispatch if self.dispatch == "auto" else dispatch_lib.sparse_dispatch
            mixed = run(groups, plan.expert_index, plan.combine_weights, *weights, block_size=self.block_size)
        else:
            mixed = dispatch_lib.dense_dispatch(groups, plan.expert_index, plan.combine_weights, *weights)
        if training and isinstance(self.router, LearnedRouter):
            balance = load_balancing_loss(plan.router_probs, plan.expert_index)
            z_loss = router_z_loss(plan.router_logits)
            self.add_loss(self.load_balance_coef * balance)
            self.add_loss(self.z_loss_coef * z_loss)
            self.load_balancing_tracker.update_state(balance)
            self.z_loss_tracker.update_state(z_loss)
            group_tasks = task_ids
            if task_ids is not None and self.routing not in PER_EXAMPLE_MODES:
                group_tasks = ops.reshape(ops.repeat(ops.expand_dims(task_ids, 1), length, axis=1), (-1,))
            self.utilization.update_state(plan.expert_index, group_tasks)
        return tokens + ops.reshape(mixed, (batch, length, dim))

    def compute_output_shape(self, tokens_shape, task_sentence_shape=None, task_ids_shape=None):
        return tokens_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_experts=self.num_experts,
            top_k=self.top_k,
            routing=self.routing,
            expert_hidden_dim=self.expert_hidden_dim,
            jitter=self.jitter,
            load_balance_coef=self.load_balance_coef,
            z_loss_coef=self.z_loss_coef,
            dispatch=self.dispatch,
            block_size=self.block_size,
            num_tasks=self.num_tasks,
            fixed_combine_weights=self.fixed_combine_weights,
            seed=self.seed,
        )
        return config
