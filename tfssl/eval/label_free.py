"""Label-free representation metrics: is this representation any good, without labels?

Each metric takes NumPy features ``(N, D)`` and returns plain Python numbers; the maths
runs in float64. They answer questions a kNN or linear probe cannot, or answer them
without labels:

============================  ===============================================  ============
metric                        collapsed representation                         healthy
============================  ===============================================  ============
:func:`rankme`                ~1 (rank one)                                    close to D
:func:`uniformity`            0                                                about -2t
:func:`alignment`             0 (trivially aligned)                            small
:func:`dimension_std`         ``std_mean`` ~0, ``collapsed_fraction`` ~1       ~1/sqrt(D)
:func:`cluster_nmi` (labels)  ~0                                               close to 1
============================  ===============================================  ============

Alignment must be read together with uniformity: a collapsed encoder is perfectly aligned.
:func:`label_free_metrics` computes them all from arrays, :func:`image_label_free_metrics`
from an encoder and an :class:`tfssl.data.ImageData` (views drawn with
:func:`tfssl.augment.two_views`), and :class:`tfssl.eval.callbacks.LabelFreeMonitor`
logs them during training.

References:
    - Garrido, Balestriero, Najman, LeCun. "RankMe: Assessing the Downstream Performance
      of Pretrained Self-Supervised Representations by Their Rank". ICML 2023.
      https://arxiv.org/abs/2210.02885
    - Wang, Isola. "Understanding Contrastive Representation Learning through Alignment
      and Uniformity on the Hypersphere". ICML 2020. https://arxiv.org/abs/2005.10242
    - Chen, He. "Exploring Simple Siamese Representation Learning" (SimSiam). CVPR 2021,
      section 4.1 (std of the L2-normalised output). https://arxiv.org/abs/2011.10566
    - Caron, Bojanowski, Joulin, Douze. "Deep Clustering for Unsupervised Learning of
      Visual Features". ECCV 2018 (NMI of k-means clusters and classes).
"""

import numbers

import numpy as np

from tfssl.errors import UsageError

# A dimension whose std is below this fraction of the healthy 1/sqrt(D) counts as collapsed.
COLLAPSED_STD_FRACTION = 0.01
_NORM_EPS = 1e-12
_ROW_BLOCK = 1024


def _matrix(features, name="features"):
    """``features`` as a finite float64 ``(N, D)`` array with N >= 1."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise UsageError(f"{name}: expected a (N, D) array with N, D >= 1, got shape "
                         f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise UsageError(f"{name}: contains NaN or infinite values")
    return x


def _l2_normalize(x):
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    norm = np.sqrt(np.maximum(np.sum(x * x, axis=1, keepdims=True), _NORM_EPS))
    return x / norm


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise UsageError(f"{name}={value!r}: must be a whole number >= {low}")
    return int(value)


def subsample_indices(n, max_examples, seed):
    """Sorted indices of a seeded subsample of at most ``max_examples`` of ``n``."""
    max_examples = _check_int("max_examples", max_examples, 2)
    if n <= max_examples:
        return np.arange(n)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    return np.sort(rng.choice(n, size=max_examples, replace=False))


def rankme(features, eps=1e-7):
    """RankMe, the smooth effective rank of the feature matrix (Garrido et al. 2023).

    With ``s`` the singular values of the ``(N, D)`` feature matrix (not centred, as in
    the paper), ``p_k = s_k / sum(s) + eps`` and

        ``RankMe = exp(-sum_k p_k log p_k)``,

    between 1 (rank one: every feature a multiple of the same vector, i.e. collapse) and
    ``min(N, D)`` (all singular values equal). An isotropic Gaussian with ``N >> D``
    gives close to ``D``. Higher correlates with better downstream accuracy within a
    method (the paper's finding).

    Args:
        features: ``(N, D)`` array-like.
        eps: the small constant added to every ``p_k`` (the paper's epsilon).

    Returns:
        A float; 1.0 for all-zero features.
    """
    x = _matrix(features)
    s = np.linalg.svd(x, compute_uv=False)
    total = np.sum(s)
    if total <= 0:
        return 1.0
    p = s / total + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def alignment(z1, z2, alpha=2):
    """Alignment of positive pairs (Wang & Isola 2020).

    ``E ||f(x) - f(y)||_2^alpha`` over positive pairs ``(x, y)``, with ``f`` the
    L2-normalised features: the mean over rows ``i`` of ``||z1_i - z2_i||^alpha``. It is
    in ``[0, 2^alpha]``; 0 when the two views of every example map to the same point.

    Args:
        z1, z2: ``(N, D)`` features of the two views; row ``i`` of each is a pair.
        alpha: the exponent, > 0 (the paper uses 2).

    Returns:
        A float (lower is better aligned).
    """
    a = _l2_normalize(_matrix(z1, "z1"))
    b = _l2_normalize(_matrix(z2, "z2"))
    if a.shape != b.shape:
        raise UsageError(f"z1 has shape {a.shape} and z2 {b.shape}: expected the same")
    if not (isinstance(alpha, numbers.Real) and alpha > 0):
        raise UsageError(f"alpha={alpha!r}: must be a number > 0")
    dist = np.sqrt(np.sum((a - b) ** 2, axis=1))
    return float(np.mean(dist ** alpha))


def uniformity(z, t=2, max_examples=4096, seed=0):
    """Uniformity on the hypersphere (Wang & Isola 2020).

    The log of the mean Gaussian potential over pairs of distinct examples,

        ``log( 1 / (N (N-1)) * sum_{i != j} exp(-t ||z_i - z_j||^2) )``

    of the L2-normalised features (``||z_i - z_j||^2 = 2 - 2 z_i . z_j``). It is 0 when
    every example maps to the same point and decreases as the points spread; points
    uniform on a high-dimensional sphere are nearly orthogonal (squared distance ~2),
    giving about ``-2t`` (-4 for ``t = 2``). The lower bound is ``-4t``.

    Args:
        z: ``(N, D)`` features, ``N >= 2``.
        t: the potential's scale, > 0 (the paper uses 2).
        max_examples: a seeded random subsample of this many examples is used when ``N``
            is larger (the pair count grows as ``N^2``).
        seed: seed of the subsample.

    Returns:
        A float in ``[-4t, 0]`` (lower is more uniform).
    """
    x = _matrix(z, "z")
    if x.shape[0] < 2:
        raise UsageError(f"uniformity needs at least 2 examples, got {x.shape[0]}")
    if not (isinstance(t, numbers.Real) and t > 0):
        raise UsageError(f"t={t!r}: must be a number > 0")
    x = _l2_normalize(x[subsample_indices(x.shape[0], max_examples, seed)])
    n = x.shape[0]
    # log-sum-exp over blocks of rows, the diagonal (i == j) left out.
    block_max, block_sums = [], []
    for start in range(0, n, _ROW_BLOCK):
        sq = np.maximum(2.0 - 2.0 * x[start:start + _ROW_BLOCK] @ x.T, 0.0)
        logits = -t * sq
        rows = np.arange(logits.shape[0])
        logits[rows, start + rows] = -np.inf
        m = np.max(logits)
        block_max.append(m)
        block_sums.append(np.sum(np.exp(logits - m)))
    m = max(block_max)
    total = sum(s * np.exp(bm - m) for s, bm in zip(block_sums, block_max))
    return float(m + np.log(total) - np.log(n * (n - 1.0)))


def dimension_std(features):
    """Per-dimension standard deviation of the L2-normalised features (SimSiam, sec. 4.1).

    Every row is scaled to unit norm and the (population) std of each of the ``D``
    dimensions is taken over the ``N`` examples. If the features were isotropic
    Gaussian, each normalised coordinate would have std ``1/sqrt(D)``: that is the
    reference value of a non-collapsed representation, and a collapsed one (every
    example mapped to the same vector) gives 0 in every dimension. Dimensions with std
    below ``0.01/sqrt(D)`` count as collapsed.

    Args:
        features: ``(N, D)`` array-like.

    Returns:
        ``{"std_mean", "std_min", "std_max", "collapsed_fraction", "dims"}``: mean, min
        and max over dimensions of the std, the fraction of collapsed dimensions and
        ``D`` (compare ``std_mean`` with ``1/sqrt(dims)``).
    """
    x = _l2_normalize(_matrix(features))
    d = x.shape[1]
    std = np.std(x, axis=0)
    return {"std_mean": float(np.mean(std)), "std_min": float(np.min(std)),
            "std_max": float(np.max(std)),
            "collapsed_fraction": float(np.mean(std < COLLAPSED_STD_FRACTION / np.sqrt(d))),
            "dims": int(d)}


def cluster_nmi(features, labels, num_clusters=None, seed=0):
    """NMI between k-means clusters of the features and the classes (DeepCluster's NMI).

    The L2-normalised features are clustered with :func:`tfssl.cluster.kmeans`
    (k-means++, ``num_clusters`` clusters, by default the number of distinct labels),
    then ``NMI = I(C; Y) / ((H(C) + H(Y)) / 2)`` of the clusters ``C`` and the labels
    ``Y`` is computed with ``sklearn.metrics.normalized_mutual_info_score`` (through
    :func:`tfssl.cluster.nmi`). About 1 when the classes form separate clusters, about
    0 when the clusters say nothing about the labels.

    Args:
        features: ``(N, D)`` array-like.
        labels: ``(N,)`` integer class ids.
        num_clusters: number of clusters, ``1 <= K <= N``; ``None``: the number of classes.
        seed: seed of the k-means.

    Returns:
        A float in ``[0, 1]``.
    """
    from tfssl.cluster import kmeans, nmi

    x = _l2_normalize(_matrix(features))
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise UsageError(f"labels have shape {y.shape}: expected ({x.shape[0]},) to match "
                         "the features")
    if num_clusters is None:
        num_clusters = int(np.unique(y).size)
    result = kmeans(x.astype(np.float32), num_clusters, seed=_check_int("seed", seed, 0))
    return nmi(result.assignments, y)


def label_free_metrics(features, labels=None, view_pairs=None, max_examples=4096, seed=0):
    """All label-free metrics of one set of features, as a flat dict of floats.

    Args:
        features: ``(N, D)`` array-like.
        labels: optional ``(N,)`` class ids; adds ``"nmi"`` (:func:`cluster_nmi`) when
            every label is ``>= 0``.
        view_pairs: optional ``(z1, z2)`` features of two views of the same examples;
            adds ``"alignment"`` (:func:`alignment`).
        max_examples: subsample size of :func:`uniformity`.
        seed: seed of the subsample and of the k-means.

    Returns:
        ``{"rankme", "uniformity", "std_mean", "std_min", "collapsed_fraction", "dims"}``
        plus ``"alignment"`` and ``"nmi"`` when they apply.
    """
    x = _matrix(features)
    std = dimension_std(x)
    out = {"rankme": rankme(x),
           "uniformity": uniformity(x, max_examples=max_examples, seed=seed),
           "std_mean": std["std_mean"], "std_min": std["std_min"],
           "collapsed_fraction": std["collapsed_fraction"], "dims": std["dims"]}
    if view_pairs is not None:
        z1, z2 = view_pairs
        out["alignment"] = alignment(z1, z2)
    if labels is not None:
        y = np.asarray(labels)
        if y.size and np.all(y >= 0):
            out["nmi"] = cluster_nmi(x, y, seed=seed)
    return out


def _view_images(images, seed):
    """Two :func:`tfssl.augment.two_views` views of every uint8 image, as uint8 arrays.

    Element ``i`` uses the stateless seed ``(seed, i)``, so the views are the same on
    every call whatever the parallelism of the map.
    """
    import tensorflow as tf

    from tfssl.augment import two_views

    size = int(images.shape[1])

    def fn(index, image):
        v1, v2 = two_views(image, size, seed=tf.stack([tf.constant(seed, tf.int64), index]))

        def to_uint8(v):
            return tf.cast(tf.round(tf.clip_by_value(v, 0.0, 1.0) * 255.0), tf.uint8)

        return to_uint8(v1), to_uint8(v2)

    ds = tf.data.Dataset.from_tensor_slices(images).enumerate().map(
        fn, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    first, second = [], []
    for a, b in ds:
        first.append(a.numpy())
        second.append(b.numpy())
    return np.concatenate(first), np.concatenate(second)


def image_label_free_metrics(encoder, data, max_examples=2048, seed=0):
    """:func:`label_free_metrics` of an image encoder on (a subsample of) ``data``.

    The encoder's features of at most ``max_examples`` images (a seeded random subset
    when there are more) give RankMe, uniformity and the per-dimension std; two views
    of each of those images, drawn with the library's default two-view augmentation
    (:func:`tfssl.augment.two_views` at the data's image size, stateless seeds from
    ``seed`` and the image's position), give the alignment; the labels, when every image
    has one, give the NMI. The same ``seed`` gives the same numbers.

    Args:
        encoder: a ``keras.Model``, a reloaded SavedModel or a callable, as taken by
            :func:`tfssl.eval.features.extract_features`.
        data: a :class:`tfssl.data.ImageData`.
        max_examples: the most images used, >= 2.
        seed: seed of the subsample, the views and the k-means.

    Returns:
        The dict of :func:`label_free_metrics`, with ``"alignment"``.
    """
    from tfssl.eval.features import extract_features

    seed = _check_int("seed", seed, 0)
    if len(data) < 2:
        raise UsageError(f"{data.source or 'data'}: label-free metrics need at least 2 "
                         f"images, got {len(data)}")
    sub = data.subset(subsample_indices(len(data), max_examples, seed)).materialize()
    features = extract_features(encoder, sub)
    v1, v2 = _view_images(sub.images, seed)
    z1, z2 = extract_features(encoder, v1), extract_features(encoder, v2)
    labels = sub.labels if sub.labelled else None
    return label_free_metrics(features, labels, (z1, z2), max_examples=max_examples,
                              seed=seed)


__all__ = ["rankme", "alignment", "uniformity", "dimension_std", "cluster_nmi",
           "label_free_metrics", "image_label_free_metrics"]
