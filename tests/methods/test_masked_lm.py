"""MaskedLM: a fit step lowers the loss, .keras round trip, MirroredStrategy, bfloat16."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.encoders.bert import bert
from tfssl.methods.masked_lm import MaskedLM
from tfssl.methods.text_classifier import TextClassifier
from text_batches import L, P, V, fit_three_steps, masked_batch

B = 8


def _batch(seed=0):
    x, ids, w, _ = masked_batch(B, seed)
    return x, ids, w


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return MaskedLM(bert(V, num_layers=1, hidden_dim=16, num_heads=2, max_length=L,
                         dropout=0.0))


def test_fit_step_changes_weights_and_lowers_loss():
    x, y, w = _batch()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [v.numpy().copy() for v in model.trainable_weights]
    loss0 = float(model.compute_masked_lm_loss(x, y, w))
    hist = model.fit(x, y, sample_weight=w, batch_size=B, epochs=1, verbose=0)
    np.testing.assert_allclose(hist.history["loss"][0], loss0, rtol=1e-5)
    assert any(not np.allclose(a, v.numpy()) for a, v in zip(before, model.trainable_weights))
    assert float(model.compute_masked_lm_loss(x, y, w)) < loss0
    assert set(hist.history) == {"loss", "masked_accuracy", "perplexity"}
    np.testing.assert_allclose(hist.history["perplexity"][0], np.exp(loss0), rtol=1e-4)


def test_loss_ignores_padding_slots():
    x, y, w = _batch()
    model = _model()
    logits = model(x).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    expected = (nll * w).sum() / w.sum()
    np.testing.assert_allclose(float(model.compute_masked_lm_loss(x, y, w)), expected,
                               rtol=1e-5)
    y2 = y.copy()
    y2[w == 0] = 7  # targets on unused slots do not matter
    np.testing.assert_allclose(float(model.compute_masked_lm_loss(x, y2, w)), expected,
                               rtol=1e-5)


def test_keras_round_trip(tmp_path):
    x, y, w = _batch()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, sample_weight=w, batch_size=B, epochs=1, verbose=0)
    path = str(tmp_path / "mlm.keras")
    model.save(path)
    back = keras.saving.load_model(path)
    assert isinstance(back, MaskedLM)
    np.testing.assert_array_equal(back(x), model(x))
    # The head stays tied to the token embedding after loading.
    assert back.head.token_embedding is back.encoder.get_layer("token_embedding")
    assert len(back.trainable_weights) == len(model.trainable_weights)


def test_mirrored_strategy_same_loss_and_weights(cpu_strategy):
    """Two logical CPUs (tests/conftest.py) vs no strategy: same losses and weights."""
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        pytest.skip("needs two logical CPU devices")
    x, y, w = _batch()
    # Uneven slot counts between the two halves of the batch on purpose.
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(B).repeat(3)
    hist_1, weights_1 = fit_three_steps(_model, ds, tf.distribute.get_strategy(), 0.5)
    hist_2, weights_2 = fit_three_steps(_model, ds, cpu_strategy, 0.5)
    np.testing.assert_allclose(hist_2["loss"][0], hist_1["loss"][0], rtol=1e-5)
    for a, b in zip(weights_1, weights_2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_mixed_bfloat16_loss_is_float32():
    x, y, w = _batch()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _model()
        embedding = model.encoder.get_layer("token_embedding")
        assert embedding.compute_dtype == "bfloat16"
        logits = model(x)
        assert logits.dtype == tf.float32
        # The tied reverse projection itself runs in float32 (not bfloat16 then cast).
        hidden = tf.random.normal((2, 3, 16), dtype=tf.bfloat16)
        assert embedding(hidden, reverse=True).dtype == tf.float32
        loss = model.compute_masked_lm_loss(x, y, w)
        assert loss.dtype == tf.float32 and np.isfinite(float(loss))
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        hist = model.fit(x, y, sample_weight=w, batch_size=B, epochs=2, verbose=0)
        assert np.all(np.isfinite(hist.history["loss"]))
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("freeze", [False, True])
def test_text_classifier(freeze, tmp_path):
    keras.utils.set_random_seed(0)
    enc = bert(V, num_layers=1, hidden_dim=16, num_heads=2, max_length=L, dropout=0.0)
    model = TextClassifier(enc, num_classes=3, freeze_encoder=freeze)
    x, _, _ = _batch()
    labels = np.arange(B) % 3
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    enc_before = [v.numpy().copy() for v in enc.weights]
    loss0 = model.evaluate(x["token_ids"], labels, verbose=0)
    model.fit(x["token_ids"], labels, epochs=3, batch_size=B, verbose=0)
    assert model.evaluate(x["token_ids"], labels, verbose=0) < loss0
    enc_same = all(np.array_equal(a, v.numpy()) for a, v in zip(enc_before, enc.weights))
    assert enc_same == freeze
    path = str(tmp_path / "clf.keras")
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x["token_ids"]), model(x["token_ids"]))
    # The loaded model trains what the saved one trained, with the saved optimizer state
    # (a frozen encoder's keras-hub sublayers had come back trainable).
    assert ([v.path for v in loaded.trainable_variables]
            == [v.path for v in model.trainable_variables])
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    enc_loaded = [v.numpy().copy() for v in loaded.encoder.weights]
    loaded.fit(x["token_ids"], labels, epochs=1, batch_size=B, verbose=0)
    enc_same = all(np.array_equal(a, v.numpy())
                   for a, v in zip(enc_loaded, loaded.encoder.weights))
    assert enc_same == freeze
