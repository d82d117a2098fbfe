"""Masked pooling over a token axis (padding excluded)."""

from __future__ import annotations

from keras import ops


def masked_mean(x, mask):
    """Mean over axis 1 of the positions where mask is True; 0 for an all-padding row.

    Args:
        x: <float>[B, L, D].
        mask: <bool>[B, L].

    Returns:
        <float>[B, D].
    """
    weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)
    total = ops.sum(x * weights, axis=1)
    count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, x.dtype))
    return total / count


def masked_max(x, mask):
    """Max over axis 1 of the positions where mask is True; 0 for an all-padding row."""
    keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
    lowest = ops.cast(-6e4 if x.dtype == "float16" else -1e9, x.dtype)
    best = ops.max(ops.where(keep, x, lowest), axis=1)
    any_real = ops.any(keep, axis=1)
    return ops.where(any_real, best, ops.zeros_like(best))
