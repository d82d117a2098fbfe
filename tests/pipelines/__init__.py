"""Shared facts of the pipeline tests."""

# The pipeline's components, by the ids every runner gives them (the resolver's id varies by runner).
COMPONENTS = {
    "CsvExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomalyGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
}
# A GRec small enough for a pipeline test's minutes.
TINY_GREC = {
    "dim": 16,
    "num_heads": 2,
    "num_experts": 4,
    "top_k": 2,
    "expert_hidden_dim": 16,
    "tower_hidden_dim": 16,
    "tower_dim": 8,
}
