import numpy as np
import pytest
import tensorflow as tf

from tfssl.losses.simsiam import NegativeCosine


def numpy_negative_cosine(z, p):
    """Reference: -(p/|p|).(z/|z|) per example (Chen & He 2021, eq. 1)."""
    z = z.astype(np.float64)
    p = p.astype(np.float64)
    return -np.sum(p * z, axis=1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(z, axis=1))


@pytest.mark.parametrize("n,d", [(1, 3), (5, 8), (16, 4)])
def test_matches_numpy_reference(n, d):
    rng = np.random.default_rng(n * d + 1)
    z, p = rng.normal(size=(2, n, d)).astype("float32")
    per = NegativeCosine(reduction="none")(z, p)
    assert per.shape == (n,)
    ref = numpy_negative_cosine(z, p)
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(NegativeCosine()(z, p)), ref.mean(), rtol=1e-5,
                               atol=1e-6)


def test_known_values():
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], "float32")
    loss = NegativeCosine(reduction="none")
    np.testing.assert_allclose(loss(x, 2 * x).numpy(), [-1.0, -1.0], rtol=1e-6)
    np.testing.assert_allclose(loss(x, -x).numpy(), [1.0, 1.0], rtol=1e-6)
    e = np.eye(2, dtype="float32")
    np.testing.assert_allclose(loss(e, e[::-1]).numpy(), [0.0, 0.0], atol=1e-7)


def test_symmetric():
    rng = np.random.default_rng(0)
    z, p = rng.normal(size=(2, 6, 5)).astype("float32")
    loss = NegativeCosine(reduction="none")
    np.testing.assert_allclose(loss(z, p).numpy(), loss(p, z).numpy(), rtol=1e-6)


def test_gradient_not_stopped_on_target():
    """The loss leaves stop-gradient to the method: z gets the analytic gradient."""
    rng = np.random.default_rng(1)
    z, p = rng.normal(size=(2, 4, 3))
    zt, pt = tf.constant(z, tf.float32), tf.constant(p, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        value = NegativeCosine()(zt, pt)
    g = tape.gradient(value, zt).numpy()
    # d(-cos)/dz = -(p_hat - cos * z_hat) / |z|, divided by N for the mean.
    zn = np.linalg.norm(z, axis=1, keepdims=True)
    z_hat, p_hat = z / zn, p / np.linalg.norm(p, axis=1, keepdims=True)
    cos = np.sum(z_hat * p_hat, axis=1, keepdims=True)
    ref = -(p_hat - cos * z_hat) / zn / len(z)
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-6)


def test_float32_under_bfloat16():
    rng = np.random.default_rng(2)
    z, p = rng.normal(size=(2, 8, 8)).astype("float32")
    ref = float(NegativeCosine()(z, p))
    out = NegativeCosine()(tf.cast(z, tf.bfloat16), tf.cast(p, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=2e-2, atol=2e-2)


def test_config_round_trip():
    loss = NegativeCosine(reduction="sum", name="simsiam_loss")
    again = NegativeCosine.from_config(loss.get_config())
    assert (again.reduction, again.name) == ("sum", "simsiam_loss")
