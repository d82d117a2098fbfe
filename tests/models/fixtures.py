"""Small input configs and models shared by the model tests."""

from models.input_config import InputConfig, example_inputs

FULL = InputConfig(
    task_columns=[("task", 5), ("flow", 4), ("surface", 3)],
    categorical=[("user", 50), ("item", 30)],
    numerical=["price", "age"],
    text=("query", 40, 6),
    history=("hist", 30, 8),
    image=("img", 5),
)
# A data set without text, history or image still works.
MINIMAL = InputConfig(task_columns=[("task", 3)], categorical=[("user", 20)], numerical=["price"])

SMALL_GREC = dict(
    dim=32,
    num_heads=4,
    num_experts=4,
    top_k=2,
    expert_hidden_dim=16,
    tower_hidden_dim=16,
    tower_dim=8,
    block_size=4,
    encoder_options=dict(text_hidden_dim=16, history_hidden_dim=16),
)
SMALL_BASELINE = dict(
    dim=32,
    expert_dim=16,
    tower_hidden_dim=16,
    tower_dim=8,
    encoder_options=dict(text_hidden_dim=16, history_hidden_dim=16),
)


def small_kwargs(name):
    return dict(SMALL_GREC) if "grec" in name else dict(SMALL_BASELINE)


def inputs(config=FULL, batch=16, seed=0):
    return example_inputs(config, batch, seed)
