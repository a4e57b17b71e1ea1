import numpy as np
import pytest
import tensorflow as tf

from tfssl.losses.byol import NormalizedMSE


def numpy_byol(z, p):
    """Reference: ||p/|p| - z/|z|||^2 per example (Grill et al. 2020, eq. 2)."""
    z = z.astype(np.float64)
    p = p.astype(np.float64)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    return np.sum((pn - zn) ** 2, axis=1)


@pytest.mark.parametrize("n,d", [(1, 3), (5, 8), (16, 4)])
def test_matches_numpy_reference(n, d):
    rng = np.random.default_rng(n * d)
    z, p = rng.normal(size=(2, n, d)).astype("float32")
    per = NormalizedMSE(reduction="none")(z, p)
    assert per.shape == (n,)
    ref = numpy_byol(z, p)
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(NormalizedMSE()(z, p)), ref.mean(), rtol=1e-5)


def test_known_values():
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], "float32")
    loss = NormalizedMSE(reduction="none")
    # Same direction (any positive scale) -> 0; opposite -> 4; orthogonal -> 2.
    np.testing.assert_allclose(loss(x, 3 * x).numpy(), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(loss(x, -x).numpy(), [4.0, 4.0], rtol=1e-6)
    e = np.eye(2, dtype="float32")
    np.testing.assert_allclose(loss(e, e[::-1]).numpy(), [2.0, 2.0], rtol=1e-6)


def test_symmetric():
    rng = np.random.default_rng(0)
    z, p = rng.normal(size=(2, 6, 5)).astype("float32")
    loss = NormalizedMSE(reduction="none")
    np.testing.assert_allclose(loss(z, p).numpy(), loss(p, z).numpy(), rtol=1e-6)


def test_gradient_flows_to_both_inputs():
    rng = np.random.default_rng(1)
    z, p = (tf.constant(a) for a in rng.normal(size=(2, 4, 3)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z, p])
        value = NormalizedMSE()(z, p)
    assert float(tf.reduce_sum(tf.abs(tape.gradient(value, z)))) > 0
    assert float(tf.reduce_sum(tf.abs(tape.gradient(value, p)))) > 0


def test_float32_under_bfloat16():
    rng = np.random.default_rng(2)
    z, p = rng.normal(size=(2, 8, 8)).astype("float32")
    ref = float(NormalizedMSE()(z, p))
    out = NormalizedMSE()(tf.cast(z, tf.bfloat16), tf.cast(p, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=2e-2)


def test_config_round_trip():
    loss = NormalizedMSE(reduction="sum", name="byol_loss")
    again = NormalizedMSE.from_config(loss.get_config())
    assert (again.reduction, again.name) == ("sum", "byol_loss")
