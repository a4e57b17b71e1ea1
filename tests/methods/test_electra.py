"""Electra: replaced-token labels, sampling, a fit step, .keras round trip, two logical
CPUs against one device (uneven slots and batches), bfloat16, and a run through the
library runner."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.encoders.bert import bert
from tfssl.methods.electra import Electra, scatter_slots
from tfssl.text.vocab import SPECIAL_TOKENS
from text_batches import L, P, V, fit_three_steps, masked_batch


def _model(seed=0, pre_norm=True):
    keras.utils.set_random_seed(seed)
    return Electra(bert(V, num_layers=1, hidden_dim=16, num_heads=2, max_length=L,
                        dropout=0.0, normalize_first=pre_norm), seed=3)


def test_scatter_slots_restores_the_original_rows():
    x, y, w, tok = masked_batch()
    at, original = scatter_slots(tf.constant(x["token_ids"]), tf.constant(x["mask_positions"]),
                                 tf.constant(y), tf.constant(w))
    expected = x["token_ids"].copy()
    for b in range(len(w)):
        for s in range(P):
            if w[b, s] > 0:
                expected[b, x["mask_positions"][b, s]] = tok[b, x["mask_positions"][b, s]]
    np.testing.assert_array_equal(original.numpy(), expected)
    assert int(tf.reduce_sum(tf.cast(at, tf.int32))) == int(w.sum())


def test_sampling_follows_the_generator_and_never_draws_special_tokens():
    model = _model()
    # Every slot's distribution puts (almost) all mass on [PAD] and the rest on id 7.
    logits = np.full((4, P, V), -30.0, "float32")
    logits[..., 0] = 30.0
    logits[..., 7] = 0.0
    drawn = model.sample(tf.constant(logits), training=False).numpy()
    assert (drawn == 7).all()
    # A flat distribution: only non-special ids, spread over many of them.
    drawn = model.sample(tf.zeros((64, P, V)), training=False).numpy()
    assert drawn.min() >= len(SPECIAL_TOKENS) and drawn.max() < V
    assert len(np.unique(drawn)) > V // 2


def test_replaced_labels_count_only_changed_tokens():
    """A generator that is always right replaces nothing: the discriminator's targets
    are all 0 and replaced_fraction is 0."""
    x, y, w, _ = masked_batch()
    model = _model()
    onehot = tf.one_hot(y, V) * 1e4
    model.generator_logits = lambda inputs, training=None: onehot
    _, logs = model.compute_loss_and_logs((x, y, w), training=False)
    assert float(logs["replaced_fraction"][0]) == 0.0
    assert float(logs["masked_accuracy"][0]) == 1.0


def test_replaced_recall_is_the_share_of_replaced_tokens_flagged():
    """A generator that is always wrong replaces every real slot; a discriminator that
    flags everything has recall 1, one on the prior plateau ("all original") recall 0
    and accuracy 1 - replaced_fraction."""
    x, y, w, _ = masked_batch()
    model = _model()
    wrong = tf.one_hot(5 + (y - 4) % (V - 5), V) * 1e4
    model.generator_logits = lambda inputs, training=None: wrong
    for sign, recall in ((1.0, 1.0), (-1.0, 0.0)):
        model.discriminator_logits = \
            lambda ids, training=None, s=sign: s * 1e3 * tf.ones(tf.shape(ids))
        _, logs = model.compute_loss_and_logs((x, y, w), training=False)
        replaced, count = (float(v) for v in logs["replaced_fraction"])
        np.testing.assert_allclose(replaced * count, w.sum(), rtol=1e-6)
        assert float(logs["replaced_recall"][0]) == recall
        assert float(logs["replaced_recall"][1]) == w.sum()
        if sign < 0:
            np.testing.assert_allclose(float(logs["replaced_accuracy"][0]), 1 - replaced)


def test_fit_lowers_loss_and_logs_both_networks():
    x, y, w, _ = masked_batch()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    first = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0,
                           return_dict=True)
    hist = model.fit(x, y, sample_weight=w, batch_size=8, epochs=5, verbose=0)
    assert set(hist.history) == {"loss", "masked_accuracy", "perplexity",
                                 "discriminator_loss", "replaced_accuracy",
                                 "replaced_fraction", "replaced_recall"}
    after = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0,
                           return_dict=True)
    assert after["loss"] < first["loss"]
    assert after["discriminator_loss"] < first["discriminator_loss"]
    assert 0.0 < first["replaced_fraction"] < 1.0
    # loss = generator cross-entropy + 50 x discriminator loss
    np.testing.assert_allclose(first["loss"], np.log(first["perplexity"])
                               + 50.0 * first["discriminator_loss"], rtol=1e-4)


def test_keras_round_trip(tmp_path):
    x, y, w, _ = masked_batch()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "electra.keras")
    model.save(path)
    back = keras.saving.load_model(path)
    assert isinstance(back, Electra) and back.seed == 3 and back.generator_layers == 1
    np.testing.assert_array_equal(back(x), model(x))
    np.testing.assert_array_equal(back.discriminator_logits(x["token_ids"]),
                                  model.discriminator_logits(x["token_ids"]))
    embedding = back.encoder.get_layer("token_embedding")
    assert back.generator_head.token_embedding is embedding
    assert back.embed.get_layer("token_embedding") is embedding
    assert len(back.trainable_weights) == len(model.trainable_weights)
    # The generator shares the embeddings: no variable twice.
    assert len({id(v) for v in model.trainable_weights}) == len(model.trainable_weights)


def test_mirrored_strategy_same_loss_and_weights(cpu_strategy, batch=7):
    """Two logical CPUs vs no strategy: same losses and weights, also when the replicas
    hold different numbers of rows (7 = 4 + 3) and of mask slots; the sampled tokens
    are the same because each row's uniforms do not depend on the split."""
    if len(tf.config.list_logical_devices("CPU")) < 2:
        pytest.skip("needs two logical CPU devices")
    x, y, w, _ = masked_batch(b=batch)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(batch).repeat(3)
    hist_1, weights_1 = fit_three_steps(_model, ds, tf.distribute.get_strategy(), 0.1)
    hist_2, weights_2 = fit_three_steps(_model, ds, cpu_strategy, 0.1)
    for name in ("loss", "discriminator_loss", "replaced_fraction", "masked_accuracy"):
        np.testing.assert_allclose(hist_2[name][0], hist_1[name][0], rtol=1e-5)
    for a, b in zip(weights_1, weights_2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_mixed_bfloat16_logits_and_loss_are_float32():
    x, y, w, _ = masked_batch()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _model()
        assert model(x).dtype == tf.float32
        assert model.discriminator_logits(x["token_ids"]).dtype == tf.float32
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        hist = model.fit(x, y, sample_weight=w, batch_size=8, epochs=2, verbose=0)
        assert np.all(np.isfinite(hist.history["loss"]))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_runner_pretrains_and_exports_the_discriminator(tmp_path, monkeypatch):
    import tfssl
    from tfssl.methods.text_classifier import load_run
    from tfssl.presets import resolve_settings

    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "train.txt"
    corpus.write_text("\n".join(f"line {i}: the {w} model reads text and finds the "
                                f"replaced {w} words" for i, w in
                                enumerate(["quick", "slow", "tiny", "large"] * 10)))
    run = tmp_path / "run"
    metrics = tfssl.pretrain(resolve_settings(
        method="electra", dataset=f"textfile:{corpus}", encoder="bert_tiny",
        max_length=16, vocab_size=120, epochs=1, steps_per_epoch=2, batch_size=4,
        model_dir=str(run), precision="float32"))
    v = metrics["validation"]
    assert 0.0 <= v["masked_accuracy"] <= 1.0 and 0.0 <= v["replaced_accuracy"] <= 1.0
    config = json.loads((run / "config.json").read_text())
    assert config["method"] == "electra" and config["discriminator_weight"] == 50.0
    _, vocab, encoder = load_run(str(run))  # what fine-tuning reads: the discriminator
    assert encoder.get_layer("token_embedding").input_dim == len(vocab)
    assert (run / "export" / "encoder" / "saved_model.pb").is_file()
