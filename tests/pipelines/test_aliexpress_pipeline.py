"""The pipeline on the AliExpress layout: converted wide files -> the same pipeline with schemas/aliexpress."""

import csv
import os
import random

import pytest

from data_tools import aliexpress
from pipelines import local_runner
from pipelines.report import latest_evaluation, slice_table
from tests.pipelines import TINY_GREC

HEADER = (
    ["search_id"]
    + [f"categorical_{i}" for i in range(1, 17)]
    + [f"numerical_{i}" for i in range(1, 64)]
    + ["click", "conversion"]
)


def _write_release(root, rows_per_file=2400, seed=11):
    """Wide files in the release's layout; clicks depend on categorical_1 so there is something to learn.

    Every other column is noise, 63 of them continuous. At 600 rows a file (2,108 training task examples)
    the model memorised rows through those numericals (training AUC 0.75 after 60 steps, 0.97 after 300;
    validation ctr AP below its positive rate) and scored ctr at AUC 0.52-0.59 on eval; without the
    numericals the same run reached 0.72. At 2,400 rows a file, trained as the pipeline trains by default
    (rounds of 250 steps, early stopping on validation), ctr reaches AUC 0.77 (0.78 is what
    categorical_1 allows)."""
    rng = random.Random(seed)
    for country in ("ES", "NL"):
        for split in ("train", "test"):
            with open(root / f"AliExpress_{country}" / f"{split}.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(HEADER)
                for i in range(rows_per_file if split == "train" else rows_per_file // 3):
                    cats = [rng.randrange(0, 20) for _ in range(16)]
                    click = int(rng.random() < (0.6 if cats[0] < 5 else 0.1))
                    conversion = int(click and rng.random() < 0.3)
                    writer.writerow([i, *cats, *(f"{rng.random():.5f}" for _ in range(63)), click, conversion])


@pytest.mark.slow
def test_pipeline_runs_on_converted_aliexpress_files(tmp_path):
    release = tmp_path / "release"
    for country in ("ES", "NL"):
        (release / f"AliExpress_{country}").mkdir(parents=True)
    _write_release(release)
    paths = local_runner.default_paths(root=str(tmp_path / "home"), dataset="aliexpress")
    reports = aliexpress.convert_tree(str(release), paths["data_root"])
    assert sum(report.bad_rows for _, report in reports) == 0
    small = {
        "model": "grec",
        "hyperparameters": dict(TINY_GREC),
    }
    # The default budget: 60 steps, set when the recipe's learning rate was 2e-3 and numericals had no
    # periodic embeddings, left the signal unlearnt (AUC 0.545 at 2,400 rows a file).
    local_runner.run(paths, trainer_config=small, min_auc=0.55)
    evaluation = latest_evaluation(paths["pipeline_root"])
    slices = {row["slice"]: row for row in slice_table(evaluation)}
    for key in ("overall", "task=ctr", "task=ctcvr", "country=ES", "country=NL"):
        assert key in slices, sorted(slices)
    assert slices["task=ctr"]["auc"] > 0.6  # it learnt the planted click signal
    versions = os.listdir(paths["serving_model_dir"])
    assert len(versions) == 1
