"""Analytic FLOPs per example (one multiply-add = 2 FLOPs; matmuls and attention products only).

Normalisations, activations, gathers and the sparse-dispatch bookkeeping are
left out: they are small beside the matmuls and the same across models. The
input encoders are shared by every model and counted once (``encoder_flops``).
"""

from __future__ import annotations

import inspect

from models.input_config import InputConfig
from models.input_encoder import InputEncoder
from models.wide_deep_head import categorical_width


def _parallel_block(tokens, width, heads):
    mlp_hidden = round(width * 8 / 3)
    projections = 2 * tokens * width * width + 2 * tokens * width * (width // heads)  # q, o; one k, one v head
    attention = 2 * tokens * tokens * width  # scores and context over H heads of width D/H
    return 2 * (projections + attention + 3 * tokens * width * mlp_hidden)


def _encoder_options(encoder_options) -> dict:
    """``InputEncoder``'s keyword defaults (one source for them) with a model's ``encoder_options`` applied."""
    defaults = {
        p.name: p.default
        for p in inspect.signature(InputEncoder.__init__).parameters.values()
        if p.default is not inspect.Parameter.empty
    }
    return {**defaults, **(encoder_options or {})}


def encoder_flops(config: InputConfig, dim, embedding_dim=16, encoder_options=None, **_):
    """FLOPs of the shared input encoders for one example; ``dim``, ``embedding_dim`` and ``encoder_options``
    as the model takes them (the sizes it leaves out at ``InputEncoder``'s defaults)."""
    o = _encoder_options(encoder_options)
    embedded = sum(categorical_width(size, embedding_dim, o["categorical_widths"]) for _, size in config.categorical)
    numerical = len(config.numerical)
    flops = 2 * embedded * dim + 2 * numerical * dim
    if o["numerical_embedding"] == "periodic":  # per column: 2k features -> e, then e more inputs to the deep half
        flops += numerical * (2 * 2 * o["periodic_frequencies"] * embedding_dim + 2 * embedding_dim * dim)
    for _, _, length in config.text:  # one encoder per text column; feed-forward width 2h
        h = o["text_hidden_dim"]
        layer = 2 * (4 * length * h * h + 2 * length * length * h + 2 * length * h * 2 * h)
        flops += o["text_layers"] * layer + 2 * h * dim
    for _, _, length in config.history:
        h = o["history_hidden_dim"]
        flops += o["history_blocks"] * _parallel_block(length, h, o["history_heads"]) + 2 * 2 * h * dim
    if config.image:
        flops += 2 * config.image[1] * dim
    return flops


def _towers(flat_width, hidden, tower):
    return 2 * (flat_width * hidden + hidden * tower + tower)


def grec_flops(
    config: InputConfig,
    *,
    dim,
    num_heads,
    num_blocks,
    num_experts,
    top_k,
    routing,
    expert_hidden_dim,
    use_moe,
    tower_hidden_dim,
    tower_dim,
    **_,
):
    """Body FLOPs of GRec (after the encoders) for one example."""
    tokens = config.num_tokens
    hidden = expert_hidden_dim or 2 * dim
    flops = num_blocks * _parallel_block(tokens, dim, num_heads)
    experts = 2 * top_k * tokens * 2 * dim * hidden  # K experts, two matmuls, every token
    router_groups = tokens if routing == "token" else 1
    flops += experts + (2 * router_groups * dim * num_experts if use_moe else 0)
    return flops + _towers(tokens * dim, tower_hidden_dim, tower_dim)


def grec_executed_flops(
    config: InputConfig,
    rows: int,
    *,
    dim,
    num_experts,
    top_k,
    routing,
    expert_hidden_dim,
    use_moe,
    dispatch,
    block_size,
    **params,
):
    """Body FLOPs GRec executes for a request of ``rows`` examples: the analytic count plus the sparse
    dispatch's padding (``models.dispatch.padded_blocks`` blocks of ``block_size`` routing groups all run),
    or every expert on every group with dense dispatch; ``auto`` runs whichever has fewer slots."""
    from models.dispatch import padded_blocks

    analytic = rows * grec_flops(
        config,
        dim=dim,
        num_experts=num_experts,
        top_k=top_k,
        routing=routing,
        expert_hidden_dim=expert_hidden_dim,
        use_moe=use_moe,
        **params,
    )
    if not use_moe:
        return analytic  # one always-on expert, no padding
    tokens = config.num_tokens
    groups, per_group = (rows * tokens, 1) if routing == "token" else (rows, tokens)
    per_slot = 2 * 2 * per_group * dim * (expert_hidden_dim or 2 * dim)  # one expert on one group
    sparse, dense = padded_blocks(groups * top_k, block_size, num_experts) * block_size, groups * num_experts
    slots = {"sparse": sparse, "dense": dense, "auto": min(sparse, dense)}[dispatch]
    return analytic + (slots - groups * top_k) * per_slot


def baseline_flops(name, config: InputConfig, **p):
    """Body FLOPs of a flat baseline for one example (``p``: its hyperparameters, every one): the row's own
    task's gate and task experts only (as implemented, ``models/gated_experts.py``), so the count does not
    depend on the number of tasks."""
    flat, h = config.num_tokens * p["dim"], p["expert_dim"]
    if name in ("single_task", "shared_bottom"):
        body = 2 * (flat * h + (p["hidden_layers"] - 1) * h * h)
    elif name == "mmoe":
        body = 2 * (p["num_experts"] * flat * h + flat * p["num_experts"])
    elif name == "ple":
        body, width = 0, flat
        for _ in range(p["num_levels"]):
            experts = p["num_shared_experts"] + p["num_task_experts"]
            body += 2 * (experts * width * h + width * experts)
            width = h
    elif name == "dcn_v2":  # low-rank crosses (down and up), then the MLP
        body = p["num_cross"] * 2 * 2 * flat * p["cross_rank"] + 2 * (flat * h + (p["hidden_layers"] - 1) * h * h)
    else:
        raise ValueError(f"Unknown baseline. Received: `name={name!r}`")
    return body + _towers(h, p["tower_hidden_dim"], p["tower_dim"])


def model_flops(name, config: InputConfig, **hyperparameters):
    """Body FLOPs per example of model ``name`` (registry names); hyperparameters not given take the model's
    constructor defaults (``models.presets.constructor_defaults``: one source for them)."""
    from models.presets import constructor_defaults

    params = {**constructor_defaults(name), **hyperparameters}
    if name in ("grec", "dense_grec"):
        return grec_flops(config, **params)
    return baseline_flops(name, config, **params)


def executed_flops(name, config: InputConfig, rows: int, tasks: int = 1, **hyperparameters):
    """Body FLOPs model ``name`` executes for a request of ``rows`` examples spread evenly over ``tasks`` main
    tasks: ``rows`` x the analytic count, plus GRec's dispatch padding and PLE's own-expert padding (each
    task's rows rounded up to whole blocks when it runs them in blocks, ``models.gated_experts``); the others
    run exactly their analytic matmuls."""
    from models.gated_experts import TASK_BLOCK, whole_blocks
    from models.presets import constructor_defaults

    params = {**constructor_defaults(name), **hyperparameters}
    if name in ("grec", "dense_grec"):
        return grec_executed_flops(config, rows, **params)
    executed = rows * model_flops(name, config, **hyperparameters)
    if name == "ple":
        # The served layout (batch size unknown): blocks of one task's rows unless they would more than
        # double the rows, then each row's own weights (no padding).
        slots = tasks * whole_blocks(-(-rows // tasks), TASK_BLOCK)
        padding = slots - rows if slots <= 2 * rows else 0
        width, h = config.num_tokens * params["dim"], params["expert_dim"]
        for _ in range(params["num_levels"]):  # one own-expert slot: Et experts of one Dense
            executed += padding * 2 * params["num_task_experts"] * width * h
            width = h
    return executed
