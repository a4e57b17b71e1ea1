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
