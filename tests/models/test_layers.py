import numpy as np
import pytest
import tensorflow as tf

from models.expert_utilization import ExpertUtilization
from models.multi_query_attention import MultiQueryAttention
from models.parallel_transformer_block import ParallelTransformerBlock
from models.sequence_encoder import SequenceEncoder
from models.task_sentence_embedding import TaskSentenceEmbedding
from models.task_towers import TaskTowers
from models.text_encoder import TextEncoder
from models.wide_deep_head import WideDeepHead, categorical_width
from tests.models.harness import assert_config_complete, run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5, 32)).astype("float32")


def test_multi_query_attention_harness():
    run_layer_test(
        MultiQueryAttention, dict(num_query_heads=4, key_dim=None, use_rotary=True, dropout=0.0), X, (3, 5, 32)
    )


def test_multi_query_attention_has_one_key_value_head():
    layer = MultiQueryAttention(num_query_heads=4)
    layer(X)
    d, h, k = 32, 4, 8
    queries = d * h * k + h * k  # kernel [D, H, k] + bias [H, k]
    keys = d * k + k  # one head: kernel [D, k] + bias [k]
    values = d * k + k
    output = h * k * d + d
    assert layer.count_params() == queries + keys + values + output == 2640
    # Multi-head attention would have 2 * (d * h * k + h * k) = 2112 key/value parameters, not 528.


def _numpy_block(block, x, mask=None):
    """The parallel block by its formula, from the layer's weights (no rotary)."""
    ln = block.norm
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    n = (x - mu) / np.sqrt(var + ln.epsilon) * np.array(ln.gamma) + np.array(ln.beta)
    att = block.attention
    q = np.einsum("btd,dhk->bthk", n, np.array(att.query_dense.kernel)) + np.array(att.query_dense.bias)
    k = np.einsum("btd,dk->btk", n, np.array(att.key_dense.kernel)) + np.array(att.key_dense.bias)
    v = np.einsum("btd,dk->btk", n, np.array(att.value_dense.kernel)) + np.array(att.value_dense.bias)
    s = np.einsum("bthk,bsk->bhts", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask[:, None, None, :], s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ctx = np.einsum("bhts,bsk->bthk", p, v)
    attn = np.einsum("bthk,hkd->btd", ctx, np.array(att.output_dense.kernel)) + np.array(att.output_dense.bias)
    g = n @ np.array(block.gate.kernel)
    mlp = ((g / (1 + np.exp(-g))) * (n @ np.array(block.up.kernel))) @ np.array(block.down.kernel)
    return x + attn + mlp


def test_parallel_block_equals_the_explicit_formula():
    block = ParallelTransformerBlock(num_query_heads=4, use_rotary=False)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    out = np.array(block(X, padding_mask=mask))
    np.testing.assert_allclose(out, _numpy_block(block, X, mask), atol=1e-4)


def test_parallel_block_harness():
    kwargs = dict(num_query_heads=4, mlp_hidden_dim=48, use_rotary=True, dropout=0.1, epsilon=1e-5)
    run_layer_test(ParallelTransformerBlock, kwargs, X, (3, 5, 32))


def test_padding_mask_hides_padded_tokens_and_rotary_sees_order():
    block = ParallelTransformerBlock(num_query_heads=4)
    mask = np.array([[1, 1, 1, 0, 0]] * 3, dtype=bool)
    changed = X.copy()
    changed[:, 3:] += 5.0
    a, b = np.array(block(X, padding_mask=mask)), np.array(block(changed, padding_mask=mask))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    # Without rotary the block is permutation-equivariant; with it, order matters.
    perm = [4, 3, 2, 1, 0]
    plain = ParallelTransformerBlock(num_query_heads=4, use_rotary=False)
    np.testing.assert_allclose(np.array(plain(X))[:, perm], np.array(plain(X[:, perm])), atol=1e-5)
    assert not np.allclose(np.array(block(X))[:, perm], np.array(block(X[:, perm])), atol=1e-3)


def test_wide_deep_head_harness_and_cross_branch():
    cat = RNG.integers(0, 10, size=(4, 2))
    num = RNG.normal(size=(4, 3)).astype("float32")
    kwargs = dict(vocab_sizes=[10, 12], num_numerical=3, embedding_dim=4, output_dim=8, use_cross=True)
    layer, _ = run_layer_test(WideDeepHead, kwargs, (cat, num), (4, 8))
    # embedding 22*4 + deep (8*8+8) + bn 4*3 + wide (3*8+8) + cross (11*11+11) + cross_out (11*8+8)
    assert layer.count_params() == 88 + 72 + 12 + 32 + 132 + 96
    # The same id in two columns reads two different table rows.
    head = WideDeepHead([10, 10], 0, embedding_dim=4, output_dim=8)
    head(np.array([[1, 1]]))
    table = np.array(head.embedding.embeddings)
    ids = np.array(head._offsets) + 1
    assert not np.allclose(table[ids[0]], table[ids[1]])


def test_periodic_numerical_embeddings_follow_the_plr_formula():
    cat = RNG.integers(0, 10, size=(4, 2))
    num = RNG.normal(size=(4, 3)).astype("float32")
    kwargs = dict(
        vocab_sizes=[10, 12],
        num_numerical=3,
        embedding_dim=4,
        output_dim=8,
        numerical_embedding="periodic",
        periodic_frequencies=5,
    )
    layer, _ = run_layer_test(WideDeepHead, kwargs, (cat, num), (4, 8))
    # embedding 22*4 + frequencies 3*5 + periodic kernel 3*10*4 + bias 3*4
    # + deep over (2 categorical + 3 numerical) * 4 inputs (20*8+8) + bn 4*3 + wide (3*8+8)
    assert layer.count_params() == 88 + 15 + 120 + 12 + 168 + 12 + 32
    x = RNG.normal(size=(2, 3)).astype("float32")
    f, w, b = (np.array(v) for v in (layer.frequencies, layer.periodic_kernel, layer.periodic_bias))
    angles = 2 * np.pi * x[:, :, None] * f[None]
    expected = np.maximum(np.einsum("bmk,mke->bme", np.concatenate([np.cos(angles), np.sin(angles)], -1), w) + b, 0)
    got = np.array(layer._periodic_embeddings(x))
    np.testing.assert_allclose(got, expected.reshape(2, 12), atol=1e-5)


def test_categorical_widths_grow_with_the_fourth_root_of_the_vocabulary():
    # Up to 256 ids: embedding_dim; 5,000 ids: 16 * (5000/256) ** 0.25 = 33.6 -> 32; capped at 4x.
    assert [categorical_width(v, 16, "cardinality") for v in (5, 256, 3000, 5000, 10**9)] == [16, 16, 28, 32, 64]
    assert categorical_width(5000, 16) == 16  # ``fixed``: every column embedding_dim
    cat = np.stack([RNG.integers(0, 5, size=4), RNG.integers(0, 5000, size=4)], axis=1)
    num = RNG.normal(size=(4, 3)).astype("float32")
    kwargs = dict(
        vocab_sizes=[5, 5000],
        num_numerical=3,
        embedding_dim=16,
        output_dim=8,
        categorical_widths="cardinality",
        use_cross=True,
    )
    layer, _ = run_layer_test(WideDeepHead, kwargs, (cat, num), (4, 8))
    assert [tuple(t.embeddings.shape) for t in layer.embeddings] == [(5, 16), (5000, 32)]
    # The deep layer reads 16 + 32 embedded inputs; the cross branch those and the 3 numericals.
    assert tuple(layer.deep.kernel.shape) == (48, 8) and tuple(layer.cross.kernel.shape) == (51, 51)


def test_wide_deep_head_without_categoricals_or_numericals():
    run_layer_test(
        WideDeepHead,
        dict(vocab_sizes=[], num_numerical=2, embedding_dim=4, output_dim=8),
        (None, RNG.normal(size=(4, 2)).astype("float32")),
        (4, 8),
        mixed_precision=False,
    )
    run_layer_test(
        WideDeepHead,
        dict(vocab_sizes=[5], num_numerical=0, embedding_dim=4, output_dim=8),
        (RNG.integers(0, 5, size=(4, 1)), None),
        (4, 8),
        mixed_precision=False,
    )
    run_layer_test(
        WideDeepHead,
        dict(vocab_sizes=[], num_numerical=2, embedding_dim=4, output_dim=8, numerical_embedding="periodic"),
        (None, RNG.normal(size=(4, 2)).astype("float32")),
        (4, 8),
        mixed_precision=False,
    )


@pytest.mark.parametrize("num_blocks", [0, 1])  # 0: the small preset's (pooled embeddings)
def test_sequence_encoder_excludes_padding(num_blocks):
    kwargs = dict(vocab_size=30, output_dim=8, hidden_dim=16, num_blocks=num_blocks, num_query_heads=2)
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]])
    layer, _ = run_layer_test(SequenceEncoder, kwargs, ids, (3, 8))
    out = layer(ids)  # the harness trained the layer one step
    short = np.array(layer(ids[:, :2]))
    np.testing.assert_allclose(np.array(out)[0], short[0], atol=1e-5)  # trailing padding changes nothing
    np.testing.assert_allclose(np.array(out)[2], np.array(layer.projection.bias), atol=1e-6)  # empty -> zeros pooled


def test_task_sentence_embedding():
    ids = np.array([[0, 1], [2, 0], [4, 3]])
    layer, _ = run_layer_test(TaskSentenceEmbedding, dict(vocab_sizes=[5, 4], output_dim=8), ids, (3, 2, 8))
    out = layer(ids)
    np.testing.assert_allclose(np.array(out)[1, 0], np.array(layer.tables[0].embeddings)[2])
    np.testing.assert_allclose(np.array(out)[2, 1], np.array(layer.tables[1].embeddings)[3])


def test_task_towers_select_the_example_task():
    x = RNG.normal(size=(4, 6)).astype("float32")
    tasks = np.array([0, 1, 2, 1])
    layer, _ = run_layer_test(TaskTowers, dict(num_tasks=3, hidden_dim=8, tower_dim=4), (x, tasks), (4,))
    out = layer(x, tasks)
    # Changing task 2's head leaves the other examples' scores untouched.
    layer.w2.assign(np.array(layer.w2) * np.array([[1.0], [1.0], [3.0]]))
    new = np.array(layer(x, tasks))
    np.testing.assert_allclose(new[[0, 1, 3]], np.array(out)[[0, 1, 3]], atol=1e-6)
    assert not np.isclose(new[2], np.array(out)[2])


def test_text_encoder_from_scratch():
    ids = np.array([[5, 6, 7, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    kwargs = dict(
        vocab_size=40,
        max_tokens=6,
        output_dim=8,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        preset=None,
        trainable_backbone=True,
    )
    run_layer_test(TextEncoder, kwargs, ids, (2, 8))


def test_text_encoder_loads_a_local_preset(tmp_path):
    """A small random BERT preset written here, loaded back: nothing downloaded."""
    import keras_hub

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cheap", "phone", "deal", "plan", "5g"]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=8
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab)
    preset = str(tmp_path / "tiny_bert")
    backbone.save_to_preset(preset)
    tokenizer.save_to_preset(preset)

    loaded_tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    rows = [list(r) for r in loaded_tokenizer(["cheap 5g phone", "deal"])]
    assert rows[0] == [5, 9, 6] and rows[1] == [7]  # the preset's own vocabulary
    ids = np.array([r + [0] * (8 - len(r)) for r in rows])
    encoder = TextEncoder(vocab_size=len(vocab), max_tokens=8, output_dim=4, preset=preset)
    out = np.array(encoder(ids))
    assert out.shape == (2, 4)
    np.testing.assert_allclose(np.array(encoder.backbone.get_weights()[0]), np.array(backbone.get_weights()[0]))
    # Its pooled output is the backbone's masked mean, projected.
    mask = np.array(ids) != 0
    seq = np.array(
        backbone({"token_ids": ids, "padding_mask": mask, "segment_ids": np.zeros_like(ids)})["sequence_output"]
    )
    pooled = (seq * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(out, np.array(encoder.projection(pooled)), atol=1e-5)
    assert_config_complete(encoder, dict(preset=preset))


def test_expert_utilization_counts_per_task():
    metric = ExpertUtilization(num_experts=4, num_tasks=2)
    metric.update_state(np.array([[0, 1], [0, 2], [3, 0]]), np.array([0, 0, 1]))
    result = {k: float(v) for k, v in metric.result().items()}
    assert result["expert_0_share"] == pytest.approx(3 / 6)
    assert result["expert_3_share"] == pytest.approx(1 / 6)
    assert result["busiest_expert_share"] == pytest.approx(0.5)
    np.testing.assert_allclose(metric.shares_by_task(), [[0.5, 0.25, 0.25, 0.0], [0.5, 0.0, 0.0, 0.5]])
    metric.reset_state()
    assert float(metric.result()["busiest_expert_share"]) == 0.0
    assert_config_complete(metric, dict(num_experts=4, num_tasks=2))


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (MultiQueryAttention, dict(num_query_heads=0), "Received: `num_query_heads=0`"),
        (ParallelTransformerBlock, dict(num_query_heads=2, dropout=1.5), "Received: `dropout=1.5`"),
        (TaskSentenceEmbedding, dict(vocab_sizes=[]), "task list must not be empty"),
        (
            SequenceEncoder,
            dict(vocab_size=10, hidden_dim=10, num_query_heads=3),
            "`hidden_dim=10`, `num_query_heads=3`",
        ),
        (WideDeepHead, dict(vocab_sizes=[], num_numerical=0), "at least one categorical or numerical"),
        (
            WideDeepHead,
            dict(vocab_sizes=[5], num_numerical=0, categorical_widths="wide"),
            "Received: `categorical_widths='wide'`",
        ),
    ],
)
def test_bad_layer_arguments_fail_at_construction(cls, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        cls(**kwargs)


def test_width_not_divisible_by_heads_is_named():
    with pytest.raises(ValueError, match="Received: `width=30`, `num_query_heads=4`"):
        MultiQueryAttention(num_query_heads=4)(tf.zeros((1, 2, 30)))
