"""Each model's presets build that model, and keys a model does not take are refused by name."""

import numpy as np
import pytest

from models import MODEL_NAMES, build_model, presets
from tests.models import fixtures


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_builds_from_its_small_preset_and_scores(name):
    model = build_model(name, fixtures.MINIMAL, **presets.preset(name))
    scores = np.asarray(model(fixtures.inputs(fixtures.MINIMAL, batch=4)))
    assert scores.shape == (4,) and np.all((scores > 0) & (scores < 1))
    assert model.dim == 64  # the CPU-sized width, not the paper's 256
    assert presets.preset(name, "paper") == {}  # the constructor's own defaults


def test_overrides_apply_and_a_key_the_model_does_not_take_names_the_ones_it_does():
    assert presets.resolve("mmoe", {"dim": 128})["dim"] == 128
    assert presets.resolve("grec", {"top_k": 2}) == {**presets.preset("grec"), "top_k": 2}
    with pytest.raises(ValueError) as info:
        presets.resolve("mmoe", {"num_heads": 4, "top_k": 2})
    message = str(info.value)
    assert "model 'mmoe' does not take ['num_heads', 'top_k']" in message and "'num_experts'" in message
    with pytest.raises(ValueError, match=r"Unknown model; known models: \['grec'"):
        presets.preset("xgboost")
    with pytest.raises(ValueError, match="Unknown preset"):
        presets.preset("grec", "large")
