"""The clustering core of DeepCluster: PCA-whitening, k-means, NMI, balanced weights.

DeepCluster (Caron et al. 2018) alternates two steps: cluster the features of the whole
dataset with k-means, then train the network to predict the cluster assignments as
pseudo-labels. Before clustering the features are PCA-whitened and L2-normalised; during
training every cluster contributes equally (the paper samples images uniformly over
clusters, here that is done with per-example loss weights); the stability of the
clustering from one epoch to the next is measured with NMI.

Everything here takes and returns NumPy arrays and runs on CPU; the heavy parts (the
covariance eigendecomposition, the batched point-to-centroid distances, the centroid sums)
are TensorFlow ops, the bookkeeping (random draws, empty-cluster re-seeding) is NumPy with
a seeded generator, so a given ``seed`` gives the same result every time.

References:
    - Caron, Bojanowski, Joulin, Douze. "Deep Clustering for Unsupervised Learning of
      Visual Features". ECCV 2018. https://arxiv.org/abs/1807.05520
    - Arthur, Vassilvitskii. "k-means++: The Advantages of Careful Seeding". SODA 2007.
    - Johnson, Douze, Jegou. "Billion-scale similarity search with GPUs" (faiss, whose
      k-means DeepCluster uses, including its re-seeding of empty clusters).
"""

import dataclasses
import numbers

import numpy as np
import tensorflow as tf

from tfssl.errors import UsageError

# An empty cluster is re-seeded at its donor's centroid moved by this fraction of the
# data's RMS spread (faiss splits with a relative 1/1024 step).
_SPLIT_STEP = 1.0 / 1024
# k-means++ seeding runs on at most max(_KMEANSPP_MIN_SAMPLE, _KMEANSPP_PER_CLUSTER * K)
# points drawn without replacement: the seeding is sequential in K, so this bounds its
# cost on large N while leaving plenty of candidates per cluster.
_KMEANSPP_MIN_SAMPLE = 10_000
_KMEANSPP_PER_CLUSTER = 20
_INITS = ("kmeans++", "random")


@dataclasses.dataclass
class KMeansResult:
    """What :func:`kmeans` returns.

    Attributes:
        assignments: ``(N,)`` int64, the cluster of every point, in ``[0, K)``.
        centroids: ``(K, D)`` float32 cluster centres (in the space that was clustered,
            i.e. after PCA-whitening when :func:`cluster_features` whitened).
        inertia: sum over points of the squared distance to their assigned centroid.
        num_reseeded: total number of empty clusters re-seeded over all iterations.
    """

    assignments: np.ndarray
    centroids: np.ndarray
    inertia: float
    num_reseeded: int


@dataclasses.dataclass
class PCAWhitening:
    """A fitted PCA-whitening, returned by :func:`pca_whiten`; ``apply`` repeats it.

    Attributes:
        mean: ``(D,)`` float32 mean of the fitted features.
        components: ``(D, dim)`` float32 principal directions, by decreasing eigenvalue.
        scales: ``(dim,)`` float32 ``sqrt(eigenvalue + epsilon)``; the projections are
            divided by them.
        eigenvalues: ``(dim,)`` float32 variances along ``components``.
    """

    mean: np.ndarray
    components: np.ndarray
    scales: np.ndarray
    eigenvalues: np.ndarray

    def apply(self, features, l2_normalize=True):
        """Whitens new ``(M, D)`` features with the fitted transform.

        Args:
            features: ``(M, D)`` array-like, ``D`` as when fitted.
            l2_normalize: whether to L2-normalise the whitened rows (as DeepCluster does).

        Returns:
            ``(M, dim)`` float32.
        """
        x = _as_matrix(features, "features")
        if x.shape[1] != self.mean.shape[0]:
            raise UsageError(f"features have {x.shape[1]} columns: the whitening was "
                             f"fitted on {self.mean.shape[0]}")
        z = tf.matmul(tf.constant(x) - self.mean, self.components) / self.scales
        if l2_normalize:
            z = tf.math.l2_normalize(z, axis=1)
        return z.numpy().astype(np.float32)


def pca_whiten(features, dim=None, epsilon=1e-5, l2_normalize=True):
    """PCA-whitening followed by L2 normalisation of the rows, as in DeepCluster.

    The features are centred, projected on their top ``dim`` principal components (the
    eigenvectors of the covariance ``Xc^T Xc / N``) and divided by
    ``sqrt(eigenvalue + epsilon)``, so that before the normalisation their covariance is
    about the identity; then every row is scaled to unit L2 norm. The eigenvectors' signs
    are fixed (largest-magnitude entry positive) so the result is reproducible.

    Args:
        features: ``(N, D)`` array-like of finite numbers.
        dim: number of components to keep, ``1 <= dim <= min(N, D)``; ``None`` keeps
            ``min(N, D)``.
        epsilon: added to the eigenvalues before the square root, ``>= 0``; it keeps
            directions of (near) zero variance from blowing up.
        l2_normalize: ``False`` returns the whitened features before the row
            normalisation (whose covariance is ~identity).

    Returns:
        ``(whitened, params)``: ``whitened`` is ``(N, dim)`` float32, ``params`` a
        :class:`PCAWhitening` whose ``apply`` repeats the transform on new features.

    References:
        Caron et al. 2018, section 3.3 ("PCA-reduced to 256 dimensions, whitened and
        l2-normalized"); facebookresearch/deepcluster ``clustering.preprocess_features``.
    """
    x = _as_matrix(features, "features")
    n, d = x.shape
    if dim is None:
        dim = min(n, d)
    _check_int(dim, "dim", 1)
    if dim > min(n, d):
        raise UsageError(f"dim={dim} is larger than min(N, D)=min({n}, {d})")
    if not (isinstance(epsilon, numbers.Real) and epsilon >= 0):
        raise UsageError(f"epsilon={epsilon!r}: must be a number >= 0")

    x64 = tf.constant(x, tf.float64)
    mean = tf.reduce_mean(x64, axis=0)
    xc = x64 - mean
    if d <= n:  # eigendecomposition of the D x D covariance
        evals, evecs = tf.linalg.eigh(tf.matmul(xc, xc, transpose_a=True) / n)
        evals, evecs = evals[::-1][:dim], evecs[:, ::-1][:, :dim]
    else:  # more dimensions than points: SVD of the data itself
        s, _, v = tf.linalg.svd(xc)  # s descending, v (D, min(N, D))
        evals, evecs = (s ** 2 / n)[:dim], v[:, :dim]
    evals = tf.maximum(evals, 0.0)  # round-off can make the tiny ones negative
    # Sign convention: the largest-magnitude entry of every component is positive.
    pivot = tf.argmax(tf.abs(evecs), axis=0)
    signs = tf.sign(tf.gather(tf.transpose(evecs), pivot, batch_dims=1))
    evecs = evecs * tf.where(signs == 0, tf.ones_like(signs), signs)

    params = PCAWhitening(
        mean=mean.numpy().astype(np.float32),
        components=evecs.numpy().astype(np.float32),
        scales=np.sqrt(evals.numpy() + epsilon).astype(np.float32),
        eigenvalues=evals.numpy().astype(np.float32))
    z = tf.matmul(xc, evecs) / tf.sqrt(evals + epsilon)
    if l2_normalize:
        z = tf.math.l2_normalize(z, axis=1)
    return z.numpy().astype(np.float32), params


def kmeans(features, num_clusters, num_iters=20, init="kmeans++", seed=0,
           batch_size=4096):
    """Lloyd's k-means with DeepCluster's (faiss's) re-seeding of empty clusters.

    Every iteration assigns each point to its nearest centroid (squared Euclidean
    distance ``||x||^2 - 2 x c^T + ||c||^2``, computed with TensorFlow matmuls on
    ``batch_size`` rows at a time), moves every centroid to the mean of its points and
    then re-seeds every cluster left empty: a donor cluster is drawn with probability
    proportional to its size minus one (so a single point is never split, as in faiss),
    the empty centroid is set to the donor's centroid plus a small random step and the
    donor's centroid is moved by the opposite step, so the next assignment splits the
    donor's points between the two. Iterations stop early once the assignments no
    longer change. A last assignment gives the result; should a cluster still be empty
    then (duplicated points, say), the point farthest from its centroid in a cluster of
    two or more is moved to it and becomes its centroid, so with ``N >= K`` every
    cluster is non-empty. The data are centred internally, which keeps the distance
    expansion accurate in float32.

    Args:
        features: ``(N, D)`` array-like of finite numbers.
        num_clusters: ``K``, ``1 <= K <= N``.
        num_iters: maximum number of Lloyd iterations, ``>= 0`` (0: assign to the
            initial centroids).
        init: ``"kmeans++"`` (greedy D^2 sampling, Arthur & Vassilvitskii 2007, on a
            random subsample of at most ``max(10000, 20 K)`` points; its cost grows as
            ``K^2 log K``, so for thousands of clusters prefer ``"random"``),
            ``"random"`` (``K`` distinct points drawn uniformly, what faiss and so the
            DeepCluster code use) or a ``(K, D)`` array of initial centroids.
        seed: seed of the NumPy generator behind every random draw; the same seed gives
            the same result.
        batch_size: rows per distance computation, ``>= 1``; bounds the memory of the
            ``(batch_size, K)`` distance block.

    Returns:
        A :class:`KMeansResult`.

    Raises:
        UsageError: for an argument out of range, in a one-line message.

    References:
        Lloyd 1982; Arthur & Vassilvitskii 2007; the empty-cluster split of faiss
        ``Clustering.cpp`` used by facebookresearch/deepcluster ``clustering.py``.
    """
    x = _as_matrix(features, "features")
    n, d = x.shape
    _check_int(num_clusters, "num_clusters", 1)
    k = int(num_clusters)
    if k > n:
        raise UsageError(f"num_clusters={k} is larger than the {n} points to cluster")
    _check_int(num_iters, "num_iters", 0)
    _check_int(seed, "seed", 0)
    _check_int(batch_size, "batch_size", 1)
    if isinstance(init, str):
        if init not in _INITS:
            raise UsageError(f"init={init!r}: expected one of {', '.join(_INITS)} or a "
                             f"({k}, {d}) array of centroids")
        init_centroids = None
    else:
        init_centroids = np.asarray(init, dtype=np.float64)
        if init_centroids.shape != (k, d):
            raise UsageError(f"init has shape {init_centroids.shape}: expected ({k}, {d})")
        if not np.all(np.isfinite(init_centroids)):
            raise UsageError("init contains NaN or infinite values")

    rng = np.random.default_rng(int(seed))
    offset = x.astype(np.float64).mean(axis=0)
    xc = (x - offset).astype(np.float32)
    spread = float(np.sqrt(np.mean(np.sum(xc.astype(np.float64) ** 2, axis=1))))

    if init_centroids is not None:
        centroids = (init_centroids - offset).astype(np.float32)
    elif init == "random":
        centroids = xc[np.sort(rng.choice(n, size=k, replace=False))].copy()
    else:
        centroids = _kmeans_plusplus(xc, k, rng)

    x_tensor = tf.constant(xc)
    num_reseeded = 0
    previous, reseeded_last = None, True
    converged = False
    for _ in range(int(num_iters)):
        assignments, sq_dist = _assign(x_tensor, centroids, batch_size)
        if (previous is not None and not reseeded_last
                and np.array_equal(assignments, previous)):
            converged = True  # centroids are already the means of these assignments
            break
        counts = np.bincount(assignments, minlength=k)
        sums = tf.math.unsorted_segment_sum(x_tensor, assignments, k).numpy()
        nonempty = counts > 0
        centroids = centroids.copy()
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
        reseeded = _split_into_empty(centroids, counts, rng, _SPLIT_STEP * spread)
        num_reseeded += reseeded
        previous, reseeded_last = assignments, reseeded > 0
    if not converged:
        assignments, sq_dist = _assign(x_tensor, centroids, batch_size)
    num_reseeded += _fill_empty(xc, assignments, sq_dist, centroids)

    return KMeansResult(
        assignments=assignments.astype(np.int64),
        centroids=(centroids + offset).astype(np.float32),
        inertia=float(np.sum(sq_dist, dtype=np.float64)),
        num_reseeded=int(num_reseeded))


def cluster_features(features, num_clusters, pca_dim=None, whiten=True,
                     **kmeans_kwargs):
    """DeepCluster's per-epoch clustering: PCA-whiten + L2-normalise, then k-means.

    Args:
        features: ``(N, D)`` array-like, e.g. the encoder's features of the whole dataset.
        num_clusters: ``K`` for :func:`kmeans`.
        pca_dim: components kept by :func:`pca_whiten` (``None``: ``min(N, D)``; the
            paper uses 256). Only with ``whiten=True``.
        whiten: ``False`` clusters the features as given.
        **kmeans_kwargs: passed to :func:`kmeans` (``num_iters``, ``init``, ``seed``,
            ``batch_size``).

    Returns:
        The :class:`KMeansResult` (centroids in the whitened space when ``whiten``).

    References:
        Caron et al. 2018, section 3.3; facebookresearch/deepcluster
        ``clustering.Kmeans.cluster``.
    """
    if not whiten and pca_dim is not None:
        raise UsageError(f"pca_dim={pca_dim}: only used with whiten=True")
    x = _as_matrix(features, "features")
    if whiten:
        x, _ = pca_whiten(x, dim=pca_dim)
    return kmeans(x, num_clusters, **kmeans_kwargs)


def nmi(labels_a, labels_b):
    """Normalized mutual information of two labelings (arithmetic normalisation).

    ``I(A; B) / ((H(A) + H(B)) / 2)``: 1 for the same partition (whatever the label
    names), about 0 for independent ones. DeepCluster reports it between the
    clusterings of consecutive epochs and against the true classes.

    Args:
        labels_a, labels_b: ``(N,)`` integer label arrays of the same length ``N >= 1``.

    Returns:
        A float in ``[0, 1]``.

    References:
        Strehl & Ghosh 2002; Caron et al. 2018, section 5.1;
        ``sklearn.metrics.normalized_mutual_info_score``.
    """
    from sklearn.metrics import normalized_mutual_info_score

    a = _as_labels(labels_a, "labels_a")
    b = _as_labels(labels_b, "labels_b")
    if a.shape != b.shape:
        raise UsageError(f"labels_a has {a.size} labels and labels_b {b.size}: "
                         "expected the same number")
    return float(normalized_mutual_info_score(a, b, average_method="arithmetic"))


def balanced_sample_weights(assignments, num_clusters):
    """Per-example loss weights that give every non-empty cluster the same total weight.

    Example ``i`` in cluster ``c`` gets ``N / (num_nonempty * size(c))``: each non-empty
    cluster then sums to ``N / num_nonempty`` and the mean weight is 1, the loss-weight
    form of DeepCluster's sampling of images uniformly over clusters (which keeps the
    network from collapsing onto a few big clusters).

    Args:
        assignments: ``(N,)`` integer cluster ids in ``[0, num_clusters)``, ``N >= 1``.
        num_clusters: ``K >= 1``.

    Returns:
        ``(N,)`` float32 weights.

    References:
        Caron et al. 2018, section 3.3 ("Avoiding trivial solutions"); the
        ``UnifLabelSampler`` of facebookresearch/deepcluster.
    """
    _check_int(num_clusters, "num_clusters", 1)
    a = _as_labels(assignments, "assignments")
    if a.min() < 0 or a.max() >= num_clusters:
        raise UsageError(f"assignments range over [{a.min()}, {a.max()}]: expected "
                         f"[0, {num_clusters - 1}] for num_clusters={num_clusters}")
    counts = np.bincount(a, minlength=int(num_clusters)).astype(np.float64)
    weights = a.size / (np.count_nonzero(counts) * counts[a])
    return weights.astype(np.float32)


# ----------------------------------------------------------------------------- helpers


@tf.function(input_signature=[
    tf.TensorSpec([None, None], tf.float32),
    tf.TensorSpec([None, None], tf.float32),
    tf.TensorSpec([None], tf.float32)])
def _nearest(x, centroids, centroid_sq):
    """Index of and squared distance to the nearest centroid, for a block of rows."""
    x_sq = tf.reduce_sum(tf.square(x), axis=1, keepdims=True)
    dist = x_sq - 2.0 * tf.matmul(x, centroids, transpose_b=True) + centroid_sq[None, :]
    return (tf.argmin(dist, axis=1, output_type=tf.int64),
            tf.maximum(tf.reduce_min(dist, axis=1), 0.0))


def _assign(x, centroids, batch_size):
    """Nearest centroid (int64) and squared distance (float64) of every row of ``x``."""
    c = tf.constant(centroids, tf.float32)
    c_sq = tf.reduce_sum(tf.square(c), axis=1)
    idx, dist = [], []
    for start in range(0, int(x.shape[0]), batch_size):
        i, dd = _nearest(x[start:start + batch_size], c, c_sq)
        idx.append(i.numpy())
        dist.append(dd.numpy())
    return np.concatenate(idx), np.concatenate(dist).astype(np.float64)


def _kmeans_plusplus(x, k, rng):
    """Greedy k-means++ seeding on a random subsample of ``x``; returns ``(k, D)``.

    Each new centroid is the best (lowest resulting potential) of ``2 + ln k``
    candidates drawn with probability proportional to the squared distance to the
    nearest centroid chosen so far (D^2 sampling); the greedy choice (as in
    scikit-learn) makes a seeding that leaves a cluster without a centroid much rarer.
    The draws are NumPy, the distances TensorFlow.
    """
    n = x.shape[0]
    size = min(n, max(_KMEANSPP_MIN_SAMPLE, _KMEANSPP_PER_CLUSTER * k))
    pool = x if size == n else x[np.sort(rng.choice(n, size=size, replace=False))]
    pool_t = tf.constant(pool, tf.float32)
    pool_sq = tf.reduce_sum(tf.square(pool_t), axis=1)
    trials = 2 + int(np.log(k))

    first = int(rng.integers(size))
    chosen = [first]
    d2 = np.full(size, np.inf, np.float32)
    _, d2 = _best_candidate(pool_t, pool_sq, d2, np.array([first], np.int64))
    d2 = d2.numpy()
    for _ in range(1, k):
        total = d2.sum(dtype=np.float64)
        if total > 0:
            candidates = np.searchsorted(np.cumsum(d2, dtype=np.float64),
                                         rng.random(trials) * total, side="right")
            candidates = np.minimum(candidates, size - 1)
        else:  # every point duplicates a chosen one: take any other index
            free = np.setdiff1d(np.arange(size), chosen)
            candidates = free[rng.integers(free.size, size=1)]
        best, d2 = _best_candidate(pool_t, pool_sq, d2, candidates.astype(np.int64))
        chosen.append(int(best))
        d2 = d2.numpy()
    return pool[chosen].astype(np.float32)


@tf.function(input_signature=[
    tf.TensorSpec([None, None], tf.float32),
    tf.TensorSpec([None], tf.float32),
    tf.TensorSpec([None], tf.float32),
    tf.TensorSpec([None], tf.int64)])
def _best_candidate(pool, pool_sq, d2, candidates):
    """The candidate whose addition lowers the k-means++ potential most, and the new D^2.

    ``d2`` holds every pool point's squared distance to its nearest chosen centroid;
    returns ``(index, d2 after adding it)`` with the chosen point's own entry 0.
    """
    c = tf.gather(pool, candidates)
    dist = (pool_sq[:, None] - 2.0 * tf.matmul(pool, c, transpose_b=True)
            + tf.gather(pool_sq, candidates)[None, :])
    dist = tf.minimum(tf.maximum(dist, 0.0), d2[:, None])
    best = tf.argmin(tf.reduce_sum(dist, axis=0))
    index = candidates[best]
    new_d2 = tf.tensor_scatter_nd_update(dist[:, best], index[None, None], [0.0])
    return index, new_d2


def _split_into_empty(centroids, counts, rng, step):
    """Re-seeds every empty cluster by splitting a donor, in place; returns how many.

    As faiss does: the donor is drawn with probability ``(size - 1) / sum(size - 1)``;
    the empty centroid becomes ``donor + delta`` and the donor ``donor - delta`` with
    ``delta`` a random direction of length ``step``; the donor's count is shared
    between the two so later draws in the same step see the split.
    """
    counts = counts.astype(np.int64).copy()
    reseeded = 0
    for empty in np.flatnonzero(counts == 0):
        spare = np.maximum(counts - 1, 0).astype(np.float64)
        if spare.sum() <= 0:
            break
        donor = int(np.searchsorted(np.cumsum(spare), rng.random() * spare.sum(),
                                    side="right"))
        donor = min(donor, counts.size - 1)
        while spare[donor] == 0:  # guard against round-off at a boundary
            donor -= 1
        delta = rng.standard_normal(centroids.shape[1])
        delta *= step / max(np.linalg.norm(delta), 1e-30)
        base = centroids[donor].astype(np.float64)
        centroids[empty] = base + delta
        centroids[donor] = base - delta
        counts[empty] = counts[donor] // 2
        counts[donor] -= counts[empty]
        reseeded += 1
    return reseeded


def _fill_empty(x, assignments, sq_dist, centroids):
    """Gives every cluster still empty after the last assignment one point, in place.

    The point moved is the one farthest from its centroid among clusters of two or more
    points; it becomes the empty cluster's centroid. Returns how many were filled.
    """
    k = centroids.shape[0]
    counts = np.bincount(assignments, minlength=k)
    filled = 0
    for empty in np.flatnonzero(counts == 0):
        candidates = np.where(counts[assignments] >= 2, sq_dist, -1.0)
        point = int(np.argmax(candidates))
        if candidates[point] < 0:
            break  # fewer points than clusters cannot happen (N >= K is checked)
        counts[assignments[point]] -= 1
        counts[empty] = 1
        assignments[point] = empty
        sq_dist[point] = 0.0
        centroids[empty] = x[point]
        filled += 1
    return filled


def _as_matrix(features, name):
    try:
        x = np.asarray(features, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{name}: expected an (N, D) array of numbers ({e})") from None
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise UsageError(f"{name} has shape {x.shape}: expected (N, D) with N, D >= 1")
    if not np.all(np.isfinite(x)):
        raise UsageError(f"{name} contains NaN or infinite values")
    return x


def _as_labels(labels, name):
    a = np.asarray(labels)
    if a.ndim != 1 or a.size < 1:
        raise UsageError(f"{name} has shape {a.shape}: expected (N,) with N >= 1")
    if not np.issubdtype(a.dtype, np.integer):
        raise UsageError(f"{name} has dtype {a.dtype}: expected integers")
    return a.astype(np.int64)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name}={value!r}: must be an integer >= {minimum}")
    if value < minimum:
        raise UsageError(f"{name}={value}: must be >= {minimum}")
