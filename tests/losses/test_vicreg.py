import numpy as np
import pytest
import tensorflow as tf

from suite_helpers import assert_replica_gradients_match
from tfssl.errors import UsageError
from tfssl.losses.vicreg import VICRegLoss, vicreg_terms


def numpy_vicreg_terms(z1, z2, gamma=1.0, eps=1e-4):
    """Reference: Bardes et al. 2022, eq. 1-6 (invariance as F.mse_loss)."""
    z1, z2 = z1.astype(np.float64), z2.astype(np.float64)

    def v(z):
        return np.mean(np.maximum(0.0, gamma - np.sqrt(z.var(0, ddof=1) + eps)))

    def c(z):
        cov = np.cov(z, rowvar=False)
        d = z.shape[1]
        return sum(cov[i, j] ** 2 for i in range(d) for j in range(d) if i != j) / d

    return {"invariance": np.mean((z1 - z2) ** 2),
            "variance": v(z1) + v(z2),
            "covariance": c(z1) + c(z2)}


def numpy_vicreg(z1, z2, sim=25.0, var=25.0, cov=1.0, gamma=1.0, eps=1e-4):
    t = numpy_vicreg_terms(z1, z2, gamma, eps)
    return sim * t["invariance"] + var * t["variance"] + cov * t["covariance"]


def _views(rng, n, d):
    """Two views whose dimensions have std on both sides of 1 (the hinge is active)."""
    scale = np.linspace(0.3, 2.0, d)
    z1 = rng.normal(size=(n, d)) * scale
    z2 = z1 + 0.5 * rng.normal(size=(n, d))
    return z1.astype("float32"), z2.astype("float32")


@pytest.mark.parametrize("n,d,weights,gamma", [
    (2, 3, (25.0, 25.0, 1.0), 1.0), (5, 8, (1.0, 2.0, 3.0), 0.5),
    (16, 4, (25.0, 25.0, 1.0), 2.0), (7, 6, (0.0, 1.0, 0.0), 1.0)])
def test_matches_numpy_reference(n, d, weights, gamma):
    rng = np.random.default_rng(n * d)
    z1, z2 = _views(rng, n, d)
    loss = VICRegLoss(*weights, gamma=gamma)
    got = loss(z1, z2)
    assert got.shape == ()
    np.testing.assert_allclose(float(got), numpy_vicreg(z1, z2, *weights, gamma=gamma),
                               rtol=1e-5)
    ref = numpy_vicreg_terms(z1, z2, gamma)
    for name, value in loss.terms(z1, z2).items():
        assert value.dtype == tf.float32 and value.shape == ()
        np.testing.assert_allclose(float(value), ref[name], rtol=1e-5, atol=1e-7)


def test_known_values():
    n, d, eps = 6, 4, 1e-4
    # A collapsed batch (every row the same): each branch's variance term is
    # gamma - sqrt(eps) in every dimension, the covariance is zero.
    row = np.arange(d, dtype="float32")
    same = np.tile(row, (n, 1))
    terms = vicreg_terms(same, same, gamma=2.0, epsilon=eps)
    np.testing.assert_allclose(float(terms["variance"]), 2 * (2.0 - np.sqrt(eps)), rtol=1e-6)
    assert float(terms["covariance"]) == 0.0
    assert float(terms["invariance"]) == 0.0
    # +-2 decorrelated columns (std > gamma = 1): only the invariance term is left.
    h = np.array([[1.0]])
    while len(h) < 8:
        h = np.block([[h, h], [h, -h]])
    z = 2 * h[:, 1:5].astype("float32")
    loss = VICRegLoss(sim_weight=3.0)
    np.testing.assert_allclose(float(loss(z, z)), 0.0, atol=1e-6)
    np.testing.assert_allclose(float(loss(z, z + 0.5)), 3.0 * 0.25, rtol=1e-5)


def test_symmetric():
    rng = np.random.default_rng(2)
    z1, z2 = _views(rng, 6, 5)
    loss = VICRegLoss()
    np.testing.assert_allclose(float(loss(z1, z2)), float(loss(z2, z1)), rtol=1e-6)


def test_float32_under_bfloat16():
    rng = np.random.default_rng(3)
    z1, z2 = _views(rng, 16, 8)
    ref = float(VICRegLoss()(z1, z2))
    out = VICRegLoss()(tf.cast(z1, tf.bfloat16), tf.cast(z2, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=3e-2)


def test_config_round_trip_and_validation():
    loss = VICRegLoss(sim_weight=10.0, var_weight=5.0, cov_weight=0.5, gamma=2.0,
                      epsilon=1e-3, name="vic")
    again = VICRegLoss.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert (again.sim_weight, again.var_weight, again.cov_weight, again.gamma,
            again.epsilon) == (10.0, 5.0, 0.5, 2.0, 1e-3)
    for kwargs in [{"sim_weight": -1.0}, {"var_weight": float("nan")}, {"cov_weight": -0.1},
                   {"gamma": 0.0}, {"epsilon": 0.0}, {"epsilon": "small"}]:
        (name,) = kwargs
        with pytest.raises(UsageError, match=f"^{name}="):
            VICRegLoss(**kwargs)
    with pytest.raises(UsageError, match="at least 2"):
        VICRegLoss()(np.ones((1, 3), "float32"), np.ones((1, 3), "float32"))


def test_xla_compiles():
    rng = np.random.default_rng(4)
    z1, z2 = _views(rng, 8, 6)
    loss = VICRegLoss()
    f = tf.function(lambda a, b: loss(a, b), jit_compile=True)
    np.testing.assert_allclose(float(f(z1, z2)), float(loss(z1, z2)), rtol=1e-5)


def test_global_batch_across_replicas(cpu_strategy):
    """Two replicas of N/2 each give the one-device loss and gradients of the global batch."""
    rng = np.random.default_rng(5)
    z1, z2 = _views(rng, 8, 5)
    strategy = cpu_strategy
    loss = VICRegLoss()
    ds = tf.data.Dataset.from_tensor_slices((z1, z2)).batch(8)
    a, b = next(iter(strategy.experimental_distribute_dataset(ds)))
    per_replica = strategy.run(tf.function(lambda x, y: loss(x, y)), args=(a, b))
    # A scalar on global-batch statistics: every replica holds the global value.
    for value in strategy.experimental_local_results(per_replica):
        np.testing.assert_allclose(float(value), numpy_vicreg(z1, z2), rtol=1e-5)
    assert_replica_gradients_match(strategy, loss, z1, z2, scale_loss=True)

