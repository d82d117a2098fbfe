"""Running the chosen experts: a block-sparse path and a dense reference.

Experts are stored batched (``w_in [E, D, F]``, ``b_in [E, F]``, ``w_out
[E, F, D]``, ``b_out [E, D]``); each is ``Linear -> LeakyReLU(0.2) -> Linear``.

``sparse_dispatch`` computes only the selected experts, with static shapes and
no Python loop over experts (so it traces once and compiles under XLA). It is
the dense-padded form of block-sparse MoE (MegaBlocks, Gale et al. 2022):

1. the G*K routing assignments are sorted by expert;
2. each expert's assignments are padded up to a multiple of ``block_size``
   and laid out contiguously, so every block of ``block_size`` slots belongs
   to exactly one expert; at most ``ceil(G*K / block_size) + E`` blocks exist,
   a bound known when tracing;
3. each block multiplies its rows by its own expert's weights (gathered per
   block), and the results go back to their groups weighted by the plan.

Nothing is ever dropped (no capacity limit), and the work is
``(G*K + E*block_size) * R * D * F``: it grows with K, and with E only through
the padding term. ``dense_dispatch`` runs every expert on every row and masks:
work ``G*E*R*D*F``; it is the reference the sparse path is tested against,
and the cheaper path for a few groups: ``auto_dispatch`` (GRec's default)
takes whichever runs fewer expert slots.
"""

from __future__ import annotations

from keras import ops

from models.activation import leaky_relu


def padded_blocks(num_assign, block_size, num_experts):
    """Blocks the sparse path runs for ``num_assign`` = G*K assignments: ceil(A / block) + E, a bound known
    when tracing (each expert wastes less than one block). Every one of them runs, whatever the routing."""
    return (num_assign + block_size - 1) // block_size + num_experts


def dense_is_cheaper(num_groups, top_k, num_experts, block_size):
    """Whether dense dispatch runs fewer expert slots (G*E) than the sparse path's padded ones for G groups:
    below about ``block_size * E / (E - K)`` groups (G < 32 at E=8, K=4, block 16). G may be a tensor."""
    return num_groups * num_experts < padded_blocks(num_groups * top_k, block_size, num_experts) * block_size


def _experts_on_blocks(x_blocks, block_expert, w_in, b_in, w_out, b_out):
    # Shape: [N_blocks, rows, D] x [N_blocks, D, F] -> [N_blocks, rows, F].
    hidden = ops.einsum("nrd,ndf->nrf", x_blocks, ops.take(w_in, block_expert, axis=0))
    hidden = leaky_relu(hidden + ops.expand_dims(ops.take(b_in, block_expert, axis=0), 1))
    # Shape: [N_blocks, rows, F] x [N_blocks, F, D] -> [N_blocks, rows, D].
    out = ops.einsum("nrf,nfd->nrd", hidden, ops.take(w_out, block_expert, axis=0))
    return out + ops.expand_dims(ops.take(b_out, block_expert, axis=0), 1)


def sparse_dispatch(x, expert_index, combine_weights, w_in, b_in, w_out, b_out, block_size=16):
    """Runs each routing group through its K experts only.

    Args:
        x: <float>[G, R, D] routing groups (R tokens routed together).
        expert_index: <int32>[G, K].
        combine_weights: <float>[G, K].
        w_in, b_in, w_out, b_out: expert weights, see module docstring.
        block_size: routing groups per block (padding granularity).

    Returns:
        <float>[G, R, D] the weighted sum of the K expert outputs.
    """
    num_groups, rows, dim = x.shape[0], x.shape[1], x.shape[2]
    num_experts, top_k = w_in.shape[0], expert_index.shape[1]
    if num_groups is None:
        num_groups = ops.shape(x)[0]
    num_assign = num_groups * top_k
    # Shape: [A] with A = G*K; assignment a belongs to group a // K.
    flat_expert = ops.reshape(expert_index, (-1,))
    source_group = ops.arange(num_assign, dtype="int32") // top_k
    # Shape: [A, E] one-hot; [E] counts, padded to whole blocks, and their offsets.
    one_hot = ops.one_hot(flat_expert, num_experts, dtype="int32")
    counts = ops.sum(one_hot, axis=0)
    padded = (counts + block_size - 1) // block_size * block_size
    padded_end = ops.cumsum(padded)
    padded_start = padded_end - padded
    # Shape: [A] rank of each assignment among its expert's, then its slot.
    rank = ops.sum((ops.cumsum(one_hot, axis=0) - 1) * one_hot, axis=1)
    slot = ops.take(padded_start, flat_expert) + rank
    num_blocks = padded_blocks(num_assign, block_size, num_experts)
    num_slots = num_blocks * block_size
    # Shape: [S] the assignment in each slot, -1 for padding.
    slot_assignment = (
        ops.scatter(ops.expand_dims(slot, -1), ops.arange(1, num_assign + 1, dtype="int32"), (num_slots,)) - 1
    )
    filled = ops.cast(ops.greater_equal(slot_assignment, 0), x.dtype)
    slot_group = ops.take(source_group, ops.maximum(slot_assignment, 0))
    # Shape: [S, R, D] -> [N_blocks, block*R, D].
    x_slots = ops.take(x, slot_group, axis=0) * ops.reshape(filled, (-1, 1, 1))
    x_blocks = ops.reshape(x_slots, (num_blocks, block_size * rows, dim))
    # Shape: [N_blocks] expert of each block (trailing unused blocks: last expert, on zeros).
    block_start = ops.arange(num_blocks, dtype="int32") * block_size
    block_expert = ops.sum(ops.cast(ops.greater_equal(ops.expand_dims(block_start, 1), padded_end), "int32"), axis=1)
    block_expert = ops.minimum(block_expert, num_experts - 1)
    y_blocks = _experts_on_blocks(x_blocks, block_expert, w_in, b_in, w_out, b_out)
    # Shape: [S, R, D] -> [A, R, D] -> [G, K, R, D] -> [G, R, D].
    y_assign = ops.take(ops.reshape(y_blocks, (num_slots, rows, dim)), slot, axis=0)
    y = ops.reshape(y_assign, (-1, top_k, rows, dim))
    return ops.einsum("gkrd,gk->grd", y, ops.cast(combine_weights, y.dtype))


def dense_dispatch(x, expert_index, combine_weights, w_in, b_in, w_out, b_out):
    """Reference: every expert on every group, masked to the chosen K.

    Same arguments and result as ``sparse_dispatch``.
    """
    num_experts = w_in.shape[0]
    # Shape: [G, R, D] x [E, D, F] -> [G, E, R, F].
    hidden = ops.einsum("grd,edf->gerf", x, w_in) + ops.reshape(b_in, (1, num_experts, 1, -1))
    hidden = leaky_relu(hidden)
    # Shape: [G, E, R, D].
    out = ops.einsum("gerf,efd->gerd", hidden, w_out) + ops.reshape(b_out, (1, num_experts, 1, -1))
    # Shape: [G, K, E] -> [G, E] gate per expert (0 when not chosen).
    gates = ops.sum(
        ops.one_hot(expert_index, num_experts, dtype=out.dtype)
        * ops.expand_dims(ops.cast(combine_weights, out.dtype), -1),
        axis=1,
    )
    return ops.einsum("gerd,ge->grd", out, gates)


def auto_dispatch(x, expert_index, combine_weights, w_in, b_in, w_out, b_out, block_size=16):
    """Whichever of ``dense_dispatch`` and ``sparse_dispatch`` runs fewer expert slots for this many groups
    (``dense_is_cheaper``): dense for small requests, where the sparse path's padding to whole blocks of
    every expert dominates (one context scored for a few tasks), sparse otherwise. The result is the same.
    Decided when tracing if G is known, else at run time by one ``ops.cond`` (the served signatures).

    Same arguments and result as ``sparse_dispatch``.
    """
    num_experts, top_k = w_in.shape[0], expert_index.shape[1]
    args = (x, expert_index, combine_weights, w_in, b_in, w_out, b_out)
    num_groups = x.shape[0] if x.shape[0] is not None else ops.shape(x)[0]
    cheaper = dense_is_cheaper(num_groups, top_k, num_experts, block_size)
    if isinstance(cheaper, bool):
        return dense_dispatch(*args) if cheaper else sparse_dispatch(*args, block_size=block_size)
    return ops.cond(cheaper, lambda: dense_dispatch(*args), lambda: sparse_dispatch(*args, block_size=block_size))
