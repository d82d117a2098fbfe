"""Auxiliary losses of the sparse MoE layer: pure functions on router outputs."""

from __future__ import annotations

from keras import ops


def load_balancing_loss(router_probs, expert_index):
    """Switch Transformer load-balancing loss (Fedus et al. 2021, eq. 4-6), top-K form.

    ``loss = E * sum_e f_e * P_e`` where ``f_e`` is the fraction of the G*K
    routing assignments sent to expert e and ``P_e`` the mean router
    probability of expert e. It is 1 when routing is uniform and E when every
    assignment goes to one expert that also takes all probability. Fed router
    *probabilities* (the reference PyTorch code feeds logits, a bug).

    Args:
        router_probs: <float32>[G, E] softmax of the router logits.
        expert_index: <int>[G, K] selected experts.

    Returns:
        <float32>[] the loss.
    """
    num_experts = ops.shape(router_probs)[-1]
    # Shape: [G, K, E] -> [E].
    dispatched = ops.sum(ops.one_hot(expert_index, num_experts, dtype="float32"), axis=(0, 1))
    fraction = dispatched / ops.maximum(ops.sum(dispatched), 1.0)
    mean_prob = ops.mean(ops.cast(router_probs, "float32"), axis=0)
    return ops.cast(num_experts, "float32") * ops.sum(fraction * mean_prob)


def router_z_loss(router_logits):
    """ST-MoE router z-loss (Zoph et al. 2022, eq. 5): mean of logsumexp(logits)^2.

    Args:
        router_logits: <float32>[G, E].

    Returns:
        <float32>[] the loss; it keeps router logits small for numerical stability.
    """
    z = ops.logsumexp(ops.cast(router_logits, "float32"), axis=-1)
    return ops.mean(ops.square(z))
