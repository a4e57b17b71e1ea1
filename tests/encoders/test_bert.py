"""BERT encoder: outputs, padding, presets, serialisation."""

import keras
import numpy as np
import pytest

from tfssl.encoders.bert import BERT_PRESETS, bert, bert_tiny, get_text_encoder
from tfssl.errors import UsageError


def _ids(batch=3, length=10, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (batch, length)).astype("int32")
    ids[:, 0] = 2
    return ids


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_outputs_and_padding_invariance(pooling):
    enc = bert(50, num_layers=1, hidden_dim=16, num_heads=2, max_length=32, dropout=0.0,
               pooling=pooling)
    ids = _ids()
    out = enc(ids)
    assert out["sequence_output"].shape == (3, 10, 16)
    assert out["pooled_output"].shape == (3, 16)
    padded = np.concatenate([ids, np.zeros((3, 6), "int32")], axis=1)
    out_p = enc(padded)
    np.testing.assert_allclose(out_p["pooled_output"], out["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(out_p["sequence_output"][:, :10], out["sequence_output"],
                               atol=1e-5)


def test_presets_sizes():
    enc = get_text_encoder("bert_mini", vocab_size=100, max_length=16)
    layers = [l for l in enc.layers if l.name.startswith("transformer_layer_")]
    assert len(layers) == BERT_PRESETS["bert_mini"]["num_layers"] == 4
    assert enc.output["pooled_output"].shape[-1] == 256
    assert layers[0].num_heads == 4 and layers[0].intermediate_dim == 1024
    assert set(BERT_PRESETS) == {"bert_tiny", "bert_mini", "bert_small", "bert_base"}
    assert enc.get_layer("token_embedding").input_dim == 100


def test_keras_round_trip(tmp_path):
    enc = bert_tiny(60, max_length=16)
    ids = _ids(vocab=60)
    path = str(tmp_path / "enc.keras")
    enc.save(path)
    back = keras.saving.load_model(path)
    for k in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(back(ids)[k], enc(ids)[k])


def test_bad_arguments():
    with pytest.raises(UsageError, match="divisible"):
        bert(50, hidden_dim=10, num_heads=3)
    with pytest.raises(UsageError, match="unknown text encoder"):
        get_text_encoder("bert_huge", 50)


@pytest.mark.parametrize("jit", [False, True])
def test_gelu_approximate_is_kerass_tanh_gelu_with_its_gradient(jit):
    import tensorflow as tf

    from tfssl.encoders.bert import gelu_approximate

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(0.0, 3.0, size=(64, 33)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(64, 33)).astype("float32"))

    def value_and_grad(f):
        @tf.function(jit_compile=jit)
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = f(x)
                loss = tf.reduce_sum(y * upstream)
            return y, tape.gradient(loss, x)
        return run(x)

    y, g = value_and_grad(gelu_approximate)
    y_ref, g_ref = value_and_grad(lambda x: keras.activations.gelu(x, approximate=True))
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5)
    # bfloat16 in, bfloat16 out, close to the float32 values.
    y16 = gelu_approximate(tf.cast(x, tf.bfloat16))
    assert y16.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y16, tf.float32), y_ref, rtol=2e-2, atol=2e-2)
