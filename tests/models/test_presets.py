"""Each model's presets build that model, and keys a model does not take are refused by name."""

import numpy as np
import pytest

from models import MODEL_NAMES, build_model, presets, training
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


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_point_of_the_search_space_builds_the_model_and_the_best_one_comes_back(name):
    """The Tuner's space: the extremes of every choice build and score; a saved trial's values rebuild the same
    keyword arguments and learning rate (what the Trainer does with the best trial)."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    defaults, learning_rate = presets.search_space(name, hp)  # registers the space, each at its default
    assert {"dim", "learning_rate", "embedding_dim"} <= {h.name for h in hp.space}
    # The defaults (the Tuner's first trial) are the small preset and the default learning rate.
    preset = presets.preset(name)
    assert learning_rate == training.LEARNING_RATE and {k: preset[k] for k in defaults if k in preset} == {
        k: v for k, v in defaults.items() if k in preset
    }
    assert len([k for k in defaults if k in preset]) >= 3
    for pick in (0, -1):  # the first and the last value of every choice
        values = {
            h.name: h.values[pick] if hasattr(h, "values") else (h.min_value if pick == 0 else h.max_value)
            for h in hp.space
        }
        fixed = keras_tuner.HyperParameters()
        for key, value in values.items():
            fixed.Fixed(key, value)
        found, learning_rate = presets.search_space(name, fixed)
        assert learning_rate == values["learning_rate"] and found["dim"] == values["dim"]
        model = build_model(name, fixtures.MINIMAL, **{**presets.preset(name), **found})
        scores = np.asarray(model(fixtures.inputs(fixtures.MINIMAL, batch=4)))
        assert scores.shape == (4,) and np.all((scores > 0) & (scores < 1))
    restored = keras_tuner.HyperParameters.from_config(hp.get_config())
    assert presets.search_space(name, restored) == presets.search_space(name, hp)


def test_training_steps_split_into_validation_rounds_of_250_steps_and_at_least_4():
    rounds = {steps: training.validation_rounds(steps) for steps in (1, 3, 40, 400, 1000, 3000, 3100)}
    assert rounds == {1: 1, 3: 3, 40: 4, 400: 4, 1000: 4, 3000: 12, 3100: 12}
