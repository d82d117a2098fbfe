"""The other ways to run the pipeline: the TFX CLI (local engine), Kubeflow compilation, Beam multi-process."""

import json
import os
import re
import subprocess
import sys

import pytest

import schemas
from data_tools import generate_synthetic, synthetic
from pipelines import beam
from pipelines.grec_pipeline import code_fingerprint
from pipelines.kubeflow_runner import compile_pipeline
from tests.pipelines import COMPONENTS, TINY_GREC

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_kubeflow_pipeline_json_has_every_component_and_parameter(tmp_path):
    path = compile_pipeline(
        str(tmp_path / "grec.json"),
        "grec:test",
        "gs://bucket/root",
        "gs://bucket/data",
        "gs://bucket/serving/grec",
        trainer_config={"model": "mmoe"},
    )
    document = json.loads(open(path).read())
    tasks = set(document["pipelineSpec"]["root"]["dag"]["tasks"])
    assert COMPONENTS <= tasks and any(t.startswith("latest_blessed_model_resolver") for t in tasks)
    text = json.dumps(document)
    for fragment in (
        "components.trainer.run_fn",
        "components.preprocessing.preprocessing_fn",
        "gs://bucket/data",
        "gs://bucket/serving/grec",
        "grec:test",
        "mmoe",
        "average_precision",
        "--runner=DataflowRunner",
        code_fingerprint(),
    ):
        assert fragment in text, fragment


def test_kubeflow_pipeline_parses_as_pipeline_spec_with_the_quarantine_output(tmp_path):
    """The compiled JSON read as kfp's PipelineSpec: ExampleGen declares ``bad_rows`` beside ``examples``
    (KFP hands the executor every output the spec declares), and the DAG wires examples onward."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    from components.example_gen.quarantine import BAD_ROWS_KEY

    path = compile_pipeline(
        str(tmp_path / "grec.json"), "grec:test", "gs://bucket/root", "gs://bucket/data", "gs://bucket/serving/grec"
    )
    document = json.loads(open(path).read())
    spec = json_format.ParseDict(document["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    outputs = spec.components["CsvExampleGen"].output_definitions.artifacts
    assert set(outputs) == {"examples", BAD_ROWS_KEY}
    assert "grec.BadRows" in outputs[BAD_ROWS_KEY].artifact_type.instance_schema
    assert set(spec.root.dag.tasks) >= COMPONENTS
    statistics_input = spec.root.dag.tasks["StatisticsGen"].inputs.artifacts["examples"]
    assert statistics_input.task_output_artifact.producer_task == "CsvExampleGen"


def test_beam_args_for_every_runner():
    assert beam.beam_pipeline_args("direct-multiprocess", workers=2) == [
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
    ]
    assert "--runner=FlinkRunner" in beam.beam_pipeline_args("flink", flink_master="host:8081")
    assert "--flink_master=host:8081" in beam.beam_pipeline_args("flink", flink_master="host:8081")
    assert beam.beam_pipeline_args("spark")[0] == "--runner=SparkRunner"
    with pytest.raises(ValueError, match="runner='storm'"):
        beam.beam_pipeline_args("storm")


def test_auto_picks_the_multiprocess_runner_from_the_measured_size_and_says_why(monkeypatch, tmp_path, capsys):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_bytes(b"x" * 3000)
    (tmp_path / "eval.csv").write_bytes(b"x" * 1000)
    assert beam.input_bytes([str(tmp_path)]) == 4000
    assert beam.resolve("spark", 10**12) == ("spark", "Beam runner spark (asked)")
    monkeypatch.setattr(beam, "MULTIPROCESS_MIN_BYTES", 4000)
    runner, why = beam.resolve(beam.AUTO, 4000, cores=4)
    assert runner == "direct-multiprocess" and "4 processes" in why
    assert beam.resolve(beam.AUTO, 3999, cores=4)[0] == "direct"
    assert beam.resolve(beam.AUTO, 4000, cores=1)[0] == "direct"  # one core: nothing to share
    monkeypatch.setattr(beam, "MULTIPROCESS_MIN_BYTES", None)
    assert beam.resolve(beam.AUTO, 10**12, cores=64)[0] == "direct"
    monkeypatch.setattr(beam.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(beam, "MULTIPROCESS_MIN_BYTES", 4000)
    assert beam.local_args(beam.AUTO, [str(tmp_path)], {"x": 1}) == [
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
        "--x=1",
    ]
    assert "DirectRunner, 2 processes (0 MB of input" in capsys.readouterr().out


def test_beam_options_from_the_command_line():
    assert beam.parse_options(["project=p", "--temp_location=gs://b/t"]) == {
        "project": "p",
        "temp_location": "gs://b/t",
    }
    with pytest.raises(ValueError, match="'region': expected KEY=VALUE"):
        beam.parse_options(["region"])
    args = beam.beam_pipeline_args("dataflow", **beam.parse_options(["project=p", "region=europe-west1"]))
    assert args == ["--runner=DataflowRunner", "--experiments=use_runner_v2", "--project=p", "--region=europe-west1"]


@pytest.mark.e2e
def test_transform_runs_on_the_multiprocess_direct_runner(tmp_path):
    from components.transform_check import run_transform

    sample = schemas.path("synthetic", "sample.csv")
    output = run_transform(
        sample,
        schemas.path("synthetic", "feature_spec.yaml"),
        schemas.path("synthetic", "schema.pbtxt"),
        str(tmp_path / "tft"),
        beam.beam_pipeline_args("direct-multiprocess", workers=2),
    )
    assert output.vocabulary_size_by_name("vocab_task") == 4


@pytest.mark.e2e
def test_tfx_cli_local_engine_creates_and_runs_the_pipeline(tmp_path):
    home = tmp_path / "grec_home"
    generate_synthetic.write_dataset(
        synthetic.SyntheticConfig(num_rows=12_000, seed=8), str(home / "data" / "synthetic")
    )
    # 120 steps instead of the default budget (up to 3,000): the CLI path, not the model, is under test here.
    env = dict(
        os.environ,
        GREC_HOME=str(home),
        LOCAL_HOME=str(tmp_path / "tfx_local"),
        TF_CPP_MIN_LOG_LEVEL="2",
        GREC_TRAIN_STEPS="120",
    )
    tfx_cli = os.path.join(os.path.dirname(sys.executable), "tfx")
    pipeline_path = os.path.join(ROOT, "pipelines", "tfx_cli.py")
    create = subprocess.run(
        [tfx_cli, "pipeline", "create", "--engine=local", f"--pipeline_path={pipeline_path}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert create.returncode == 0, create.stdout[-3000:] + create.stderr[-3000:]
    run = subprocess.run(
        [tfx_cli, "run", "create", "--engine=local", "--pipeline_name=grec"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    versions = os.listdir(home / "serving_models" / "grec")
    assert len(versions) == 1 and (home / "serving_models" / "grec" / versions[0] / "saved_model.pb").exists()
    # The Trainer ran with the environment's budget (its execution's train_args in the metadata store).
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(home / "pipeline_root" / "grec" / "metadata.sqlite")
        )
    )
    train_args = [
        e.custom_properties["train_args"].string_value
        for e in store.get_executions()
        if "train_args" in e.custom_properties
    ]
    assert [json.loads(a) for a in train_args] == [{"num_steps": 120}], train_args


def test_train_steps_from_the_environment(monkeypatch):
    from pipelines.config import env_train_steps

    monkeypatch.delenv("GREC_TRAIN_STEPS", raising=False)
    assert env_train_steps() is None  # the pipeline's default
    monkeypatch.setenv("GREC_TRAIN_STEPS", "120")
    assert env_train_steps() == 120
    for bad in ("12.5", "-3", "0", "many"):
        monkeypatch.setenv("GREC_TRAIN_STEPS", bad)
        with pytest.raises(ValueError, match=rf"GREC_TRAIN_STEPS='{re.escape(bad)}': expected a whole number"):
            env_train_steps()


@pytest.mark.parametrize("model", ["grec", "dense_grec", "mmoe", "ple", "shared_bottom", "single_task"])
def test_every_model_builds_a_pipeline_from_its_own_preset(tmp_path, model):
    from models import presets
    from pipelines.local_runner import build

    paths = {
        "data_root": str(tmp_path / "d"),
        "pipeline_root": str(tmp_path / "p"),
        "metadata_path": str(tmp_path / "p" / "m.sqlite"),
        "serving_model_dir": str(tmp_path / "s"),
    }
    pipeline = build(paths, trainer_config={"model": model, "hyperparameters": {"dim": 32}, "batch_size": 128})
    trainer = next(c for c in pipeline.components if c.id == "Trainer")
    config = json.loads(trainer.exec_properties["custom_config"])
    assert config["model"] == model and config["batch_size"] == 128
    assert config["hyperparameters"] == {**presets.preset(model), "dim": 32}
    assert json.loads(trainer.exec_properties["train_args"]) == {"num_steps": 3000}  # models.training.MAX_STEPS
    assert json.loads(trainer.exec_properties["eval_args"]) == {"splits": ["validation"]}  # all of it each round
    assert config["optimizer"] == "lazy_adam"  # models.training.OPTIMIZERS[0]


def test_the_optimizer_is_chosen_beside_the_hyperparameters_or_among_them(tmp_path):
    from pipelines.config import trainer_config
    from pipelines.local_runner import build

    paths = {"pipeline_root": str(tmp_path / "p"), "metadata_path": str(tmp_path / "m.sqlite")}
    for given in ({"hyperparameters": {"optimizer": "adam"}}, {"optimizer": "adam"}):
        pipeline = build(paths, trainer_config={"model": "mmoe", **given})
        trainer = next(c for c in pipeline.components if c.id == "Trainer")
        config = json.loads(trainer.exec_properties["custom_config"])
        assert config["optimizer"] == "adam" and "optimizer" not in config["hyperparameters"]
    with pytest.raises(ValueError, match="optimizer 'sgd': expected one of lazy_adam, adam"):
        trainer_config("grec", {"optimizer": "sgd"})


def test_missing_or_empty_splits_are_named_before_anything_runs(tmp_path):
    from pipelines.local_runner import DataRootError, check_data_root, run

    with pytest.raises(DataRootError, match=r"data/train: missing"):
        run(
            {
                "data_root": str(tmp_path / "data"),
                "pipeline_root": str(tmp_path / "p"),
                "metadata_path": str(tmp_path / "p" / "m.sqlite"),
                "serving_model_dir": str(tmp_path / "s"),
            }
        )
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "eval").mkdir()
    (tmp_path / "data" / "train" / "data.csv").write_text("task,label\nctr,1\n")
    with pytest.raises(DataRootError, match=r"eval: no files in the 'eval' split"):
        check_data_root(str(tmp_path / "data"))
    (tmp_path / "data" / "eval" / "data.csv").write_text("task,label\n")
    with pytest.raises(DataRootError, match=r"the 'eval' split is empty \(a header and no rows\)"):
        check_data_root(str(tmp_path / "data"))
    assert not (tmp_path / "p").exists()  # nothing ran


@pytest.mark.slow  # two pipeline runs, about 4 minutes
def test_a_killed_run_restarted_completes_without_cleanup(tmp_path):
    """SIGKILL the local runner while the Trainer runs; the same command again finishes and pushes.

    The data is one CSV file that ExampleGen splits by time (``--eval-days``), so this also runs the
    whole pipeline on a time split made inside ExampleGen."""
    import signal
    import time

    from data_tools import writers

    home = tmp_path / "grec_home"
    columns = synthetic.generate(synthetic.SyntheticConfig(num_rows=6_000, seed=9))
    writers.write(columns, str(home / "data" / "synthetic" / "all.csv"), "csv")
    env = dict(os.environ, GREC_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    small = json.dumps(TINY_GREC)
    command = [
        sys.executable,
        "-m",
        "pipelines.local_runner",
        "--train-steps",
        "40",
        "--hyperparameters",
        small,
        "--eval-days",
        "7",
    ]
    trainer_dir = home / "pipeline_root" / "grec" / "Trainer"
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 900
        while not trainer_dir.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert first.poll() is None, (
            "the first run ended before the Trainer started:\n" + (tmp_path / "first.log").read_text()[-3000:]
        )
        time.sleep(3)  # inside the Trainer's executor
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    assert not (home / "serving_models" / "grec").exists()  # killed before anything was pushed
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    versions = os.listdir(home / "serving_models" / "grec")
    assert len(versions) == 1 and (home / "serving_models" / "grec" / versions[0] / "saved_model.pb").exists()


def test_code_fingerprint_changes_with_the_code_transform_and_trainer_run(tmp_path):
    for path, text in (("components/trainer.py", "A = 1\n"), ("models/grec.py", "B = 1\n"), ("models/README.md", "x")):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    before = code_fingerprint(str(tmp_path))
    (tmp_path / "models" / "README.md").write_text("y")  # not code
    assert code_fingerprint(str(tmp_path)) == before
    (tmp_path / "models" / "grec.py").write_text("B = 2\n")
    assert code_fingerprint(str(tmp_path)) != before
    changed = code_fingerprint(str(tmp_path))
    (tmp_path / "serving").mkdir()
    (tmp_path / "serving" / "contract.py").write_text('OUTPUT_KEY = "score"\n')  # the export and Evaluator read it
    assert code_fingerprint(str(tmp_path)) != changed


def _configurations(pipeline) -> dict:
    """Each component's id, type and execution properties (as text): what it will run with."""
    return {
        c.id: (
            type(c).__name__,
            {k: str(v) for k, v in sorted(c.exec_properties.items())},
            sorted(c.inputs),  # which channels it reads (the Trainer's base_model with --warm-start)
        )
        for c in pipeline.components
    }


def test_every_runner_builds_the_same_pipeline_from_the_same_options(tmp_path, monkeypatch):
    """The local runner's flags, the environment the TFX CLI's file and Airflow's DAG read, and the Kubeflow
    compiler's flags give pipelines whose components have the same configurations (model, preset,
    hyperparameters, steps, spec, checks)."""
    import shutil

    from pipelines import config, kubeflow_runner, local_runner

    spec_dir = tmp_path / "my_spec"
    spec_dir.mkdir()
    for name in ("feature_spec.yaml", "schema.pbtxt"):
        shutil.copy(schemas.path("synthetic", name), spec_dir / name)
    for split in ("train", "eval"):
        (tmp_path / "data" / split).mkdir(parents=True)
        shutil.copy(schemas.path("synthetic", "sample.csv"), tmp_path / "data" / split / "data.csv")
    monkeypatch.setenv("GREC_HOME", str(tmp_path))
    spec = str(spec_dir / "feature_spec.yaml")
    paths = config.default_paths(spec=spec)
    paths["data_root"] = str(tmp_path / "data")
    built = {}

    monkeypatch.setattr(local_runner, "run", lambda p, layout, **kw: built.setdefault("local", config.build(p, **kw)))
    argv = ["--spec", spec, "--data-root", paths["data_root"], "--model", "mmoe", "--hyperparameters", '{"dim": 32}']
    argv.append("--warm-start")
    assert local_runner.main([*argv, "--train-steps", "40"]) == 0

    for name, value in (
        ("GREC_MODEL", "mmoe"),
        ("GREC_HYPERPARAMETERS", '{"dim": 32}'),
        ("GREC_TRAIN_STEPS", "40"),
        ("GREC_WARM_START", "1"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GREC_SPEC", spec)
    monkeypatch.setenv("GREC_DATA_ROOT", paths["data_root"])
    built["tfx_cli and airflow"] = config.build(config.default_paths(), **config.options_from_env())

    def compiled(output, image, *args, **kwargs):
        built["kubeflow"] = kubeflow_runner.build_pipeline(*args, **kwargs)
        return output

    monkeypatch.setattr(kubeflow_runner, "compile_pipeline", compiled)
    where = [f"--{k.replace('_', '-')}={paths[k]}" for k in ("pipeline_root", "data_root", "serving_model_dir")]
    assert kubeflow_runner.main(["--image", "grec:1", *where, *argv, "--train-steps", "40"]) == 0

    local = _configurations(built["local"])
    trainer = json.loads(local["Trainer"][1]["custom_config"])
    assert trainer["model"] == "mmoe" and trainer["hyperparameters"]["dim"] == 32  # the preset, one key changed
    assert trainer["hyperparameters"]["expert_dim"] == 128  # kept from mmoe's small preset (2 x its dim 64)
    assert json.loads(local["Trainer"][1]["train_args"])["num_steps"] == 40
    assert trainer["warm_start"] is True and "base_model" in local["Trainer"][2]  # the last blessed model
    for runner in ("tfx_cli and airflow", "kubeflow"):
        assert _configurations(built[runner]) == local, runner
    assert local["Evaluator"][1]["engine"] == "auto"  # decided where it runs: by the Beam runner
    del built["local"]
    assert local_runner.main([*argv, "--train-steps", "40", "--evaluator-engine", "tfma"]) == 0
    assert _configurations(built["local"])["Evaluator"][1]["engine"] == "tfma"
