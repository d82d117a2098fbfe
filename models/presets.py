"""Each model's default hyperparameters, and the check of a user's overrides against the model.

Two presets per model:

* ``small`` (the pipeline's and benchmarks' default): width 64, sized for a run
  of minutes on a 2-core CPU. Equal width across models: GRec's active expert
  width K*F/K = F equals ``dim``, the flat baselines' expert width is ``2*dim``
  (``4*dim`` for single-task, which has no sharing to lean on);
* ``paper``: the model's own constructor defaults (D=256, E=8, K=4).

Runners, the benchmark harness and the Trainer read them here; a user's
``--hyperparameters`` override keys of the preset and are checked against the
model's constructor when the pipeline is built.
"""

from __future__ import annotations

import inspect

from models.registry import MODEL_NAMES, MODELS

SMALL_ENCODER = dict(text_hidden_dim=32, history_hidden_dim=32)
PRESET_NAMES = ("small", "paper")


def small(name: str, dim: int = 64) -> dict:
    """The CPU-sized preset of model ``name`` at width ``dim``."""
    towers = dict(tower_hidden_dim=64, tower_dim=32, encoder_options=dict(SMALL_ENCODER))
    if "grec" in name:
        return dict(dim=dim, num_heads=4, num_experts=8, top_k=4, expert_hidden_dim=dim, **towers)
    return dict(dim=dim, expert_dim=4 * dim if name == "single_task" else 2 * dim, **towers)


def preset(name: str, size: str = "small") -> dict:
    """A fresh copy of model ``name``'s preset ``size``.

    Raises:
        ValueError: unknown model or preset, naming the known ones.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model; known models: {list(MODEL_NAMES)}. Received: `model={name!r}`")
    if size not in PRESET_NAMES:
        raise ValueError(f"Unknown preset; known presets: {list(PRESET_NAMES)}. Received: `preset={size!r}`")
    return small(name) if size == "small" else {}


def accepted_keys(name: str) -> list[str]:
    """The keyword arguments model ``name`` takes: its constructor's and its base classes' (not Keras')."""
    factory = MODELS[name]
    cls = getattr(factory, "func", factory)  # functools.partial for dense_grec
    keys: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if not klass.__module__.startswith("models."):
            break
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.name not in ("self", "input_config"):
                if parameter.name not in keys:
                    keys.append(parameter.name)
    return keys


def check_hyperparameters(name: str, hyperparameters: dict) -> None:
    """Raises ValueError naming any key model ``name`` does not take, and the keys it does."""
    unknown = sorted(set(hyperparameters) - set(accepted_keys(name)))
    if unknown:
        raise ValueError(f"model {name!r} does not take {unknown}; its hyperparameters are "
                         f"{sorted(accepted_keys(name))}. Received: `hyperparameters={hyperparameters}`")  # fmt: skip


def resolve(name: str, overrides: dict | None = None, size: str = "small") -> dict:
    """The preset of ``name`` with ``overrides`` applied, checked against the model."""
    hyperparameters = {**preset(name, size), **(overrides or {})}
    check_hyperparameters(name, hyperparameters)
    return hyperparameters
