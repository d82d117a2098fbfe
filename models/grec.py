"""GRec, the Generalist Recommender: token stack -> parallel Transformer -> task-sentence sparse MoE -> task tower."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from models.feed_forward import FeedForward
from models.multitask_model import MultiTaskModel
from models.parallel_transformer_block import ParallelTransformerBlock
from models.routing import ROUTING_MODES
from models.sparse_moe import SparseMoE
from models.validation import require, require_positive


@keras.saving.register_keras_serializable(package="grec")
class GRec(MultiTaskModel):
    """The Generalist Recommender (Wang et al., CIKM 2023).

    ``features -> InputEncoder -> [B, T, D] -> ParallelTransformerBlock x num_blocks
    -> SparseMoE (top-K of E, routed by the task sentence) -> flatten -> TaskTowers
    -> <float32>[B]`` probability of each example's main task.

    Args:
        num_heads: H query heads of the multi-query attention.
        num_blocks: parallel Transformer blocks before the MoE layer.
        num_experts: E (paper: 8).
        top_k: K (paper: 4).
        routing: ``token``, ``sentence``, ``task`` or ``task_sentence`` (GRec).
        expert_hidden_dim: F, hidden width of each expert; default 2 * D.
        use_moe: False gives the dense GRec baseline: one feed-forward layer
            (``FeedForward``) of equal active width (K * F) in place of the MoE layer.
        dispatch: ``auto`` (sparse, or dense for a request of few examples), ``sparse`` or ``dense`` (reference).
        block_size: sparse-dispatch padding granularity.
        jitter, load_balance_coef, z_loss_coef: router noise and loss weights.
        dropout: dropout in the parallel Transformer blocks.
        fixed_combine_weights: set by ``specialize`` (a one-task-sentence model).
        (others: the skeleton's, see ``MultiTaskModel``: input_config, dim, tower and embedding widths,
        use_cross, text_preset, encoder_options)
    """

    FAMILY = "grec"

    CONFIG_KEYS = (
        "num_heads",
        "num_blocks",
        "num_experts",
        "top_k",
        "routing",
        "expert_hidden_dim",
        "use_moe",
        "dispatch",
        "block_size",
        "jitter",
        "load_balance_coef",
        "z_loss_coef",
        "dropout",
        "fixed_combine_weights",
    )

    def __init__(
        self,
        input_config,
        num_heads=4,
        num_blocks=1,
        num_experts=8,
        top_k=4,
        routing="task_sentence",
        expert_hidden_dim=None,
        use_moe=True,
        dispatch="auto",
        block_size=16,
        jitter=0.01,
        load_balance_coef=0.01,
        z_loss_coef=0.001,
        dropout=0.0,
        fixed_combine_weights=None,
        **kwargs,
    ):
        super().__init__(input_config, **kwargs)
        dim = self.dim
        require_positive(num_heads=num_heads, num_experts=num_experts, top_k=top_k)
        require(dim % num_heads == 0, "`dim` must be divisible by `num_heads`.", dim=dim, num_heads=num_heads)
        require(top_k <= num_experts, "`top_k` must not exceed `num_experts`.", top_k=top_k, num_experts=num_experts)
        require(routing in ROUTING_MODES, f"`routing` must be one of {list(ROUTING_MODES)}.", routing=routing)
        require(num_blocks >= 0, "`num_blocks` must be >= 0.", num_blocks=num_blocks)
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.num_experts = num_experts
        self.top_k = top_k
        self.routing = routing
        self.expert_hidden_dim = expert_hidden_dim
        self.use_moe = use_moe
        self.dispatch = dispatch
        self.block_size = block_size
        self.jitter = jitter
        self.load_balance_coef = load_balance_coef
        self.z_loss_coef = z_loss_coef
        self.dropout = dropout
        self.fixed_combine_weights = fixed_combine_weights

        self.blocks = [
            ParallelTransformerBlock(num_heads, dropout=dropout, name=f"parallel_block_{i}") for i in range(num_blocks)
        ]
        hidden = expert_hidden_dim or 2 * dim
        if use_moe:
            self.moe = SparseMoE(
                num_experts=num_experts,
                top_k=top_k,
                routing=routing,
                expert_hidden_dim=hidden,
                jitter=jitter,
                load_balance_coef=load_balance_coef,
                z_loss_coef=z_loss_coef,
                dispatch=dispatch,
                block_size=block_size,
                num_tasks=self.num_tasks,
                fixed_combine_weights=fixed_combine_weights,
                name="moe",
            )
        else:
            # Dense GRec: one always-on expert as wide as the K active experts together.
            self.ffn = FeedForward(hidden_dim=top_k * hidden, name="dense_ffn")

    def body(self, tokens, sentence, task_ids, training=None):
        for block in self.blocks:
            tokens = block(tokens, training=training)
        tokens = self.moe(tokens, sentence, task_ids, training=training) if self.use_moe else self.ffn(tokens)
        # Shape: [B, T, D] -> [B, T * D].
        return ops.reshape(tokens, (-1, tokens.shape[1] * tokens.shape[2]))

    def route(self, descriptor_ids):
        """The experts and weights a task sentence is routed to (``task``/``task_sentence`` modes).

        Args:
            descriptor_ids: ints, one per task column (main task first).

        Returns:
            (expert_index <int>[K], combine_weights <float>[K]) numpy arrays.
        """
        require(
            self.use_moe and self.routing in ("task", "task_sentence") and self.fixed_combine_weights is None,
            "Routing depends on the task sentence only in `task` and `task_sentence` modes.",
            routing=self.routing,
            use_moe=self.use_moe,
        )
        ids = ops.convert_to_tensor(np.asarray([descriptor_ids], dtype="int32"))
        plan = self.moe.router.plan(None, self.encoder.task_sentence(ids))
        return ops.convert_to_numpy(plan.expert_index)[0], ops.convert_to_numpy(plan.combine_weights)[0]

    def specialize(self, descriptor_ids):
        """A GRec that serves one task sentence: only its K experts, no router.

        For examples with this task sentence it gives the same scores as this
        model, at the cost of K experts, with E - K experts' weights left out.
        """
        index, weights = self.route(descriptor_ids)
        config = self.get_config()
        config.update(num_experts=self.top_k, fixed_combine_weights=weights.tolist(), dispatch="dense")
        special = GRec.from_config(config)
        special.build_from_config_inputs()
        special.encoder.set_weights(self.encoder.get_weights())
        for mine, theirs in zip(self.blocks, special.blocks, strict=False):
            theirs.set_weights(mine.get_weights())
        special.towers.set_weights(self.towers.get_weights())
        special.moe.norm.set_weights(self.moe.norm.get_weights())
        for name in ("w_in", "b_in", "w_out", "b_out"):
            getattr(special.moe, name).assign(ops.take(getattr(self.moe, name), index, axis=0))
        return special
