"""The end of the main job: serve the pushed model and score one context for several tasks over gRPC."""

from __future__ import annotations

from serving.client import GRecClient, format_scores
from serving.launcher import ServerProcess

CONTEXT = dict(
    flow="upgrade",
    surface="app",
    user_id="u17",
    item_id="i42",
    region="r3",
    device=2,
    price=79.0,
    tenure_days=820.0,
    data_gb=14.5,
    discount=0.2,
    query="c3x1 deal now w12",
    hist_items="i42 i7 i300",
    image_emb=" ".join(["0.1"] * 16),
)
TASKS = ("ctr", "atc", "cvr", "churn")


def serve_and_query(model_base_path: str) -> None:
    with ServerProcess(model_base_path) as server:
        client = GRecClient(server.target)
        print(f"{server.kind} on {server.target}; versions {client.status()}")
        rows = [dict(CONTEXT, task=task) for task in TASKS]
        scores = client.predict(rows)
        print(f"one PredictRequest, {len(rows)} rows (one context, {len(TASKS)} tasks):")
        print(format_scores(rows, scores))
        client.close()
