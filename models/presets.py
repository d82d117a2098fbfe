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

``search_space``: what the pipeline's Tuner (``--tune-trials N``) searches
around the ``small`` preset, per model, with KerasTuner.
"""

from __future__ import annotations

import inspect

from models.registry import MODEL_NAMES, MODELS, family
from models.training import LEARNING_RATE

# Periodic (PLR) embeddings of the numericals (``models/wide_deep_head.py``) for every model: they raised mean
# test AP for GRec and MMoE alike. No Transformer block in the history encoder (its items' embeddings mean-max
# pooled; the ``paper`` preset and the constructor keep one): no difference detected in validation loss or any
# task's AP on the synthetic set and MovieLens with histories, 1.45x the train steps a second
# (docs/decisions.md, "Presets").
SMALL_ENCODER = dict(text_hidden_dim=32, history_hidden_dim=32, history_blocks=0, numerical_embedding="periodic")
PRESET_NAMES = ("small", "paper")
# No parallel Transformer block before the MoE layer in the CPU-sized GRec (the paper's has one: the ``paper``
# preset keeps it): level or better on every data set measured, about 40 % less training time (docs/decisions.md,
# "Presets"). Words still meet in the text encoder's block; tokens in the routing and the towers.
SMALL_GREC_BLOCKS = 0


def small(name: str, dim: int = 64) -> dict:
    """The CPU-sized preset of model ``name`` at width ``dim``."""
    towers = dict(tower_hidden_dim=64, tower_dim=32, embedding_dim=16, encoder_options=dict(SMALL_ENCODER))
    if family(name) == "grec":
        return dict(
            dim=dim, num_heads=4, num_blocks=SMALL_GREC_BLOCKS, num_experts=8, top_k=4, expert_hidden_dim=dim, **towers
        )
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


def _parameters(name: str) -> list[inspect.Parameter]:
    """The keyword parameters model ``name`` takes: its constructor's and its base classes' (not Keras')."""
    factory = MODELS[name]
    cls = getattr(factory, "func", factory)  # functools.partial for dense_grec
    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if not klass.__module__.startswith("models."):
            break
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.name not in ("self", "input_config"):
                found.setdefault(parameter.name, parameter)
    return list(found.values())


def constructor_defaults(name: str) -> dict:
    """Model ``name``'s keyword defaults (its ``paper`` preset), from its and its bases' constructors; a
    ``functools.partial`` in the registry (dense_grec) overrides them."""
    factory = MODELS[name]
    defaults = {p.name: p.default for p in _parameters(name) if p.default is not inspect.Parameter.empty}
    return {**defaults, **getattr(factory, "keywords", {})}


def accepted_keys(name: str) -> list[str]:
    """The keyword arguments model ``name`` takes: its constructor's and its base classes' (not Keras')."""
    return [p.name for p in _parameters(name)]


def check_hyperparameters(name: str, hyperparameters: dict) -> None:
    """Raises ValueError naming any key model ``name`` does not take, and the keys it does."""
    unknown = sorted(set(hyperparameters) - set(accepted_keys(name)))
    if unknown:
        raise ValueError(
            f"model {name!r} does not take {unknown}; its hyperparameters are "
            f"{sorted(accepted_keys(name))}. Received: `hyperparameters={hyperparameters}`"
        )


def resolve(name: str, overrides: dict | None = None, size: str = "small") -> dict:
    """The preset of ``name`` with ``overrides`` applied, checked against the model."""
    hyperparameters = {**preset(name, size), **(overrides or {})}
    check_hyperparameters(name, hyperparameters)
    return hyperparameters


# The Tuner's search space (``search_space``): the same kinds of choice for every model (width, embedding
# width, learning rate), plus each model's own (GRec: depth, E, K, the load-balancing coefficient, dropout;
# the flat baselines: their expert width as a multiple of ``dim``). Widths start at the small preset's
# 64 and go one step either way; the learning rate spans the recipe's default (``models.training``) by ~3x-10x.
SEARCH_DIMS = (32, 64, 128)
SEARCH_EMBEDDING_DIMS = (8, 16, 32)
SEARCH_LEARNING_RATE = (3e-4, 1e-2)
SEARCH_EXPERTS = (4, 8, 16)
SEARCH_TOP_K = (1, 2, 4)  # never above the fewest experts: every (E, K) pair is valid
SEARCH_LOAD_BALANCE = (1e-3, 1e-1)
SEARCH_DROPOUT = (0.0, 0.1, 0.2)
SEARCH_BLOCKS = (0, 1, 2)  # GRec's depth: parallel Transformer blocks before the MoE layer
SEARCH_EXPERT_WIDTHS = (1, 2, 4)  # flat baselines: expert width = this x dim


def search_space(name: str, hp) -> tuple[dict, float]:
    """(model keyword arguments overriding the preset, learning rate), drawn from KerasTuner's ``hp``.

    Called by the Tuner's model builder on each trial, and by the Trainer on the
    best trial's ``HyperParameters`` (where each ``hp`` call returns the chosen
    value): one definition of the space and of how a point becomes a model.
    Every choice defaults to the ``small`` preset (and ``LEARNING_RATE``), the
    first trial the Tuner runs (``components.tuner.PresetFirstOracle``).
    """
    base, constructor = small(name), constructor_defaults(name)

    def choice(key, values, default):
        return hp.Choice(key, list(values), default=default)

    def log_float(key, bounds, default):
        return hp.Float(key, *bounds, sampling="log", default=default)

    dim = choice("dim", SEARCH_DIMS, base["dim"])
    learning_rate = log_float("learning_rate", SEARCH_LEARNING_RATE, LEARNING_RATE)
    params = dict(dim=dim, embedding_dim=choice("embedding_dim", SEARCH_EMBEDDING_DIMS, base["embedding_dim"]))
    if family(name) == "grec":
        params.update(
            expert_hidden_dim=dim,
            dropout=choice("dropout", SEARCH_DROPOUT, constructor["dropout"]),
            num_blocks=choice("num_blocks", SEARCH_BLOCKS, base["num_blocks"]),
        )
        if name == "grec":  # dense_grec has no router
            params.update(
                num_experts=choice("num_experts", SEARCH_EXPERTS, base["num_experts"]),
                top_k=choice("top_k", SEARCH_TOP_K, base["top_k"]),
                load_balance_coef=log_float("load_balance_coef", SEARCH_LOAD_BALANCE, constructor["load_balance_coef"]),
            )
    else:
        params["expert_dim"] = choice("expert_width", SEARCH_EXPERT_WIDTHS, base["expert_dim"] // base["dim"]) * dim
    check_hyperparameters(name, params)
    return params, learning_rate
