"""Weighted k-nearest-neighbour classification on frozen features (Wu et al. 2018)."""

import numpy as np
import tensorflow as tf

from tfssl.errors import UsageError, check_number

DEFAULT_K = 20
DEFAULT_TEMPERATURE = 0.07


def check_knn(k, temperature):
    """The one validation of the kNN settings; returns ``(k, temperature)``."""
    if int(k) != k or k < 1:
        raise UsageError(f"knn_k={k}: must be a whole number >= 1")
    return int(k), check_number("knn_temperature", temperature)


# Similarities held at once (queries x memory bank): 2**24 float32 = 64 MiB, whatever the
# size of the bank (1024 queries against 45,000 CIFAR images used to take 184 MB, and
# against ImageNet's 1.28M, 5 GB).
MAX_SIMILARITIES = 1 << 24


def knn_predict(train_features, train_labels, query_features, num_classes, k=DEFAULT_K,
                temperature=DEFAULT_TEMPERATURE, batch_size=1024):
    """Class scores by temperature-weighted cosine-similarity votes of the k neighbours.

    Each of the ``k`` most similar training examples votes for its class with weight
    ``exp(similarity / temperature)``. Queries go ``batch_size`` at a time, fewer when
    the bank is large (at most :data:`MAX_SIMILARITIES` similarities at once).

    Returns:
        ``(num_queries, num_classes)`` float32 vote totals.
    """
    k, temperature = check_knn(k, temperature)
    bank = tf.math.l2_normalize(tf.constant(train_features, tf.float32), axis=1)
    labels = tf.constant(train_labels, tf.int32)
    k = min(k, int(bank.shape[0]))
    batch_size = max(1, min(batch_size, MAX_SIMILARITIES // max(1, int(bank.shape[0]))))
    out = []
    for start in range(0, len(query_features), batch_size):
        q = tf.math.l2_normalize(
            tf.constant(query_features[start:start + batch_size], tf.float32), axis=1)
        sim, idx = tf.math.top_k(tf.matmul(q, bank, transpose_b=True), k=k)
        weights = tf.exp(sim / temperature)
        onehot = tf.one_hot(tf.gather(labels, idx), num_classes)
        out.append(tf.reduce_sum(onehot * weights[..., None], axis=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, num_classes), np.float32)


def knn_accuracy(train_features, train_labels, test_features, test_labels, k=DEFAULT_K,
                 temperature=DEFAULT_TEMPERATURE, num_classes=None):
    """Top-1 accuracy of :func:`knn_predict`."""
    num_classes = num_classes or int(max(np.max(train_labels), np.max(test_labels))) + 1
    scores = knn_predict(train_features, train_labels, test_features, num_classes, k,
                         temperature)
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(test_labels)))


def evaluate_knn(encoder, train_data, test_data, k=DEFAULT_K, temperature=DEFAULT_TEMPERATURE,
                 batch_size=256):
    """kNN top-1 of ``encoder`` with ``train_data`` as memory bank, on ``test_data``.

    ``train_data`` / ``test_data`` are :class:`tfssl.data.ImageData` with labels.
    """
    from tfssl.eval.features import extract_features

    train_f = extract_features(encoder, train_data, batch_size)
    test_f = extract_features(encoder, test_data, batch_size)
    return knn_accuracy(train_f, train_data.labels, test_f, test_data.labels, k,
                        temperature, max(train_data.num_classes, test_data.num_classes))
