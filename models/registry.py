"""Every model selected by name in one place."""

from __future__ import annotations

import functools

from models.dcn_v2 import DCNv2
from models.grec import GRec
from models.mmoe import MMoE
from models.ple import PLE
from models.shared_bottom import SharedBottom
from models.single_task import SingleTask

MODELS = {
    "grec": GRec,
    "dense_grec": functools.partial(GRec, use_moe=False),
    "single_task": SingleTask,
    "shared_bottom": SharedBottom,
    "mmoe": MMoE,
    "ple": PLE,
    "dcn_v2": DCNv2,
}
MODEL_NAMES = tuple(MODELS)


def family(name: str) -> str:
    """The family model ``name``'s class declares (``MultiTaskModel.FAMILY``): "grec" or "flat"."""
    model = MODELS[name]
    return getattr(model, "func", model).FAMILY  # dense_grec: a partial of GRec


def build_model(name, input_config, **hyperparameters):
    """Builds model ``name`` over ``input_config`` (an InputConfig or its dict).

    Raises:
        ValueError: unknown name (the known ones are listed).
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model; known models: {list(MODEL_NAMES)}. Received: `name={name!r}`")
    config = input_config.to_dict() if hasattr(input_config, "to_dict") else dict(input_config)
    return MODELS[name](config, **hyperparameters)
