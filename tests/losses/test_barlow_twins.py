import numpy as np
import pytest
import tensorflow as tf

from suite_helpers import assert_replica_gradients_match
from tfssl.errors import UsageError
from tfssl.losses.barlow_twins import BarlowTwinsLoss


def numpy_barlow_twins(z1, z2, lam=5e-3, eps=1e-5):
    """Reference: Zbontar et al. 2021, eq. 1-2, with batch norm (biased var, no affine)."""
    def bn(z):
        z = z.astype(np.float64)
        return (z - z.mean(0)) / np.sqrt(z.var(0) + eps)

    n, d = z1.shape
    c = bn(z1).T @ bn(z2) / n
    on = sum((1 - c[i, i]) ** 2 for i in range(d))
    off = sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j)
    return on + lam * off


def hadamard_columns(n=8, d=4):
    """``n x d`` of +-1 with mean-zero, mutually orthogonal columns (Sylvester)."""
    h = np.array([[1.0]])
    while len(h) < n:
        h = np.block([[h, h], [h, -h]])
    return h[:, 1:d + 1].astype("float32")


@pytest.mark.parametrize("n,d,lam", [(2, 3, 5e-3), (5, 8, 0.1), (16, 4, 1.0), (7, 6, 0.0)])
def test_matches_numpy_reference(n, d, lam):
    rng = np.random.default_rng(n * d)
    z1, z2 = rng.normal(size=(2, n, d)).astype("float32")
    got = BarlowTwinsLoss(lambda_=lam)(z1, z2)
    assert got.shape == ()
    np.testing.assert_allclose(float(got), numpy_barlow_twins(z1, z2, lam), rtol=1e-5)


def test_known_values():
    z = hadamard_columns()  # standardised and decorrelated already
    d = z.shape[1]
    loss = BarlowTwinsLoss(lambda_=0.5)
    # C = I (up to epsilon): both terms vanish; also after any per-dimension affine map.
    assert float(loss(z, z)) < 1e-8
    assert float(loss(z, 3 * z + 2)) < 1e-8
    # C = -I: each diagonal term is (1 - (-1))^2 = 4.
    np.testing.assert_allclose(float(loss(z, -z)), 4.0 * d, rtol=1e-4)
    # Identical random views: the on-diagonal term vanishes, what remains is lambda times
    # the squared off-diagonal correlations.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5))
    corr = np.corrcoef(x, rowvar=False)
    off = np.sum(corr ** 2) - np.sum(np.diag(corr) ** 2)
    x = x.astype("float32")
    np.testing.assert_allclose(float(loss(x, x)), 0.5 * off, rtol=1e-3)


def test_invariant_to_dimension_scale_and_shift():
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(2, 12, 6)).astype("float32")
    scale = rng.uniform(0.5, 4.0, size=6).astype("float32")
    loss = BarlowTwinsLoss()
    np.testing.assert_allclose(float(loss(z1 * scale + 1.5, z2)), float(loss(z1, z2)),
                               rtol=1e-4)


def test_symmetric():
    rng = np.random.default_rng(2)
    z1, z2 = rng.normal(size=(2, 6, 5)).astype("float32")
    loss = BarlowTwinsLoss(lambda_=0.3)
    np.testing.assert_allclose(float(loss(z1, z2)), float(loss(z2, z1)), rtol=1e-6)


def test_float32_under_bfloat16():
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(2, 16, 8)).astype("float32")
    ref = float(BarlowTwinsLoss()(z1, z2))
    out = BarlowTwinsLoss()(tf.cast(z1, tf.bfloat16), tf.cast(z2, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=3e-2)


def test_config_round_trip_and_validation():
    loss = BarlowTwinsLoss(lambda_=0.01, epsilon=1e-3, name="bt")
    again = BarlowTwinsLoss.from_config(loss.get_config())
    assert (again.lambda_, again.epsilon, again.name) == (0.01, 1e-3, "bt")
    for kwargs, name in [({"lambda_": -1.0}, "lambda_"), ({"lambda_": float("nan")}, "lambda_"),
                         ({"lambda_": "big"}, "lambda_"), ({"epsilon": 0.0}, "epsilon"),
                         ({"epsilon": float("inf")}, "epsilon")]:
        with pytest.raises(UsageError, match=f"^{name}="):
            BarlowTwinsLoss(**kwargs)


def test_xla_compiles():
    rng = np.random.default_rng(4)
    z1, z2 = rng.normal(size=(2, 8, 6)).astype("float32")
    loss = BarlowTwinsLoss()
    f = tf.function(lambda a, b: loss(a, b), jit_compile=True)
    np.testing.assert_allclose(float(f(z1, z2)), float(loss(z1, z2)), rtol=1e-5)


def test_global_batch_across_replicas(cpu_strategy):
    """Two replicas of N/2 each give the one-device loss and gradients of the global batch."""
    rng = np.random.default_rng(5)
    z1, z2 = rng.normal(size=(2, 8, 5)).astype("float32")
    strategy = cpu_strategy
    loss = BarlowTwinsLoss(lambda_=0.1)
    ds = tf.data.Dataset.from_tensor_slices((z1, z2)).batch(8)
    a, b = next(iter(strategy.experimental_distribute_dataset(ds)))
    per_replica = strategy.run(tf.function(lambda x, y: loss(x, y)), args=(a, b))
    # A scalar on global-batch statistics: every replica holds the global value.
    for value in strategy.experimental_local_results(per_replica):
        np.testing.assert_allclose(float(value), numpy_barlow_twins(z1, z2, 0.1), rtol=1e-5)
    assert_replica_gradients_match(strategy, loss, z1, z2, scale_loss=True)

