"""The paper-claims benchmark's figures: quality against executed FLOPs, and each model's expert utilisation."""

from __future__ import annotations

import os

from benchmarks.paper_claims import BASELINE, REQUEST_ROWS, sections


def plots(result, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sections(result)["rows"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, row in rows.items():
        ax.scatter(row["executed"] / 1e6, row["mean_ap"], marker="s" if name == BASELINE else "o")
        ax.annotate(name, (row["executed"] / 1e6, row["mean_ap"]), fontsize=7)
    ax.set_xlabel(f"executed body MFLOPs / example (one task sentence x {REQUEST_ROWS} items)")
    ax.set_ylabel("mean test AP over tasks")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "paper_claims_expert_sweep.png"))
    routed = [(name, row["expert_shares"]) for name, row in rows.items() if "expert_shares" in row]
    fig, axes = plt.subplots(1, len(routed), figsize=(2.2 * len(routed), 2.6), sharey=True, squeeze=False)
    for ax, (name, shares) in zip(axes[0], routed, strict=True):
        ax.bar(range(len(shares)), shares)
        ax.axhline(1 / len(shares), color="k", lw=0.8, ls="--")  # perfectly balanced
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
    axes[0][0].set_ylabel("share of routed slots")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "paper_claims_expert_utilization.png"))
    plt.close("all")
