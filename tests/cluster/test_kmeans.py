import numpy as np
import pytest

from tfssl.cluster import (
    KMeansResult, balanced_sample_weights, cluster_features, kmeans, nmi, pca_whiten)
from tfssl.errors import UsageError


def blobs(num=8, per=50, dim=16, sep=10.0, seed=0):
    """``num`` unit-variance Gaussian blobs whose centres are ~N(0, sep^2) apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, sep, (num, dim))
    labels = np.repeat(np.arange(num), per)
    x = centres[labels] + rng.normal(0.0, 1.0, (num * per, dim))
    return x.astype("float32"), labels


def numpy_sq_dist(x, c):
    x = x.astype(np.float64)
    c = c.astype(np.float64)
    return ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)


# ---------------------------------------------------------------------------- k-means


# A single "random" draw usually puts two centroids in one blob and none in another, a
# local minimum Lloyd iterations do not leave (the reason k-means++ is the default), so
# the random-init cases pin a seed whose draw recovers the blobs.
@pytest.mark.parametrize("init,whiten,seed", [
    ("kmeans++", False, 0), ("kmeans++", True, 0), ("random", False, 12),
    ("random", True, 0)])
def test_recovers_separated_blobs(init, whiten, seed):
    x, y = blobs()
    if whiten:  # 8 blobs span 7 dimensions: keep about those
        result = cluster_features(x, 8, pca_dim=8, init=init, seed=seed)
    else:
        result = cluster_features(x, 8, whiten=False, init=init, seed=seed)
    assert isinstance(result, KMeansResult)
    assert result.assignments.shape == (400,) and result.assignments.dtype == np.int64
    assert result.centroids.shape == (8, 8 if whiten else 16)
    assert result.centroids.dtype == np.float32
    assert nmi(result.assignments, y) > 0.95


def test_kmeanspp_recovers_blobs_for_every_seed():
    x, y = blobs(seed=1)
    for seed in range(4):
        assert nmi(kmeans(x, 8, seed=seed).assignments, y) > 0.95, seed


def test_result_is_consistent():
    """Assignments are nearest centroids, centroids their means, inertia their cost."""
    x, y = blobs(num=4, per=30, dim=5)
    r = kmeans(x, 4, seed=3, batch_size=7)  # batches that do not divide N
    d = numpy_sq_dist(x, r.centroids)
    np.testing.assert_array_equal(r.assignments, d.argmin(1))
    for c in range(4):
        np.testing.assert_allclose(r.centroids[c], x[r.assignments == c].mean(0),
                                   atol=1e-4)
    np.testing.assert_allclose(r.inertia, d.min(1).sum(), rtol=1e-4)
    assert r.num_reseeded == 0


def test_one_lloyd_step_matches_numpy():
    x, _ = blobs(num=3, per=20, dim=4, sep=3.0)
    init = x[[0, 1, 2]].astype(np.float64)
    r = kmeans(x, 3, num_iters=1, init=init)
    a0 = numpy_sq_dist(x, init).argmin(1)
    expected = np.stack([x[a0 == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(r.centroids, expected, atol=1e-5)
    np.testing.assert_array_equal(r.assignments, numpy_sq_dist(x, expected).argmin(1))


def test_zero_iterations_assigns_to_the_initial_centroids():
    x, _ = blobs(num=3, per=10, dim=4)
    init = x[[0, 10, 20]]
    r = kmeans(x, 3, num_iters=0, init=init)
    np.testing.assert_allclose(r.centroids, init, atol=1e-5)
    np.testing.assert_array_equal(r.assignments, numpy_sq_dist(x, init).argmin(1))


def test_single_cluster():
    x, _ = blobs(num=2, per=10, dim=3)
    r = kmeans(x, 1)
    assert set(r.assignments) == {0}
    np.testing.assert_allclose(r.centroids[0], x.mean(0), atol=1e-5)


# ------------------------------------------------------------------- empty clusters


def test_far_initial_centroids_are_reseeded_by_splitting():
    x, _ = blobs(num=2, per=20, dim=4, sep=5.0)
    init = np.concatenate([x[[0, 20]], np.full((2, 4), 1e3)])  # two empty at the start
    r = kmeans(x, 4, num_iters=10, init=init, seed=0)
    assert r.num_reseeded >= 2
    assert np.all(np.bincount(r.assignments, minlength=4) > 0)
    # The splits were real splits: the result is still a Lloyd fixed point.
    np.testing.assert_array_equal(r.assignments, numpy_sq_dist(x, r.centroids).argmin(1))


def test_duplicated_points_leave_no_cluster_empty():
    # Three distinct points, ten copies each: a random draw of 5 initial centroids
    # must repeat a point, the tied centroids lose every point to the lowest index.
    x = np.repeat(np.eye(3, 4, dtype="float32") * 5.0, 10, axis=0)
    r = kmeans(x, 5, init="random", seed=0)
    assert r.num_reseeded > 0
    assert np.all(np.bincount(r.assignments, minlength=5) > 0)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_as_many_clusters_as_points(init):
    x = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [5, 5], [0, 0]], "float32")
    r = kmeans(x, 6, init=init, seed=1)
    np.testing.assert_array_equal(np.sort(r.assignments), np.arange(6))
    assert r.inertia == pytest.approx(0.0, abs=1e-3)  # up to the tiny split steps


# ---------------------------------------------------------------------- determinism


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_same_seed_same_result(init):
    x, _ = blobs(num=6, per=20, dim=8, sep=2.0)  # overlapping: many possible outcomes
    a = cluster_features(x, 10, init=init, seed=5)
    b = cluster_features(x, 10, init=init, seed=5)
    np.testing.assert_array_equal(a.assignments, b.assignments)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    assert a.inertia == b.inertia and a.num_reseeded == b.num_reseeded


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_different_seeds_draw_different_initial_centroids(init):
    x, _ = blobs(num=6, per=20, dim=8, sep=2.0)
    a = kmeans(x, 10, num_iters=0, init=init, seed=0)
    b = kmeans(x, 10, num_iters=0, init=init, seed=1)
    assert not np.array_equal(a.centroids, b.centroids)


# ----------------------------------------------------------------------- whitening


def correlated(n=500, d=12, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.linspace(0.1, 5.0, d)[:, None]
    return (rng.normal(size=(n, d)) @ mix + 3.0).astype("float32")


def test_pca_whiten_rows_have_unit_norm():
    z, params = pca_whiten(correlated(), dim=6)
    assert z.shape == (500, 6) and z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert params.components.shape == (12, 6) and params.scales.shape == (6,)


@pytest.mark.parametrize("dim", [None, 5])
def test_pca_whiten_before_normalisation_has_identity_covariance(dim):
    x = correlated()
    k = dim or 12
    z, params = pca_whiten(x, dim=dim, epsilon=0.0, l2_normalize=False)
    assert z.shape == (500, k)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.T.astype(np.float64) @ z / len(z), np.eye(k), atol=1e-3)
    # epsilon shrinks the low-variance directions: covariance diag(lambda / (lambda + eps))
    z, params = pca_whiten(x, dim=dim, epsilon=1e-2, l2_normalize=False)
    lam = params.eigenvalues.astype(np.float64)
    np.testing.assert_allclose(z.T.astype(np.float64) @ z / len(z),
                               np.diag(lam / (lam + 1e-2)), atol=1e-3)
    if dim is None:  # the smallest variances are small enough for epsilon to show
        assert lam[-1] / (lam[-1] + 1e-2) < 0.99
    assert np.all(np.diff(params.eigenvalues) <= 0)  # by decreasing variance
    np.testing.assert_allclose(params.components.T @ params.components, np.eye(k),
                               atol=1e-5)


def test_pca_whiten_params_repeat_the_transform():
    x = correlated()
    z, params = pca_whiten(x, dim=4)
    np.testing.assert_allclose(params.apply(x), z, atol=1e-4)
    raw, _ = pca_whiten(x, dim=4, l2_normalize=False)
    np.testing.assert_allclose(params.apply(x, l2_normalize=False), raw, atol=1e-3)
    with pytest.raises(UsageError, match="columns"):
        params.apply(x[:, :5])


def test_pca_whiten_fewer_points_than_dimensions():
    x = correlated(n=6, d=20)
    z, params = pca_whiten(x, l2_normalize=False)
    assert z.shape == (6, 6)
    # Centred 6 points span 5 directions: those are whitened, the last one is ~0.
    np.testing.assert_allclose(z[:, :5].T @ z[:, :5] / 6, np.eye(5), atol=1e-3)
    np.testing.assert_allclose(params.eigenvalues[5], 0.0, atol=1e-3)


def test_pca_whiten_is_deterministic_in_sign():
    x = correlated()
    np.testing.assert_array_equal(pca_whiten(x)[0], pca_whiten(x.copy())[0])


# ------------------------------------------------------------------------ weights


def test_balanced_sample_weights():
    a = np.array([0, 0, 0, 0, 0, 0, 1, 1, 3, 3, 3, 3])  # cluster 2 empty
    w = balanced_sample_weights(a, 4)
    assert w.shape == (12,) and w.dtype == np.float32
    totals = np.bincount(a, weights=w, minlength=4)
    np.testing.assert_allclose(totals[[0, 1, 3]], 4.0)
    assert totals[2] == 0
    assert w.mean() == pytest.approx(1.0)


def test_balanced_sample_weights_of_balanced_clusters_are_one():
    np.testing.assert_allclose(balanced_sample_weights(np.arange(10) % 5, 5), 1.0)


# ---------------------------------------------------------------------------- NMI


def test_nmi():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 10, 20000)
    assert nmi(a, a) == pytest.approx(1.0)
    relabel = rng.permutation(10)
    assert nmi(a, relabel[a]) == pytest.approx(1.0)
    assert nmi(a, rng.integers(0, 10, 20000)) < 0.01
    b = rng.integers(0, 3, 20000)
    assert nmi(a, b) == pytest.approx(nmi(b, a))


# ------------------------------------------------------------------- bad arguments


X = np.zeros((10, 3), "float32")


@pytest.mark.parametrize("call,message", [
    (lambda: kmeans(X, 0), "num_clusters=0: must be >= 1"),
    (lambda: kmeans(X, 50), "num_clusters=50 is larger than the 10 points to cluster"),
    (lambda: kmeans(X, 2.5), "num_clusters=2.5: must be an integer"),
    (lambda: kmeans(X, 2, num_iters=-1), "num_iters=-1: must be >= 0"),
    (lambda: kmeans(X, 2, batch_size=0), "batch_size=0: must be >= 1"),
    (lambda: kmeans(X, 2, init="kmeans"), "init='kmeans': expected one of"),
    (lambda: kmeans(X, 2, init=np.zeros((3, 3))), r"init has shape \(3, 3\)"),
    (lambda: kmeans(X[0], 2), r"features has shape \(3,\)"),
    (lambda: kmeans(np.full((4, 2), np.nan), 2), "NaN"),
    (lambda: pca_whiten(X, dim=4), r"dim=4 is larger than min\(N, D\)"),
    (lambda: pca_whiten(X, dim=0), "dim=0: must be >= 1"),
    (lambda: pca_whiten(X, epsilon=-1.0), "epsilon=-1.0"),
    (lambda: cluster_features(X, 2, pca_dim=2, whiten=False), "pca_dim=2"),
    (lambda: nmi([0, 1], [0, 1, 1]), "same number"),
    (lambda: nmi([0.5, 1.0], [0, 1]), "dtype"),
    (lambda: balanced_sample_weights([0, 3], 3), r"range over \[0, 3\]"),
    (lambda: balanced_sample_weights([0, 1], 0), "num_clusters=0: must be >= 1"),
])
def test_bad_arguments(call, message):
    with pytest.raises(UsageError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
