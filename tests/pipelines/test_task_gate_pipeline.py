"""The pipeline's Evaluator and Pusher with the per-task gate, on models whose quality is known by construction.

Both models score from the synthetic data's oracle probability (``oracle_p``),
so which is better on which task does not depend on a training run: the
baseline is the oracle blurred on every task; one candidate is the exact
oracle (better overall) except on the sparse ``cvr`` task, where its scores are
noise; the other is the baseline with a little more noise on every row, as a
retrained model of the same quality would be.
"""

import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from components import task_gate
from components.evaluation import Evaluator, eval_config
from components.feature_spec import load_feature_spec
from components.pusher import idempotent_pusher
from components.task_gate import TaskGates
from data_tools import generate_synthetic, synthetic
from pipelines import local_runner
from pipelines.grec_pipeline import example_gen_component
from pipelines.report import latest_evaluation, slice_table, validation

pytestmark = pytest.mark.e2e
SPEC = load_feature_spec(local_runner.default_paths()["feature_spec_path"])


class _OracleScorer(tf.Module):
    """serving_default(examples) -> probability: the oracle's logit blurred by ``blur`` x noise (pattern
    ``noise_key``) plus ``extra`` x noise of another pattern, and noise for ``broken_task``.

    The noise is uniform in [-3, 3), fixed per row by a hash of its impression and task (not of the
    serialized bytes, whose field order may differ between runs), so every run scores the same.
    """

    def __init__(self, blur: float = 0.0, broken_task: str = "", noise_key: int = 1, extra: float = 0.0):
        super().__init__()
        self._blur, self._broken, self._key, self._extra = blur, broken_task, noise_key, extra

    @staticmethod
    def _noise(row_key, key: int):
        return (
            tf.cast(tf.strings.to_hash_bucket_strong(row_key, 10_007, key=[key, 0]), tf.float32) / 10_007.0 * 6.0 - 3.0
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        features = tf.io.parse_example(
            examples,
            {
                "oracle_p": tf.io.FixedLenFeature([], tf.float32),
                "impression_id": tf.io.FixedLenFeature([], tf.int64),
                "task": tf.io.FixedLenFeature([], tf.string),
            },
        )
        row = tf.strings.join([tf.strings.as_string(features["impression_id"]), features["task"]], "/")
        p = tf.clip_by_value(features["oracle_p"], 1e-4, 1 - 1e-4)
        logit = tf.math.log(p / (1 - p)) + self._blur * self._noise(row, self._key) + self._extra * self._noise(row, 99)
        # A broken task: noise around the task's base rate (about 2 %), so only its own ranking is lost.
        broken = tf.sigmoid(-3.9 + 0.3 * self._noise(row, 7))
        return {"probability": tf.where(features["task"] == self._broken, broken, tf.sigmoid(logit))}


def _export(root, name: str, **scorer) -> str:
    folder = os.path.join(root, name)
    module = _OracleScorer(**scorer)
    tf.saved_model.save(
        module,
        os.path.join(folder, "Format-Serving"),
        signatures={"serving_default": module.serve.get_concrete_function()},
    )
    return folder


def _run(root, data_root: str, candidate: str, baseline: str, serving: str):
    importer = tfx.dsl.Importer(source_uri=candidate, artifact_type=tfx.types.standard_artifacts.Model)
    base = tfx.dsl.Importer(source_uri=baseline, artifact_type=tfx.types.standard_artifacts.Model).with_id("base")
    example_gen = example_gen_component(data_root, SPEC)
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=importer.outputs["result"],
        baseline_model=base.outputs["result"],
        eval_config=eval_config(SPEC),
        task_gates=TaskGates(task_column="task", label_column="label"),
    )
    pusher = idempotent_pusher(
        model=importer.outputs["result"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving)
        ),
    )
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="gate",
            pipeline_root=os.path.join(root, "pipeline"),
            components=[example_gen, importer, base, evaluator, pusher],
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                os.path.join(root, "metadata.sqlite")
            ),
        )
    )
    return latest_evaluation(os.path.join(root, "pipeline"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("gate"))
    data_root = os.path.join(root, "data")
    # 60,000 rows: the eval week holds about 22 cvr positives, enough to be gated (20), and 19 for churn.
    generate_synthetic.write_dataset(synthetic.SyntheticConfig(num_rows=60_000, seed=5), data_root)
    return root, data_root, _export(root, "baseline", blur=0.6)


def test_better_overall_but_broken_on_a_sparse_task_is_not_pushed(setup):
    root, data_root, baseline = setup
    candidate = _export(root, "broken_cvr", broken_task="cvr")
    serving = os.path.join(root, "serving_broken")
    evaluation = _run(root, data_root, candidate, baseline, serving)
    import tensorflow_model_analysis as tfma

    assert tfma.load_validation_result(evaluation).validation_ok  # TFMA's overall thresholds alone would bless it
    blessed, reasons = validation(evaluation)
    assert not blessed and not os.path.exists(serving)  # nothing pushed
    assert reasons and all(r.startswith("task 'cvr': ") for r in reasons), reasons  # the gate alone blocked it
    verdicts = {v.task: v for v in task_gate.read(evaluation)[0]}
    auc = verdicts["cvr"].values["auc"]
    message = next(r for r in reasons if r.startswith("task 'cvr': auc "))
    assert message.startswith(f"task 'cvr': auc {auc['new']:.4f} vs {auc['baseline']:.4f} for the last blessed model")
    assert f"[{auc['low']:+.4f}, {auc['high']:+.4f}]" in message and auc["high"] < -0.1
    assert {t: v.verdict for t, v in verdicts.items()} == {
        "atc": "pass",
        "ctr": "pass",
        "cvr": "FAIL",
        "churn": f"not gated: {verdicts['churn'].positives} positives",
    }
    assert verdicts["ctr"].values["auc"]["diff"] > 0  # better where it is not broken
    # Normalized entropy: TFMA's (the Evaluator's table) and the gate's (NumPy) agree on every task's rows; the
    # exact oracle lowers it on ctr, the broken task's noise raises it; reported, not gated by default.
    slices = {row["slice"]: row for row in slice_table(evaluation)}
    for task, verdict in verdicts.items():
        if verdict.gated:
            ne = verdict.values["normalized_entropy"]
            assert slices[f"task={task}"]["normalized_entropy"] == pytest.approx(ne["new"], rel=1e-4), task
            assert ne["verdict"] == "not gated"
    ne = {task: verdicts[task].values["normalized_entropy"] for task in ("ctr", "cvr")}
    assert ne["ctr"]["high"] < 0 < ne["cvr"]["diff"]
    assert verdicts["cvr"].values["calibration_error"]["new"] >= 0


def test_noise_on_a_sparse_task_is_blessed_and_pushed(setup):
    root, data_root, baseline = setup
    candidate = _export(root, "a_little_noise", blur=0.6, extra=0.15)
    serving = os.path.join(root, "serving_noise")
    evaluation = _run(root, data_root, candidate, baseline, serving)
    verdicts = {v.task: v for v in task_gate.read(evaluation)[0]}
    cvr = verdicts["cvr"].values["average_precision"]
    assert cvr["diff"] != 0 and cvr["low"] < 0 < cvr["high"]  # a different model, within the noise
    assert validation(evaluation) == (True, [])
    assert len(os.listdir(serving)) == 1  # pushed
