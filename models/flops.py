"""Analytic FLOPs per example (one multiply-add = 2 FLOPs; matmuls and attention products only).

Normalisations, activations, gathers and the sparse-dispatch bookkeeping are
left out: they are small beside the matmuls and the same across models. The
input encoders are shared by every model and counted once (``encoder_flops``).
"""

from __future__ import annotations

from models.input_config import InputConfig


def _parallel_block(tokens, width, heads):
    mlp_hidden = round(width * 8 / 3)
    projections = 2 * tokens * width * width + 2 * tokens * width * (width // heads)  # q, o; one k, one v head
    attention = 2 * tokens * tokens * width  # scores and context over H heads of width D/H
    return 2 * (projections + attention + 3 * tokens * width * mlp_hidden)


def encoder_flops(config: InputConfig, dim, embedding_dim=16, text_hidden_dim=64, history_hidden_dim=64, **_):
    """FLOPs of the shared input encoders for one example."""
    flops = 2 * len(config.categorical) * embedding_dim * dim + 2 * len(config.numerical) * dim
    if config.text:
        length, h = config.text[2], text_hidden_dim
        flops += 2 * (4 * length * h * h + 2 * length * length * h + 2 * length * h * 2 * h) + 2 * h * dim
    if config.history:
        flops += _parallel_block(config.history[2], history_hidden_dim, 2) + 2 * 2 * history_hidden_dim * dim
    if config.image:
        flops += 2 * config.image[1] * dim
    return flops


def _towers(flat_width, hidden=128, tower=64):
    return 2 * (flat_width * hidden + hidden * tower + tower)


def grec_flops(config: InputConfig, dim=256, num_heads=4, num_blocks=1, num_experts=8, top_k=4, routing="task_sentence",
               expert_hidden_dim=None, use_moe=True, tower_hidden_dim=128, tower_dim=64, **_):  # fmt: skip
    """Body FLOPs of GRec (after the encoders) for one example."""
    tokens = config.num_tokens
    hidden = expert_hidden_dim or 2 * dim
    flops = num_blocks * _parallel_block(tokens, dim, num_heads)
    experts = 2 * top_k * tokens * 2 * dim * hidden  # K experts, two matmuls, every token
    router_groups = tokens if routing == "token" else 1
    flops += experts + (2 * router_groups * dim * num_experts if use_moe else 0)
    return flops + _towers(tokens * dim, tower_hidden_dim, tower_dim)


def baseline_flops(name, config: InputConfig, dim=256, expert_dim=256, tower_hidden_dim=128, tower_dim=64,
                   hidden_layers=2, num_experts=8, num_shared_experts=4, num_task_experts=2, num_levels=2, **_):  # fmt: skip
    """Body FLOPs of a flat baseline for one example: the row's own task's gate and task experts only (as
    implemented, ``models/gated_experts.py``), so the count does not depend on the number of tasks."""
    flat, h = config.num_tokens * dim, expert_dim
    if name in ("single_task", "shared_bottom"):
        body = 2 * (flat * h + (hidden_layers - 1) * h * h)
    elif name == "mmoe":
        body = 2 * (num_experts * flat * h + flat * num_experts)
    elif name == "ple":
        body, width = 0, flat
        for _ in range(num_levels):
            experts = num_shared_experts + num_task_experts
            body += 2 * (experts * width * h + width * experts)
            width = h
    else:
        raise ValueError(f"Unknown baseline. Received: `name={name!r}`")
    return body + _towers(h, tower_hidden_dim, tower_dim)


def model_flops(name, config: InputConfig, **hyperparameters):
    """Body FLOPs per example of model ``name`` (registry names)."""
    if name in ("grec", "dense_grec"):
        return grec_flops(config, use_moe=name == "grec", **hyperparameters)
    return baseline_flops(name, config, **hyperparameters)
