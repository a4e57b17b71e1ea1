import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.encoders import resnet
from tfssl.layers import BatchNormalization, ProjectionHead


def _pair(shape, seed=0, **kwargs):
    """A Keras and a tfssl batch norm with the same random weights."""
    rng = np.random.default_rng(seed)
    ref, fused = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    ref.build(shape)
    fused.build(shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in ref.weights]
    weights[-1] = np.abs(weights[-1]) + 0.5  # moving variance
    ref.set_weights(weights)
    fused.set_weights(weights)
    return ref, fused


def _forward_backward(layer, x, upstream, training, jit):
    @tf.function(jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        return y, tape.gradient(loss, [x] + layer.trainable_weights)
    return step(x)


def _op_types(layer, x, training, mask=None):
    fn = tf.function(lambda x: layer(x, training=training, mask=mask))
    return {op.type for op in fn.get_concrete_function(x).graph.get_operations()}


@pytest.mark.parametrize("shape", [(6, 5, 4, 7), (9, 8), (3, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_keras_batch_norm(shape, training, jit, affine):
    rng = np.random.default_rng(1)
    ref, fused = _pair(shape, momentum=0.9, epsilon=1e-5, center=affine, scale=affine)
    x = tf.constant(rng.normal(1.5, 3.0, size=shape).astype("float32"))
    upstream = rng.normal(size=shape).astype("float32")
    initial_variance = ref.moving_variance.numpy()
    y_ref, g_ref = _forward_backward(ref, x, upstream, training, jit)
    y, g = _forward_backward(fused, x, upstream, training, jit)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    assert len(g) == len(g_ref) == 1 + 2 * affine
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
    # Moving statistics: updated (biased variance) in training, untouched otherwise.
    for a, b in zip(fused.non_trainable_weights, ref.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    if training:
        x2 = x.numpy().reshape(-1, shape[-1])
        expected = 0.9 * initial_variance + 0.1 * x2.var(axis=0)  # biased variance
        np.testing.assert_allclose(fused.moving_variance.numpy(), expected, rtol=1e-4)


def test_single_row_has_zero_variance_as_in_keras():
    ref, fused = _pair((1, 4))
    x = np.arange(4, dtype="float32")[None]
    np.testing.assert_allclose(fused(x, training=True), ref(x, training=True), atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(),
                               rtol=1e-6)
    assert np.isfinite(fused.moving_variance.numpy()).all()


def test_bfloat16_inputs_computed_in_float32_as_keras():
    ref, fused = _pair((8, 4, 4, 6), dtype="mixed_bfloat16")
    x = tf.cast(np.random.default_rng(2).normal(size=(8, 4, 4, 6)), tf.bfloat16)
    y, y_ref = fused(x, training=True), ref(x, training=True)
    assert y.dtype == y_ref.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(y_ref, tf.float32))
    np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(),
                               rtol=1e-6)


def test_takes_the_fused_kernel_only_where_it_applies():
    x = tf.zeros((4, 3, 3, 5))
    for training in (True, False):
        assert "FusedBatchNormV3" in _op_types(_pair(x.shape)[1], x, training)
    assert "FusedBatchNormV3" in _op_types(_pair((4, 5))[1], tf.zeros((4, 5)), True)
    # Keras's own path: synchronised statistics, a mask, another axis.
    assert "FusedBatchNormV3" not in _op_types(
        _pair(x.shape, synchronized=True)[1], x, True)
    assert "FusedBatchNormV3" not in _op_types(
        _pair(x.shape)[1], x, True, mask=tf.ones((4, 3, 3), bool))
    assert "FusedBatchNormV3" not in _op_types(_pair(x.shape, axis=1)[1], x, True)


def test_fallbacks_match_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    for kwargs in (dict(axis=1), dict(synchronized=True)):
        ref, fused = _pair(x.shape, **kwargs)
        np.testing.assert_allclose(fused(x, training=True), ref(x, training=True),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(fused.moving_mean.numpy(), ref.moving_mean.numpy())


def test_config_and_keras_file_round_trip(tmp_path):
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, name="bn")
    config = layer.get_config()
    assert config == {**keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, center=False, name="bn").get_config(), **config}
    model = keras.Sequential([keras.Input((3, 3, 2)), layer])
    x = np.random.default_rng(4).normal(size=(5, 3, 3, 2)).astype("float32")
    model(x, training=True)  # moves the statistics
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert type(again.layers[0]) is BatchNormalization
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6, atol=1e-6)


def test_encoders_and_heads_use_it():
    model = resnet(18, image_size=8, width=0.125)
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(norms) == 20 and all(type(l) is BatchNormalization for l in norms)
    head = ProjectionHead(4, 8, 2)
    head.build((None, 3))
    assert all(type(n) is BatchNormalization for n in head.norm_layers)


def test_encoder_saved_with_keras_batch_norm_still_loads(tmp_path, monkeypatch):
    resnet_module = importlib.import_module("tfssl.encoders.resnet")
    monkeypatch.setattr(resnet_module, "BatchNormalization", keras.layers.BatchNormalization)
    old = resnet(18, image_size=8, width=0.125)
    monkeypatch.undo()
    assert type(old.get_layer("stem_bn")) is keras.layers.BatchNormalization
    x = np.random.default_rng(5).uniform(size=(3, 8, 8, 3)).astype("float32")
    old(x, training=True)
    old.save(tmp_path / "old.keras")
    again = keras.saving.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(again(x), old(x), rtol=1e-6, atol=1e-6)
    # Its weights also drop into today's encoder, which computes the same features.
    new = resnet(18, image_size=8, width=0.125)
    new.set_weights(again.get_weights())
    np.testing.assert_allclose(new(x), old(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new(x, training=True), old(x, training=True),
                               rtol=1e-4, atol=1e-4)
