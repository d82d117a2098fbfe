"""The quality benchmark's report: a summary over tasks, then per task every model's AP and AUC over seeds
and GRec's paired difference with each; on the synthetic set also the oracle's AP (the ceiling) and each
model's AP / oracle."""

from __future__ import annotations

from benchmarks import machine
from benchmarks.quality.compare import VERDICTS, summarize


def to_markdown(result: dict, command: str) -> str:
    lines = [
        f"# Quality: {result['data']}",
        "",
        f"Command: `{command}`",
        "",
        f"Numerical columns: {result['numerical']}. "
        f"{machine.summary(result['machine'])} {result['seconds'] / 60:.0f} min. Rows (task examples): "
        f"{result['rows']}. Deep models: {result['seeds']} seeds, batch {result['batch_size']}, "
        f"learning rate {result.get('learning_rate') or 'of the recipe'}, early stopping on validation every "
        f"{result['eval_every']} steps (at most {result['max_steps']}); steps kept per seed / LightGBM trees "
        f"per task: {result['steps_or_trees']}.",
        "",
    ]
    if result.get("variants"):
        lines += ["Variants: " + "; ".join(f"`{n}` = {d}" for n, d in result["variants"].items()), ""]
    summary = summarize(result)
    entries = list(result["tasks"].values())
    oracle = all("oracle" in e for e in entries)  # the synthetic set: the generator's probability, the ceiling
    lines += [
        "## Summary over tasks",
        "",
        "| model | mean AP over tasks |"
        + (" mean AP / oracle AP |" if oracle else "")
        + " GRec's AP vs it: better / no difference detected / worse (tasks) |",
        "|---|---:|" + ("---:|" if oracle else "") + "---|",
    ]
    for name, row in summary.items():
        ratios = [e["models"][name]["ap"]["mean"] / e["oracle"]["ap"] for e in entries] if oracle else [0]
        ratio = sum(ratios) / len(ratios)
        lines.append(
            f"| {name} | {row['mean_ap']:.4f} | "
            + (f"{ratio:.3f} | " if oracle else "")
            + (" / ".join(str(row[v]) for v in VERDICTS) if name != "grec" else "")
            + " |"
        )
    if oracle:
        mean_oracle = sum(e["oracle"]["ap"] for e in entries) / len(entries)
        lines.append(f"| oracle (the generator's probability) | {mean_oracle:.4f} | 1.000 | |")
    lines.append("")
    validation = result.get("validation")
    if validation:
        lines += [
            f"Validation log loss ({validation['rows']} rows, the split early stopping chose each model's step on; "
            "mean over seeds):",
            "",
            "| model | log loss (mean +- std over seeds) | GRec - model [95 % CI] | verdict |",
            "|---|---:|---:|---|",
        ]
        for name, m in validation["models"].items():
            vs = validation["grec_vs"].get(name)
            cmp = (
                f"{vs['difference']:+.4f} [{vs['low']:+.4f}, {vs['high']:+.4f}] | GRec {vs['verdict']}" if vs else " | "
            )
            lines.append(f"| {name} | {m['mean']:.4f} +- {m['std']:.4f} | {cmp} |")
        lines.append("")
        for pair, vs in validation.get("pairs", {}).items():
            lines += [
                f"Paired, {pair} (validation log loss): {vs['difference']:+.4f} [{vs['low']:+.4f}, {vs['high']:+.4f}],"
                f" {vs['verdict']}; per task (AP): "
                + ", ".join(
                    f"`{task}` {e['pairs'][pair]['ap']['difference']:+.4f} "
                    f"[{e['pairs'][pair]['ap']['low']:+.4f}, {e['pairs'][pair]['ap']['high']:+.4f}]"
                    for task, e in result["tasks"].items()
                )
                + ". Tasks better / no difference detected / worse for the first: "
                + " / ".join(
                    str(sum(e["pairs"][pair]["ap"]["verdict"] == v for e in result["tasks"].values())) for v in VERDICTS
                ),
                "",
            ]
    if result.get("tune_trials"):
        lines += [f"Tuned first, {result['tune_trials']} random-search trials each on validation; chosen:", ""]
        lines += [f"- {name}: `{chosen}`" for name, chosen in result["tuned"].items()] + [""]
    for task, entry in result["tasks"].items():
        lines += [
            f"## task `{task}`: {entry['test_rows']} test rows, {entry['positives']} positives"
            + (f", oracle AP {entry['oracle']['ap']:.4f}" if "oracle" in entry else ""),
            "",
            "| model | AP (mean +- std over seeds) | AUC | GRec - model: AP [95 % CI] | verdict "
            "| AUC [95 % CI] | verdict |",
            "|---|---:|---:|---:|---|---:|---|",
        ]
        for name, m in entry["models"].items():
            vs = entry["grec_vs"].get(name)
            cmp = (
                " | ".join(
                    f"{vs[m]['difference']:+.4f} [{vs[m]['low']:+.4f}, {vs[m]['high']:+.4f}] | GRec {vs[m]['verdict']}"
                    for m in ("ap", "auc")
                )
                if vs
                else "| | | "
            )
            lines.append(f"| {name} | {m['ap']['mean']:.4f} +- {m['ap']['std']:.4f} | {m['auc']['mean']:.4f} | {cmp} |")
        lines.append("")
    return "\n".join(lines)
