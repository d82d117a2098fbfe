import json

import numpy as np
import pytest

from benchmarks import forward_cost, harness, train_models


@pytest.fixture(scope="module")
def data():
    return harness.prepare_data(num_rows=20_000, seed=1)


def test_grec_learns_on_synthetic_data(data):
    trained = harness.train_model("grec", data, steps=200, batch_size=256, log_every=50)
    metrics = harness.evaluate(trained, data)
    assert trained.loss_curve[-1] < trained.loss_curve[0]
    mean = metrics["mean"]
    assert mean["ap"] > 1.2 * mean["positive_rate"]  # well above a random ranking
    assert mean["ap"] < mean["oracle_ap"]  # and below the ceiling
    assert set(metrics["per_task"]) >= {"ctr/new_line", "ctr/upgrade", "atc/upgrade"}


@pytest.mark.slow
def test_every_model_learns(tmp_path):
    assert train_models.main(["--rows", "40000", "--steps", "300", "--out", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    from models import MODEL_NAMES

    assert set(results) == set(MODEL_NAMES)  # every registered model, a new baseline too


def test_single_task_trains_one_model_per_task():
    data = harness.prepare_data(num_rows=4_000, num_tasks=2, seed=2)  # two tasks: two models to build
    trained = harness.train_model("single_task", data, steps=16, batch_size=64, log_every=50)
    assert set(trained.models) == set(data.train_tasks)
    assert len(trained.loss_curve) == 2
    scores = trained.predict(data.eval_x, data.eval_tasks)
    assert scores.shape == data.eval_y.shape and np.all((scores > 0) & (scores < 1))


def test_forward_cost_quick_mode_writes_its_report(tmp_path):
    assert forward_cost.main(["--quick", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "forward_cost.json").read_text())
    names = [r["model"] for r in result["models"]]
    assert names[0] == "grec[task_sentence]" and "ple" in names and "grec[token]" in names
    assert result["models"][0]["time_ratio_to_grec"] == 1.0
    assert [r["num_experts"] for r in result["dispatch"]] == [8, 16]
    assert "sparse / dense" in (tmp_path / "forward_cost.md").read_text()


def test_text_columns_quick_mode_counts_one_encoder_per_column(tmp_path):
    from benchmarks import text_columns

    assert text_columns.main(["--quick", "--out", str(tmp_path / "t")]) == 0
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["columns"] for r in rows] == [1, 2]
    one, two = rows
    # One column: the same model either way. Two: the merged vocabulary has the same embedding rows, and the
    # second encoder adds its own weights.
    assert one["per_column"]["parameters"] == one["shared"]["parameters"]
    assert two["per_column"]["parameters"] > two["shared"]["parameters"] > one["shared"]["parameters"]
    assert all(r[k]["examples_per_second"] > 0 for r in rows for k in ("per_column", "shared"))
    assert "| 2 |" in (tmp_path / "t.md").read_text()


@pytest.mark.slow
def test_warm_start_quick_mode_chains_each_day_from_the_last(tmp_path):
    from benchmarks import warm_start

    assert warm_start.main(["--quick", "--seeds", "2", "--out", str(tmp_path / "w")]) == 0
    result = json.loads((tmp_path / "w.json").read_text())
    days = result["per_day"]
    assert [(d["seed"], d["day"]) for d in days] == [(s, d) for s in (0, 1) for d in (1, 2, 3)]
    for d in days:
        if d["day"] == 1:  # no base model yet: warm is cold
            assert d["warm_val_loss"] == d["cold_val_loss"] and d["ids"] is None
            continue
        # later days start from the day before: most ids carried over by value
        assert d["warm_val_loss"] != d["cold_val_loss"]
        kept = sum(v["kept"] for v in d["ids"].values())
        assert kept > sum(v["new"] for v in d["ids"].values())
    assert set(result["next_day"]) == {"2", "3"} and all(result["next_day"].values())
    assert "warm - cold" in (tmp_path / "w.md").read_text()


def test_encoder_flops_by_hand_count_the_models_encoder_options():
    from models.flops import encoder_flops
    from models.input_config import InputConfig

    config = InputConfig(
        task_columns=[("task", 3)], categorical=[("c", 10)], numerical=["x"], text=[("t", 50, 4)], history=[("h", 9, 3)]
    )
    options = dict(text_hidden_dim=2, text_layers=2, history_hidden_dim=3, history_blocks=0, history_heads=1)
    # D = 4, e = 2. Context: one embedding 2 -> D, 2*2*4 = 16, one numerical 2*1*4 = 8. Text (L = 4, h = 2, feed-
    # forward 2h) per layer 2 * (4*L*h*h + 2*L*L*h + 2*L*h*2h) = 2 * (64 + 64 + 64) = 384, two layers, pooled
    # h -> D 2*2*4 = 16. History (h = 3): no block, mean-max 2h -> D, 2*6*4 = 48.
    assert encoder_flops(config, dim=4, embedding_dim=2, encoder_options=options) == 16 + 8 + 2 * 384 + 16 + 48
    # One parallel block over L = 3 items, one query head: q, o 2*L*h*h each, one k and one v head 2*L*h*h each
    # (108), scores and context 2*L*L*h = 54, SwiGLU 3*L*h*8 = 216: 2 * (108 + 54 + 216) = 756.
    blocks = encoder_flops(config, dim=4, embedding_dim=2, encoder_options=dict(options, history_blocks=1))
    assert blocks - encoder_flops(config, dim=4, embedding_dim=2, encoder_options=options) == 756
    # Periodic numericals, k = 3 frequencies: 2k -> e, 2*6*2 = 24, and e more deep inputs, 2*2*4 = 16.
    periodic = dict(options, numerical_embedding="periodic", periodic_frequencies=3)
    assert encoder_flops(config, dim=4, embedding_dim=2, encoder_options=periodic) == 16 + 8 + 784 + 48 + 24 + 16
    # Sizes the model leaves out are InputEncoder's defaults (text and history width 64, one layer, one block).
    assert encoder_flops(config, dim=4, embedding_dim=2) == encoder_flops(
        config,
        dim=4,
        embedding_dim=2,
        encoder_options=dict(text_hidden_dim=64, text_layers=1, history_hidden_dim=64, history_blocks=1),
    )


def test_analytic_flops_by_hand():
    from models.flops import model_flops
    from models.input_config import InputConfig

    config = InputConfig(task_columns=[("task", 3)], numerical=["x"])  # T = 2 tokens
    # No blocks; experts: 2 * K * T * 2 * D * F = 2*2*2*2*4*8 = 512; router 2*D*E = 32;
    # towers 2 * (T*D*h + h*t + t) = 2 * (8*4 + 4*2 + 2) = 84.
    flops = model_flops(
        "grec",
        config,
        dim=4,
        num_heads=1,
        num_blocks=0,
        num_experts=4,
        top_k=2,
        expert_hidden_dim=8,
        tower_hidden_dim=4,
        tower_dim=2,
    )
    assert flops == 512 + 32 + 84
    token = model_flops(
        "grec",
        config,
        dim=4,
        num_heads=1,
        num_blocks=0,
        num_experts=4,
        top_k=2,
        expert_hidden_dim=8,
        routing="token",
        tower_hidden_dim=4,
        tower_dim=2,
    )
    assert token - flops == 32  # one more router call for the second token
    # PLE, one level, flat width T*D = 8, expert width 3: (Es + Et) = 2 + 1 experts, 2 * 3 * 8 * 3 = 144, and the
    # row's own gate over them, 2 * 8 * 3 = 48; towers 2 * (3*4 + 4*2 + 2) = 44. The same with 3 or 30 tasks.
    for tasks in (3, 30):
        wide = InputConfig(task_columns=[("task", tasks)], numerical=["x"])
        assert (
            model_flops(
                "ple",
                wide,
                dim=4,
                expert_dim=3,
                num_shared_experts=2,
                num_task_experts=1,
                num_levels=1,
                tower_hidden_dim=4,
                tower_dim=2,
            )
            == 144 + 48 + 44
        )
    # DCN-V2, one cross of rank 2 on the flat width 8 (down 8x2, up 2x8): 2 * 2 * 8 * 2 = 64; one hidden layer
    # 8 -> 3: 2 * 8 * 3 = 48; towers 44.
    assert (
        model_flops(
            "dcn_v2",
            config,
            dim=4,
            expert_dim=3,
            num_cross=1,
            cross_rank=2,
            hidden_layers=1,
            tower_hidden_dim=4,
            tower_dim=2,
        )
        == 64 + 48 + 44
    )


def test_serving_load_quick_mode_reports_zero_errors(tmp_path, exported):
    from benchmarks import serving_load

    assert serving_load.main(["--quick", "--model-base-path", exported.base_path, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "serving_load.json").read_text())
    assert [(r["batch"], r["concurrency"]) for r in result["grpc"]] == [(1, 1), (1, 8), (32, 1), (32, 8)]
    assert all(r["errors"] == 0 and r["requests"] == 40 for r in result["grpc"])
    assert result["memory"]["requests"] == 200 and "p99" in (tmp_path / "serving_load.md").read_text()


# About 8 minutes (7 models, a Transform run, timed calls); the default run keeps
# test_every_benchmark_module_imports.
@pytest.mark.slow
def test_paper_claims_smallest_configuration_runs_and_reports(tmp_path):
    from benchmarks import paper_claims

    assert paper_claims.main(["--smallest", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "paper_claims.json").read_text())
    run = result["run"]
    trained = ["grec", "mmoe", "routing_token", "routing_sentence", "routing_task", "e4k2", "e8k2"]
    assert list(result["costs"]) == trained and result["variants"]["e4k2"] == ["grec", {"num_experts": 4, "top_k": 2}]
    for entry in run["tasks"].values():
        assert set(entry["grec_vs"]) == set(trained[1:]) | {"lightgbm"}  # every variant paired with GRec
    costs = result["costs"]
    # Executed FLOPs at one task sentence x 256 rows: GRec pads its dispatch blocks, MMoE runs what it counts;
    # K=2 of 8 experts executes less than K=4 of 8.
    assert costs["grec"]["executed"] > costs["grec"]["analytic"]
    assert costs["mmoe"]["executed"] == costs["mmoe"]["analytic"]
    assert costs["e8k2"]["executed"] < costs["grec"]["executed"]
    # Section 4 pairs exactly the GRec points within the slack of MMoE's executed FLOPs.
    limit = paper_claims.EQUAL_FLOPS_SLACK * costs["mmoe"]["executed"]
    expected = {f"{n} - mmoe" for n in ("grec", "e4k2", "e8k2") if costs[n]["executed"] <= limit}
    assert expected and set(next(iter(run["tasks"].values())).get("pairs", {})) == expected
    # Expert shares over the test rows of each model routing by task sentence, seed 0: E of them summing to 1,
    # K experts a row, so no expert above 1/K; MMoE and token routing have none.
    assert set(result["utilization"]) == {"grec", "e4k2", "e8k2"}
    for name, experts, top_k in (("grec", 8, 4), ("e4k2", 4, 2), ("e8k2", 8, 2)):
        shares = result["utilization"][name]["expert_shares"]
        assert len(shares) == experts and abs(sum(shares) - 1) < 1e-9 and max(shares) <= 1 / top_k + 1e-9
    assert all(costs[n]["us_per_example"] > 0 for n in trained)
    for name in (
        "paper_claims.md",
        "paper_claims_per_task.md",
        "paper_claims_expert_sweep.png",
        "paper_claims_expert_utilization.png",
    ):
        assert (tmp_path / name).exists(), name
    assert "| routing_token |" in (tmp_path / "paper_claims.md").read_text()
    # The wall-time columns re-measured alone keep every quality number.
    assert paper_claims.main(["--costs-only", "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "paper_claims.json").read_text())
    assert again["run"] == run and again["utilization"] == result["utilization"]
    assert "--costs-only" in (tmp_path / "paper_claims.md").read_text()


def test_every_benchmark_module_imports():
    """The slow benchmarks' code is exercised only under -m slow; a broken import must still fail the default run."""
    import importlib
    import pkgutil

    import benchmarks

    names = [m.name for m in pkgutil.iter_modules(benchmarks.__path__)]
    assert "real_data" in names and "paper_claims" in names
    for name in names:
        importlib.import_module(f"benchmarks.{name}")


@pytest.mark.slow
def test_real_data_benchmark_smallest_run(tmp_path):
    """Adult from the registry wheel through draft, conversion and the pipeline's Transform; every model scored."""
    from benchmarks import real_data

    assert real_data.main(["adult", "--seeds", "1", "--max-steps", "250", "--out", str(tmp_path / "r")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result["tasks"]) == {"income", "married"}
    for entry in result["tasks"].values():
        assert entry["positives"] > 3_000  # enough positives per task to rank models
        assert set(entry["models"]) == {"grec", "mmoe", "ple", "shared_bottom", "lightgbm"}
        assert all(m["auc"]["mean"] > 0.8 for m in entry["models"].values())
        assert set(entry["grec_vs"]) == {"mmoe", "ple", "shared_bottom", "lightgbm"}
        for metrics in entry["grec_vs"].values():
            for d in metrics.values():  # the verdict is the interval's
                assert d["low"] <= d["difference"] <= d["high"]
                expected = "better" if d["low"] > 0 else "worse" if d["high"] < 0 else "no difference detected"
                assert d["verdict"] == expected


@pytest.mark.slow  # about 2 minutes; the default run keeps test_every_benchmark_module_imports
def test_paired_validation_loss_says_which_model_has_the_lower_loss():
    import numpy as np

    from benchmarks.quality.compare import log_loss, paired_loss

    assert log_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    assert log_loss([1, 0], [1.0, 0.0]) == pytest.approx(-np.log(1 - 1e-7))  # clipped as Keras clips
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 3000)
    labels = (rng.uniform(size=3000) < p).astype(int)
    noisy = np.clip(p + rng.normal(0, 0.2, (2, 3000)), 0.01, 0.99)  # two seeds of a worse model
    d = paired_loss(labels, p, noisy)
    expected = log_loss(labels, p) - np.mean([log_loss(labels, n) for n in noisy])
    assert d["difference"] == pytest.approx(expected) and d["low"] < d["difference"] < d["high"] < 0
    assert d["verdict"] == "better"  # the lower loss
    assert paired_loss(labels, noisy, p)["verdict"] == "worse"


def test_quality_benchmark_on_the_synthetic_set_with_a_variant(tmp_path, monkeypatch):
    """The synthetic set under the new protocol's split, a GRec variant beside GRec, LightGBM per task; the
    deep models trained at the batch size and learning rate given."""
    from benchmarks import real_data

    batches, optimizers = [], []
    dataset, optimizer = real_data.harness._dataset, real_data.harness.training.optimizer
    monkeypatch.setattr(real_data.harness, "_dataset", lambda x, y, b, s: batches.append(b) or dataset(x, y, b, s))
    monkeypatch.setattr(real_data.harness.training, "optimizer", lambda r, n: optimizers.append(n) or optimizer(r, n))
    other = real_data.training.OPTIMIZERS[1]  # the recipe's other optimizer, for the third model
    argv = [
        "synthetic",
        "--rows",
        "12000",
        "--seeds",
        "1",
        "--max-steps",
        "20",
        "--eval-every",
        "10",
        "--models",
        "grec,two_blocks,other",
        "--variant",
        'two_blocks=grec:{"num_blocks": 2}',
        "--variant",
        f'other=grec:{{"optimizer": "{other}"}}',
        "--pair",
        "grec,other",
        "--out",
        str(tmp_path / "r"),
        "--batch-size",
        "64",
        "--learning-rate",
        "0.002",
    ]
    assert real_data.main(argv) == 0
    assert batches == [64, 64, 64]  # one training set for each deep model
    assert optimizers == [real_data.training.OPTIMIZERS[0]] * 2 + [other]
    result = json.loads((tmp_path / "r.json").read_text())
    assert (result["batch_size"], result["learning_rate"]) == (64, 0.002)
    assert "batch 64, learning rate 0.002," in (tmp_path / "r.md").read_text()
    assert set(result["tasks"]) == {f"{m}/{f}" for m in ("ctr", "atc", "cvr", "churn") for f in ("new_line", "upgrade")}
    assert result["variants"] == {"two_blocks": 'grec {"num_blocks": 2}', "other": f'grec {{"optimizer": "{other}"}}'}
    assert result["rows"]["test"] > result["rows"]["valid"] > 0  # 30 test days, 7 validation days
    for entry in result["tasks"].values():
        assert set(entry["models"]) == {"grec", "two_blocks", "other", "lightgbm"}
        assert entry["pairs"]["grec - other"]["ap"] == entry["grec_vs"]["other"]["ap"]  # the same paired comparison
        assert 0 < entry["positives"] < entry["test_rows"]
    validation = result["validation"]  # the deep models' loss on the early-stopping rows, paired with GRec's
    assert validation["rows"] == result["rows"]["valid"] and set(validation["models"]) == {
        "grec",
        "two_blocks",
        "other",
    }
    assert 0 < validation["models"]["two_blocks"]["mean"] < 1 and set(validation["grec_vs"]) == {"two_blocks", "other"}
    assert validation["pairs"]["grec - other"] == validation["grec_vs"]["other"]
    assert "Validation log loss" in (tmp_path / "r.md").read_text()
    vs = validation["pairs"]["grec - other"]
    assert f"Paired, grec - other (validation log loss): {vs['difference']:+.4f}" in (tmp_path / "r.md").read_text()
    summary = real_data.summarize(result)
    assert sum(summary["lightgbm"][v] for v in real_data.VERDICTS) == 8
    markdown = (tmp_path / "r.md").read_text()
    assert "`two_blocks` = grec" in markdown and "| lightgbm |" in markdown
    assert "'two_blocks=grec:{\"num_blocks\": 2}'" in markdown  # the command, quoted as typed


def test_the_first_model_of_a_quality_run_must_be_grec():
    from benchmarks import real_data

    with pytest.raises(ValueError, match="must be grec"):
        real_data.run("synthetic", "/nonexistent", 1, 10, 10, models=("mmoe", "grec"))
    with pytest.raises(ValueError, match="searches the learning rate"):
        real_data.run("synthetic", "/nonexistent", 1, 10, 10, tune_trials=2, learning_rate=1e-3)


@pytest.mark.slow  # about 2 minutes; the default run keeps test_every_benchmark_module_imports
def test_request_shapes_counts_rows_padding_and_flat_per_row_cost(tmp_path):
    from benchmarks import request_shapes

    assert request_shapes.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "request_shapes.json").read_text())["rows"]
    assert {(r["tasks"], r["shape"]) for r in rows} == {(n, s) for n in (2, 8) for s in request_shapes.SHAPES}
    for r in rows:
        assert r["rows"] == (32 if r["shape"] == "one_sentence_x_items" else r["tasks"])
        assert r["ms_per_request"] > 0
        if r["model"] != "grec":  # no padding (PLE: 32 rows of one task fill 4 blocks; one row a task is
            # not run in blocks, tests/models/test_gated_experts.py): what runs is what is counted
            assert r["executed_mflops"] == pytest.approx(r["analytic_mflops"])
    per_row = {(r["model"], r["tasks"]): r["analytic_mflops"] / r["rows"] for r in rows}
    for name in request_shapes.MODELS:  # a row costs the same whatever the number of tasks
        assert per_row[(name, 2)] == pytest.approx(per_row[(name, 8)], rel=1e-3)
    # GRec, one context x 2 tasks: G = 2 groups, K = 4, E = 8, block 16: sparse dispatch would run
    # (ceil(8/16) + 8) * 16 = 144 slots for 8 assignments, dense G * E = 16, so the default (auto) runs dense;
    # 32 items of one task: sparse, (ceil(128/16) + 8) * 16 = 256 slots, as dense (32 * 8 = 256 is not fewer).
    # A slot is one expert on one example's T = 7 tokens, 2 matmuls of D = F = 64.
    grec = {r["rows"]: r for r in rows if r["model"] == "grec" and r["tasks"] == 2}
    for size, slots in ((2, 16), (32, 256)):
        padding = (slots - size * 4) * 2 * 2 * 7 * 64 * 64
        assert (grec[size]["executed_mflops"] - grec[size]["analytic_mflops"]) * 1e6 == pytest.approx(padding)


@pytest.mark.slow  # about 4 minutes: MovieLens prepared three times, GRec trained 250 steps on each
def test_vocabulary_benchmark_bounds_the_id_tables_and_pairs_every_variant_with_full(tmp_path):
    from benchmarks import vocabulary

    argv = ["movielens", "--seeds", "1", "--max-steps", "250", "--out", str(tmp_path / "v")]
    assert vocabulary.main(argv) == 0
    result = json.loads((tmp_path / "v.json").read_text())
    tables = result["tables"]
    assert tables["hashed"] == {"user_id": 256, "movie_id": 512}
    assert tables["full"]["movie_id"] > tables["min_count 5"]["movie_id"] > 512  # rare movies share OOV ids
    for entry in result["tasks"].values():
        assert set(entry["vs_full"]) == {"min_count 5", "hashed"}
        for d in entry["vs_full"].values():
            assert d["ap"]["low"] <= d["ap"]["difference"] <= d["ap"]["high"]


def test_static_loss_weights_are_one_over_the_entropy_of_each_tasks_rate_with_mean_one():
    from benchmarks.loss_weighting import entropy_weights
    from components.task_metrics import entropy

    ids = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    labels = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])  # task 0: rate 0.5, task 1: 0.1
    weights = entropy_weights(ids, labels, num_tasks=3)
    raw = [1 / entropy(0.5), 1 / entropy(0.1)]
    assert weights[:2] == pytest.approx([r / np.mean(raw) for r in raw])
    assert weights[2] == 1.0 and weights[1] > 2 * weights[0]  # an unseen (OOV) id weighs 1; the rarer task more


@pytest.mark.slow  # about 5 minutes: MovieLens prepared once, GRec trained 250 steps three ways
def test_loss_weighting_benchmark_pairs_static_and_learned_weights_with_equal(tmp_path):
    from benchmarks import loss_weighting

    argv = ["movielens", "--seeds", "1", "--max-steps", "250", "--out", str(tmp_path / "w")]
    assert loss_weighting.main(argv) == 0
    result = json.loads((tmp_path / "w.json").read_text())
    equal, static, learned = (result["loss_weights"][v][0] for v in loss_weighting.VARIANTS)
    assert equal == [1.0] * len(equal) and np.mean(static[:2]) == pytest.approx(1.0)
    assert learned != equal  # the log-variances trained
    for entry in result["tasks"].values():
        assert set(entry["vs_equal"]) == {"static", "uncertainty"}
        for d in entry["vs_equal"].values():
            for metric in ("ap", "auc", "ne"):
                assert d[metric]["low"] <= d[metric]["difference"] <= d[metric]["high"]
    assert "| love |" in (tmp_path / "w.md").read_text()


def test_entire_space_rows_add_a_conversion_row_labelled_0_to_every_impression_without_a_click():
    from benchmarks.chained import entire_space
    from data_tools import synthetic

    funnel = synthetic.generate(synthetic.SyntheticConfig(num_rows=4_000, funnel=True))
    rows, added = entire_space(funnel)
    ctr, cvr = rows["task"] == "ctr", rows["task"] == "cvr"
    assert sorted(rows["impression_id"][cvr]) == sorted(rows["impression_id"][ctr])  # every impression, once
    assert (rows["label"][added] == 0).all() and (rows["task"][added] == "cvr").all()
    clicks = dict(zip(rows["impression_id"][ctr], rows["label"][ctr], strict=True))
    # The added rows are the impressions without a click; a kept cvr row's label is click and convert.
    assert all(clicks[i] == 0 for i in rows["impression_id"][added])
    assert all(clicks[i] == 1 for i in rows["impression_id"][cvr & ~added])
    for name in ("user_id", "price", "query"):  # the added row is its impression's ctr row, task aside
        by_impression = dict(zip(rows["impression_id"][ctr], rows[name][ctr], strict=True))
        assert all(by_impression[i] == v for i, v in zip(rows["impression_id"][added], rows[name][added], strict=True))


@pytest.mark.slow  # about 2 minutes: a small funnel through Transform, GRec trained plain and chained
def test_chained_benchmark_scores_both_variants_on_the_same_impressions(tmp_path):
    from benchmarks import chained

    assert (
        chained.main(["synthetic", "--rows", "20000", "--seeds", "1", "--steps", "60", "--out", str(tmp_path / "c")])
        == 0
    )
    result = json.loads((tmp_path / "c.json").read_text())
    views = result["views"]
    every, clicked, click = (views[v] for v in views)
    assert every["rows"] == click["rows"] > clicked["rows"] > 0  # one cvr row per impression; the clicked ones
    assert every["positives"] == clicked["positives"]  # a conversion only after a click
    for view in views.values():
        for metric in ("ap", "auc"):
            d = view["chained_minus_plain"][metric]
            assert d["low"] <= d["difference"] <= d["high"]


def test_scale_bounds_the_synthetic_spec_and_its_floors_map_every_column(tmp_path):
    import pandas as pd

    from benchmarks import scale
    from components.feature_spec import load_feature_spec

    spec = load_feature_spec(scale.bounded_spec(str(tmp_path), user_buckets=8, item_ids=3))
    assert spec.column("user_id").option("hash_buckets") == 8 and spec.column("item_id").option("max_ids") == 3
    assert (tmp_path / "schema.pbtxt").exists()
    frame = pd.read_csv(scale.schemas.path("synthetic", "sample.csv"))
    # Statistics look at every value of each spec column; the mapping maps each id and number once per frame,
    # each token of text and history, each float of an image embedding.
    frames = [frame, frame.head(10)]
    present = [c for c in spec.columns if c.name in frame]
    assert scale.floor_statistics(frames, spec) == len(present) * (len(frame) + 10)
    mapped = scale.floor_transform(frames, spec)
    ids = [c for c in present if c.role in ("categorical", "aux_task", "task", "numerical")]
    tokens = sum(frame[c].fillna("").astype(str).str.split().str.len().sum() for c in ("query", "hist_items"))
    tokens += sum(frame.head(10)[c].fillna("").astype(str).str.split().str.len().sum() for c in ("query", "hist_items"))
    assert mapped == len(ids) * (len(frame) + 10) + tokens + spec.column("image_emb").option("dim") * (len(frame) + 10)


def test_scale_fits_each_components_exponent_and_reports_the_gates_growth():
    from benchmarks import scale

    def size(rows, seconds, gate_rows, growth):
        component = {"seconds": seconds, "floor_seconds": seconds / 2, "peak_mb": 1.0, "rows_per_second": 1.0}
        gate = {"rows": gate_rows, "seconds": gate_rows / 1e4, "growth_mb": growth}
        return {"rows": rows, "components": {"Transform": component, "Pusher": dict(component)}, "gate": gate}

    # Transform linear (b = 1), Pusher constant (b = 0); the gate grows 20 MB per million eval rows.
    sizes = [size(1e5, 10.0, 1e4, 1.2), size(4e5, 40.0, 4e4, 1.8)]
    sizes[1]["components"]["Pusher"]["seconds"] = 10.0
    exponents = scale.exponents(sizes)
    assert exponents["Transform"] == pytest.approx({"component": 1.0, "floor": 1.0})
    assert exponents["Pusher"]["component"] == pytest.approx(0.0, abs=1e-9)
    assert exponents["gate"]["growth_mb_per_million_eval_rows"] == pytest.approx(20.0)
    assert exponents["gate"]["seconds"] == pytest.approx(1.0)
    assert scale.exponents(sizes[:1]) == {}


@pytest.mark.slow  # about 4 minutes: the whole pipeline twice, then the server
def test_scale_benchmark_two_small_sizes_and_the_served_unseen_ids(tmp_path):
    from benchmarks import scale

    argv = ["--rows", "4000", "8000", "--user-buckets", "256", "--item-ids", "100", "--train-steps", "10"]
    argv += ["--eval-steps", "1", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "scale"), "--keep"]
    assert scale.main(argv) == 0
    result = json.loads((tmp_path / "scale.json").read_text())
    assert [s["rows"] for s in result["sizes"]] == [4000, 8000]
    for size in result["sizes"]:
        assert set(scale.FLOORS) <= set(size["components"])
        assert all(c["floor_seconds"] > 0 for name, c in size["components"].items() if name in scale.FLOORS)
        assert size["gate"]["rows"] == size["eval_rows"]
    served = result["sizes"][-1]["served"]
    assert served["user_rule_holds"] and served["item_rule_holds"] and served["item_vocabulary"] == 100
    assert (tmp_path / "scale.png").stat().st_size > 0
    assert "Exponent b" in (tmp_path / "scale.md").read_text()
    # The gate alone on the kept smaller run's eval split read once and twice: twice the rows, and 20 bytes kept a
    # row (the task's reference, the label and two scores).
    growth = [
        "--gate-growth",
        str(tmp_path / "work" / "rows_4000"),
        "--repeats",
        "1",
        "2",
        "--out",
        str(tmp_path / "g"),
    ]
    assert scale.main(growth) == 0
    points = json.loads((tmp_path / "g.json").read_text())["points"]
    rows = result["sizes"][0]["eval_rows"]
    assert [p["rows"] for p in points] == [rows, 2 * rows]
    assert [p["held_mb"] * 2**20 for p in points] == [20 * rows, 40 * rows]
    assert "growth MB" in (tmp_path / "g.md").read_text()


@pytest.mark.slow  # about two minutes: the synthetic set prepared, GRec built and compiled four times
def test_train_step_benchmark_times_every_option_beside_the_matmul_rate(tmp_path):
    import keras

    from benchmarks import train_step

    argv = ["--models", "grec", "--runs", "1", "--steps", "10", "--warmup", "10", "--rows", "3000"]
    with pytest.raises(SystemExit):  # 3 steps: steps_per_execution=10 would run 10 and time them as 3
        train_step.main([*argv[:4], "--steps", "3", *argv[6:], "--out", str(tmp_path / "t")])
    assert train_step.main([*argv, "--out", str(tmp_path / "t")]) == 0  # each run checks the steps it ran
    assert keras.mixed_precision.global_policy().name == "float32"  # mixed_bfloat16 stayed in its run
    result = json.loads((tmp_path / "t.json").read_text())
    options = result["models"]["grec"]["options"]
    assert set(options) == {"default", "xla", "steps_per_execution", "mixed_bfloat16"}
    assert all(o["median"] > 0 for o in options.values())
    assert len(result["matmul_gflops"]) == 4 and min(result["matmul_gflops"]) > 0
    assert "share of matmul rate" in (tmp_path / "t.md").read_text()
    profile = result["profile"]  # the default --profile-steps: GRec's ops by part, forward and backward
    assert {"forward: moe", "backward: moe", "optimizer"} <= set(profile["by_scope"])
    assert {"forward: input_encoder/history", "backward: input_encoder/text"} <= set(profile["by_scope"])
    assert sum(profile["by_scope"].values()) == pytest.approx(sum(profile["by_type"].values()))


def test_parse_variant_names_a_model_with_checked_preset_overrides():
    from benchmarks.harness import parse_variant

    assert parse_variant('grec_k2=grec:{"top_k": 2}') == ("grec_k2", ("grec", {"top_k": 2}))
    assert parse_variant("plain=mmoe") == ("plain", ("mmoe", {}))
    for text, words in [
        ("grec", "NAME=MODEL:JSON"),
        ('k=grec:{"top_k": 2', "does not parse"),
        ("k=grec:[2]", "must be an object"),
        ('k=grec:{"top_kk": 2}', "top_kk"),  # the model's check names the key it does not take
    ]:
        with pytest.raises(ValueError, match=words):
            parse_variant(text)


@pytest.mark.slow  # about a minute: two models built and stepped in each of two runs
def test_train_step_variants_take_turns_with_the_model_and_count_their_own_flops(tmp_path):
    from benchmarks import harness, train_step
    from models.flops import encoder_flops

    preset = harness.default_hyperparameters("grec")["encoder_options"]
    one_block = dict(preset, history_blocks=1)  # the history encoder's block, which the preset leaves out
    variant = "grec_h1=grec:" + json.dumps({"encoder_options": one_block})
    argv = ["--models", "grec,grec_h1", "--variant", variant, "--runs", "2", "--steps", "10", "--warmup", "10"]
    argv += ["--rows", "3000", "--options", "default", "--profile-steps", "5", "--profile-model", "grec_h1"]
    argv += ["--out", str(tmp_path / "t")]
    with pytest.raises(SystemExit):  # the ratios' base must be timed
        train_step.main([*argv, "--options", "xla"])
    with pytest.raises(SystemExit):  # a profile of a model not timed
        train_step.main([*argv, "--profile-model", "mmoe"])
    assert train_step.main(argv) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    grec, h1 = result["models"]["grec"], result["models"]["grec_h1"]
    assert set(grec["options"]) == set(h1["options"]) == {"default"}
    assert len(h1["options"]["default"]["examples_per_second"]) == 2 and len(result["matmul_gflops"]) == 4
    config = harness.prepare_data(num_rows=3000, seed=0).input_config
    block = encoder_flops(config, 64, 16, one_block) - encoder_flops(config, 64, 16, preset)
    assert block > 0 and h1["train_flops_per_example"] - grec["train_flops_per_example"] == 3 * block
    assert "per run vs grec" in (tmp_path / "t.md").read_text()
    assert result["profile"]["model"] == "grec_h1" and "Where grec_h1's step" in (tmp_path / "t.md").read_text()


BEFORE = "081b845"  # the revision issue 31's Trainer speed-up is measured against: an older recipe (no OPTIMIZERS)


@pytest.mark.slow  # about a minute: the repository at HEAD and at BEFORE archived, the step timed in each
def test_train_step_times_another_revisions_step_on_that_revisions_models(tmp_path):
    import subprocess

    from benchmarks import train_step

    for revision in ("HEAD", BEFORE):
        if subprocess.run(["git", "cat-file", "-e", revision], capture_output=True).returncode:
            pytest.skip(f"{revision} is not in this clone's history (a shallow clone)")
        tree = train_step.tree_at(revision)  # this file's step_rate run on that tree's models, recipe and harness
        assert train_step.rate_at(tree, "grec", steps=2, warmup=1, rows=3000, seed=0) > 0  # checked: tree's models


def _xspace(tmp_path, events):
    """A profiler trace with one host line of ``events`` (name, start, duration in seconds), as
    tf.profiler.experimental writes it."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    line = plane.lines.add(name="tf_Compute")
    for index, (name, start, duration) in enumerate(events, start=1):
        plane.event_metadata[index].id = index
        plane.event_metadata[index].name = name
        line.events.add(metadata_id=index, offset_ps=int(start * 1e12), duration_ps=int(duration * 1e12))
    folder = tmp_path / "plugins" / "profile" / "run"
    folder.mkdir(parents=True)
    (folder / "host.xplane.pb").write_bytes(space.SerializeToString())
    return str(tmp_path)


def test_op_times_sums_each_ops_self_time_by_type_and_part_of_the_model(tmp_path):
    from benchmarks import train_step

    logdir = _xspace(
        tmp_path,
        [
            ("ExecutorState::Process", 0.0, 10.0),  # the executor's own event: not an op
            ("StatefulPartitionedCall:StatefulPartitionedCall", 0.0, 9.0),  # holds the three below: 9 - 6 = 3 s
            ("StatefulPartitionedCall/g_rec_1/moe_1/einsum/Einsum:_MklEinsum", 1.0, 2.0),
            ("StatefulPartitionedCall/gradient_tape/g_rec_1/input_encoder_1/history_1/mul:Mul", 3.0, 3.0),
            ("StatefulPartitionedCall/adam/Square_5:Square", 6.5, 1.0),
            ("EagerLocalExecute: __inference_step", 9.5, 0.5),  # a runtime event with a space: not an op
        ],
    )
    by_type, by_scope = train_step.op_times(logdir, "g_rec")
    assert by_type == pytest.approx({"StatefulPartitionedCall": 3.0, "_MklEinsum": 2.0, "Mul": 3.0, "Square": 1.0})
    assert by_scope == pytest.approx(
        {
            "loss, metrics and other": 3.0,
            "forward: moe": 2.0,
            "backward: input_encoder/history": 3.0,
            "optimizer": 1.0,
        }
    )


def test_embedding_tables_reports_each_size_and_the_slope_of_its_own_numbers(tmp_path):
    from benchmarks import embedding_tables

    with pytest.raises(SystemExit):  # a slope needs two sizes
        embedding_tables.main(["--rows", "100", "100", "--out", str(tmp_path / "x")])
    argv = ["--rows", "100", "3000", "--steps", "5", "--repeats", "1", "--out", str(tmp_path / "e")]
    assert embedding_tables.main(argv) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert [s["rows"] for s in result["sizes"]] == [100, 3000] and result["args"]["dim"] == 16
    assert all(s[k] > 0 for s in result["sizes"] for k in ("adam_ms", "lazy_adam_ms", "floor_ms"))
    (small, large), slope = result["sizes"], result["ms_per_million_rows"]
    assert slope["lazy_adam_ms"] == pytest.approx((large["lazy_adam_ms"] - small["lazy_adam_ms"]) / 0.0029)
    steps = " | ".join(f"{large[name + '_ms']:.2f}" for name in embedding_tables.training.OPTIMIZERS)
    row = f"| 3,000 | {steps} | {large['floor_ms']:.2f} |"  # the recipe's optimizers in order, then the floor
    assert row in (tmp_path / "e.md").read_text()
