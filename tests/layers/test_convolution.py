import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.encoders import resnet
from tfssl.layers import Conv2D


def _pair(kernel_size, filters=5, shape=(3, 7, 6, 4), **kwargs):
    """A Keras and a tfssl Conv2D with the same random weights."""
    ref = keras.layers.Conv2D(filters, kernel_size, **kwargs)
    fast = Conv2D(filters, kernel_size, **kwargs)
    ref.build(shape)
    fast.build(shape)
    fast.set_weights(ref.get_weights())
    return ref, fast


def _forward_backward(layer, x, upstream, jit):
    @tf.function(jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(layer(x), tf.float32) * upstream)
        return layer(x), tape.gradient(loss, [x] + layer.trainable_weights)
    return step(x)


def _op_types(fn, *args):
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph
            .get_operations()}


@pytest.mark.parametrize("kernel_size", [1, 3, (3, 5), 7])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("jit", [False, True])
def test_matches_keras_conv(kernel_size, strides, use_bias, jit):
    rng = np.random.default_rng(0)
    shape = (3, 8, 6, 4) if strides == 2 else (3, 7, 6, 4)
    ref, fast = _pair(kernel_size, shape=shape, padding="same", use_bias=use_bias,
                      strides=strides)
    assert fast._fast_gradient(shape)
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    upstream = rng.normal(size=ref.compute_output_shape(shape)).astype("float32")
    y_ref, g_ref = _forward_backward(ref, x, upstream, jit)
    y, g = _forward_backward(fast, x, upstream, jit)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    assert len(g) == len(g_ref) == 2 + use_bias
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize("strides", [1, 2])
def test_input_gradient_is_a_forward_convolution(strides):
    _, fast = _pair(3, shape=(3, 8, 6, 4), padding="same", strides=strides)
    x = tf.random.normal((3, 8, 6, 4))

    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fast(x)
        return tape.gradient(y, [x, fast.kernel])

    ops = _op_types(grad, x)
    assert "Conv2DBackpropInput" not in ops and "Conv2DBackpropFilter" in ops
    # Second derivatives exist (both gradient ops are differentiable).
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(fast(x) ** 2)
        dx = inner.gradient(y, x)
        z = tf.reduce_sum(dx ** 2)
    assert outer.gradient(z, x) is not None


@pytest.mark.parametrize("kwargs", [dict(padding="same", strides=2),  # odd height
                                    dict(padding="same", strides=2, shape=(2, 32, 32, 4)),
                                    dict(padding="same", strides=3, shape=(2, 6, 6, 4)),
                                    dict(padding="valid"),
                                    dict(padding="same", dilation_rate=2),
                                    dict(padding="same", kernel_size=2)])
def test_other_configurations_run_keras(kwargs):
    kernel_size = kwargs.pop("kernel_size", 3)
    shape = kwargs.pop("shape", (3, 7, 6, 4))
    rng = np.random.default_rng(1)
    ref, fast = _pair(kernel_size, shape=shape, **kwargs)
    assert not fast._fast_gradient(shape)
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    y_ref = ref(x)
    y = fast(x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    _, g = _forward_backward(fast, x, np.ones(y.shape, "float32"), False)
    _, g_ref = _forward_backward(ref, x, np.ones(y.shape, "float32"), False)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


def test_bfloat16_and_round_trip(tmp_path):
    ref, fast = _pair(3, padding="same", dtype="mixed_bfloat16")
    x = tf.random.normal((3, 7, 6, 4))
    upstream = np.ones((3, 7, 6, 5), "float32")
    y_ref, g_ref = _forward_backward(ref, x, upstream, False)
    y, g = _forward_backward(fast, x, upstream, False)
    assert y.dtype == y_ref.dtype == tf.bfloat16
    assert [v.dtype for v in g] == [v.dtype for v in g_ref] == [tf.float32] * 3
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2 * np.abs(b).max())
    inputs = keras.Input((7, 6, 4))
    model = keras.Model(inputs, Conv2D(5, 3, padding="same")(inputs))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[-1], Conv2D)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_resnet_takes_forward_kernels_for_input_gradients():
    encoder = resnet(18, 32, 3)
    convs = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(isinstance(layer, Conv2D) for layer in convs)
    x = tf.random.normal((2, 32, 32, 3))

    def grad(x):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(encoder(x, training=True))
        return tape.gradient(y, encoder.trainable_weights)

    ops = [op.type for op in tf.function(grad).get_concrete_function(x).graph
           .get_operations()]
    slow = [layer.name for layer in convs if not layer._fast_gradient(layer.input.shape)]
    # Only the stride-2 pair at 32x32 (3x3 and the 1x1 projection) and the 1x1 projection
    # at 16x16 keep TensorFlow's kernel; the first convolution reads the images and has no
    # input gradient at all.
    assert sorted(slow) == ["stage2_block1_a_conv", "stage2_block1_proj_conv",
                            "stage3_block1_proj_conv"]
    assert ops.count("Conv2DBackpropInput") == len(slow)
