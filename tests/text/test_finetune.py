"""The fine-tuning path: layer-wise LR decay, classifier pooling, the label-fraction
transfer protocol (held-out selection split, learning-rate grid, pretrained vs scratch)."""

import keras
import numpy as np
import pytest

from tfssl.data.text import LabeledText
from tfssl.encoders.bert import bert
from tfssl.errors import UsageError
from tfssl.methods.text_classifier import (
    LayerDecayAdamW, TextClassifier, check_finetune_settings, copy_encoder,
    finetune_text_classifier, holdout_split, layer_depth, reinit_top_layers,
    select_and_finetune, transfer_curve)
from tfssl.text.vocab import train_vocabulary

from suite_helpers import raises_one_line_usage_error

POS = ["a wonderful and moving film", "great acting and a clever plot", "loved it",
       "a joy to watch", "funny warm and smart", "a moving and clever story"]
NEG = ["a dull and lifeless film", "terrible acting and a silly plot", "hated it",
       "a chore to sit through", "boring cold and stupid", "a silly and dull story"]


def _data(n=2):
    texts = (POS + NEG) * n
    labels = ([1] * len(POS) + [0] * len(NEG)) * n
    return LabeledText(texts, labels, ["0", "1"])


def _encoder(vocab_size, seed=0, pooling="mean"):
    keras.utils.set_random_seed(seed)
    return bert(vocab_size, num_layers=2, hidden_dim=16, num_heads=2, max_length=16,
                dropout=0.0, pooling=pooling)


def test_layer_depth():
    assert layer_depth("token_embedding/embeddings", 2) == 0
    assert layer_depth("embeddings_layer_norm/gamma", 2) == 0
    assert layer_depth("transformer_layer_0/self_attention_layer/query/kernel", 2) == 1
    assert layer_depth("transformer_layer_1/feedforward_output_dense/bias", 2) == 2
    assert layer_depth("classifier/kernel", 2) == 3
    assert layer_depth("pooled_dense/kernel", 2) == 3


def test_layer_decay_scales_each_depth():
    """Adam's first step moves every weight with a non-zero gradient by about lr: with
    layer decay d, a variable at depth k moves by lr * d ** (num_layers + 1 - k)."""
    vocab_size, lr, decay = 30, 1e-2, 0.5
    enc = _encoder(vocab_size)
    model = TextClassifier(enc, 2, dropout=0.0)
    opt = LayerDecayAdamW(lr, layer_decay=decay, num_layers=2, weight_decay=0.0,
                          epsilon=1e-12)
    model.compile(optimizer=opt,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).integers(5, vocab_size, (8, 16)).astype("int32")
    y = np.arange(8) % 2
    names = {"classifier/kernel": 0, "transformer_layer_1/feedforward_output_dense/kernel":
             1, "transformer_layer_0/feedforward_output_dense/kernel": 2,
             "position_embedding/embeddings": 3}
    var = {v.path: v for v in model.trainable_variables}
    before = {n: var[n].numpy().copy() for n in names}
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for n, power in names.items():
        step = np.abs(var[n].numpy() - before[n])
        np.testing.assert_allclose(step.max(), lr * decay ** power, rtol=0.02)
    config = opt.get_config()
    assert config["layer_decay"] == decay and config["num_layers"] == 2


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_classifier_pooling_and_round_trip(pooling, tmp_path):
    enc = _encoder(30)
    x = np.random.default_rng(1).integers(5, 30, (4, 16)).astype("int32")
    x[0, 9:] = 0
    model = TextClassifier(enc, 2, dropout=0.0, pooling=pooling)
    seq = enc(x)["sequence_output"].numpy()
    if pooling == "mean":  # the classifier's mean equals the encoder's masked mean
        expected = enc(x)["pooled_output"].numpy()
    else:
        expected = seq[:, 0]
    w, b = model.classifier.get_weights()
    np.testing.assert_allclose(model(x).numpy(), expected @ w + b, rtol=1e-4, atol=1e-5)
    path = str(tmp_path / "clf.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    assert again.pooling == pooling
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError):
        TextClassifier(enc, 2, pooling="max")


@pytest.mark.parametrize("normalize_first", [False, True])
def test_reinit_top_layers(normalize_first):
    """The top K blocks (and a pre-norm final layer norm) get a new initialisation, the
    same one as a fresh copy of the architecture; the blocks below and the embeddings
    keep their weights."""
    keras.utils.set_random_seed(0)
    enc = bert(30, num_layers=2, hidden_dim=16, num_heads=2, max_length=16, dropout=0.0,
               normalize_first=normalize_first)
    for layer in enc.layers:  # "pretrained": every weight away from its initial value
        layer.set_weights([w + 0.5 for w in layer.get_weights()])
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in enc.layers}
    fresh = copy_encoder(enc, fresh=True, seed=3)
    assert reinit_top_layers(enc, 1, seed=3) is enc
    changed = {"transformer_layer_1"} | ({"final_layer_norm"} if normalize_first else set())
    for layer in enc.layers:
        now = layer.get_weights()
        if layer.name in changed:
            for a, b in zip(now, fresh.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
        else:
            for a, b in zip(now, before[layer.name]):
                np.testing.assert_array_equal(a, b)
    reinit_top_layers(enc, 2, seed=3)  # the whole depth: only the embeddings stay
    np.testing.assert_array_equal(enc.get_layer("token_embedding").get_weights()[0],
                                  before["token_embedding"][0])
    for a, b in zip(enc.get_layer("transformer_layer_0").get_weights(),
                    fresh.get_layer("transformer_layer_0").get_weights()):
        np.testing.assert_array_equal(a, b)
    for bad in (-1, 3, 1.5):
        with pytest.raises(UsageError, match="reinit_layers"):
            reinit_top_layers(enc, bad)


def test_finetune_bad_settings():
    data = _data()
    vocab = train_vocabulary(data.texts, 60)
    for kw in (dict(layer_decay=0.0), dict(layer_decay=1.5), dict(warmup_fraction=1.0)):
        with pytest.raises(UsageError):
            finetune_text_classifier(_encoder(len(vocab)), vocab, data, data, steps=1, **kw)
    with pytest.raises(UsageError):
        select_and_finetune(_encoder(len(vocab)), vocab, data, data, data, [])


def test_finetune_traces_the_train_step_once(monkeypatch):
    """The optimizer is built before ``fit``; built inside the first trace, it made
    ``tf.function`` trace the whole BERT step twice (seconds per fine-tuning)."""
    traces, step = [], TextClassifier.train_step
    monkeypatch.setattr(TextClassifier, "train_step",
                        lambda self, data: traces.append(1) or step(self, data))
    data = _data()
    vocab = train_vocabulary(data.texts, 60)
    _, metrics = finetune_text_classifier(_encoder(len(vocab)), vocab, data, data,
                                          max_length=16, steps=3, batch_size=4, verbose=0)
    assert len(traces) == 1 and metrics["steps"] == 3


def test_select_every_keeps_the_weights_that_scored_best():
    """``select_every`` scores the selection split every K steps (Keras logs it as
    ``val_accuracy``) and ends with the weights of the best point: the split's accuracy
    after training is that best score, and ``select_step`` names its step."""
    data, select = _data(2), _data(1)
    vocab = train_vocabulary(data.texts, 60)
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(logs["val_accuracy"]))
    _, m = finetune_text_classifier(
        _encoder(len(vocab)), vocab, data, _data(1), max_length=16, steps=12,
        batch_size=4, learning_rate=3e-2, select=select, select_every=3,
        callbacks=[record], verbose=0)
    assert len(seen) == 4 and m["steps"] == 12
    best = int(np.argmax(seen))  # the first of equal scores
    assert m["select_step"] == 3 * (best + 1)
    assert m["select_accuracy"] == pytest.approx(seen[best], abs=1e-6)
    _, last = finetune_text_classifier(
        _encoder(len(vocab)), vocab, data, _data(1), max_length=16, steps=12,
        batch_size=4, learning_rate=3e-2, select=select, verbose=0)
    assert "select_step" not in last and 0.0 <= last["select_accuracy"] <= 1.0
    for bad in (dict(select_every=5), dict(select_every=3, select=None),
                dict(select_every=-3)):
        kw = {"select": select, **bad}
        with pytest.raises(UsageError, match="select_every"):
            finetune_text_classifier(_encoder(len(vocab)), vocab, data, data, steps=12,
                                     max_length=16, **kw)


def test_head_steps_train_the_classifier_on_the_frozen_encoder_first():
    """LP-FT: ``head_steps`` of the classifier alone (the encoder does not move), then
    every weight trains, with the encoder's trainable flags as they were."""
    data = _data(2)
    vocab = train_vocabulary(data.texts, 60)

    def run(head_steps):
        enc = _encoder(len(vocab))
        before = [w.copy() for w in enc.get_weights()]
        # A negligible rate for the second phase: what moves, moved in the first.
        model, m = finetune_text_classifier(
            enc, vocab, data, data, max_length=16, steps=1, batch_size=4,
            learning_rate=1e-12, head_steps=head_steps, verbose=0)
        moved = max(float(np.max(np.abs(a - b))) for a, b in zip(enc.get_weights(), before))
        return model, m, moved

    model, m, moved = run(4)
    assert m["head_steps"] == 4 and moved < 1e-6
    assert float(np.max(np.abs(model.classifier.get_weights()[1]))) > 1e-4  # the bias
    assert len(model.trainable_variables) == len(model.encoder.weights) + 2
    assert all(layer.trainable for layer in
               model.encoder._flatten_layers(include_self=True, recursive=True))
    plain, m0, _ = run(0)
    assert m0["head_steps"] == 0
    assert float(np.max(np.abs(plain.classifier.get_weights()[1]))) < 1e-6
    with pytest.raises(UsageError, match="head_steps"):
        finetune_text_classifier(_encoder(len(vocab)), vocab, data, data, steps=1,
                                 head_steps=-1)


def test_holdout_split_balanced_and_disjoint():
    data = _data(10)  # 60 positive, 60 negative
    rest, held = holdout_split(data, 20, seed=3)
    assert len(held) == 20 and len(rest) == 100
    assert sorted(np.bincount(held.labels)) == [10, 10]
    again_rest, again_held = holdout_split(data, 20, seed=3)
    assert again_held.texts == held.texts and again_rest.texts == rest.texts
    with pytest.raises(UsageError):
        holdout_split(data, 120)


def test_transfer_curve_tiny():
    data = _data(4)
    vocab = train_vocabulary(data.texts, 60)
    enc = _encoder(len(vocab))
    before = [w.copy() for w in enc.get_weights()]
    curve = transfer_curve(enc, vocab, data, _data(1), fractions=(0.5,),
                           learning_rates=(1e-3, 3e-3), select_size=8, steps=3,
                           batch_size=4, max_length=16, layer_decays=(0.8, 1.0),
                           verbose=0)
    assert sorted(curve) == [0.5]
    for fraction, row in curve.items():
        assert set(row) == {"pretrained", "scratch"}
        for r in row.values():
            assert r["learning_rate"] in (1e-3, 3e-3)
            # The grid: every decay with every rate, each side choosing its own.
            assert [(g["layer_decay"], g["learning_rate"]) for g in r["grid"]] == [
                (0.8, 1e-3), (0.8, 3e-3), (1.0, 1e-3), (1.0, 3e-3)]
            chosen = [g for g in r["grid"] if g["learning_rate"] == r["learning_rate"]
                      and g["layer_decay"] == r["layer_decay"]]
            assert chosen[0]["accuracy"] == r["accuracy"]
            assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["select_accuracy"] <= 1.0
            best = max(g["select_accuracy"] for g in r["grid"])
            assert r["select_accuracy"] == best
        assert row["pretrained"]["num_train"] == 20
    # Every rate trains a copy: the encoder given is left as it was.
    for a, b in zip(before, enc.get_weights()):
        np.testing.assert_array_equal(a, b)


FLAG_NAMES = {"steps": "--finetune_steps", "layer_decay": "--layer_decay",
              "head_steps": "--finetune_head_steps", "select_every": "--finetune_select_every"}


@pytest.mark.parametrize("settings,message,flag_message,finetune", [
    (dict(steps=0), "steps=0: expected a whole number >= 1",
     "--finetune_steps=0: expected a whole number >= 1", dict(steps=0)),
    (dict(layer_decays=["0.8", "0"]), "layer_decay=0: expected 0 < decay <= 1",
     "--layer_decay=0: expected 0 < decay <= 1", dict(layer_decay="0")),
    (dict(layer_decays=["x"]), "layer_decay=x: expected 0 < decay <= 1",
     "--layer_decay=x: expected 0 < decay <= 1", dict(layer_decay="x")),
    (dict(layer_decays=[]), "layer_decay: expected at least one decay",
     "--layer_decay: expected at least one decay", None),
    (dict(head_steps=-1), "head_steps=-1: expected a whole number >= 0",
     "--finetune_head_steps=-1: expected a whole number >= 0", dict(head_steps=-1)),
    (dict(steps=600, select_every=7, selecting=True),
     "select_every=7: expected 0 or a divisor of steps=600, with a selection split",
     "--finetune_select_every=7: expected 0 or a divisor of --finetune_steps=600, with "
     "a selection split", dict(steps=600, select_every=7, select=True)),
    (dict(steps=600, select_every=100), "select_every=100: expected 0 or a divisor of "
     "steps=600, with a selection split", None, dict(steps=600, select_every=100)),
    (dict(warmup_fraction=1.0), "warmup_fraction=1.0: expected 0 <= f < 1", None,
     dict(warmup_fraction=1.0)),
])
def test_one_rule_for_the_finetuning_settings(settings, message, flag_message, finetune):
    """check_finetune_settings is the rule finetune_text_classifier applies (before any
    tokenising) and the one benchmarks/mlm_transfer.py applies before its pretraining,
    there in its flags' names."""
    with raises_one_line_usage_error(message):
        check_finetune_settings(**settings)
    if flag_message:
        with raises_one_line_usage_error(flag_message):
            check_finetune_settings(**settings, names=FLAG_NAMES)
    if finetune:
        data = _data()
        kwargs = {"steps": 2, **finetune}
        kwargs["select"] = data if kwargs.pop("select", False) else None
        with raises_one_line_usage_error(message):
            finetune_text_classifier(_encoder(10), ["[PAD]", "[UNK]"], data, data,
                                     verbose=0, **kwargs)
    assert check_finetune_settings(layer_decays=["0.8", 1]) == [0.8, 1.0]
