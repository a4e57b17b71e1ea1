"""InfoNCE of MoCo: against a queue of negatives (v1 / v2) or in-batch keys (v3)."""


import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.errors import check_number


def infonce_logits(q, k, queue, temperature):
    """Logits of each query against its key and a queue of negatives (MoCo v1 / v2).

    Args:
        q: ``(N, D)`` queries (online encoder); L2 normalised here.
        k: ``(N, D)`` keys (momentum encoder), row ``i`` the positive of query ``i``;
            L2 normalised here.
        queue: ``(K, D)`` negative keys, rows already L2 normalised (not normalised here).
        temperature: softmax temperature, > 0.

    Returns:
        ``(logits, labels)``: ``logits`` is ``(N, 1 + K)`` float32, column 0 the positive
        ``q_i . k_i`` and columns ``1..K`` the negatives ``q_i . queue_j``, all divided by
        ``temperature``; ``labels`` is ``(N,)`` int32 zeros.

    No gradient is stopped here (MoCo computes ``k`` without gradient and never
    differentiates the queue; the method does that), and nothing is gathered across
    replicas: the queue is shared, each replica's queries are compared with it locally.
    """
    temperature = check_number("temperature", temperature)
    q = tf.math.l2_normalize(tf.cast(q, tf.float32), axis=-1)
    k = tf.math.l2_normalize(tf.cast(k, tf.float32), axis=-1)
    queue = tf.cast(queue, tf.float32)
    pos = tf.reduce_sum(q * k, axis=-1, keepdims=True)  # (N, 1)
    neg = tf.matmul(q, queue, transpose_b=True)  # (N, K)
    logits = tf.concat([pos, neg], axis=1) / temperature
    labels = tf.zeros(tf.shape(q)[:1], tf.int32)
    return logits, labels


def infonce_queue_loss(q, k, queue, temperature):
    """Per-example InfoNCE ``(N,)`` float32 against a queue (MoCo v1 / v2, eq. 1).

    ``-log softmax`` of the positive among the ``1 + K`` logits of
    :func:`infonce_logits` (same arguments); ``tf.reduce_mean`` of it is MoCo's loss.
    """
    logits, labels = infonce_logits(q, k, queue, temperature)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


def infonce_batch_logits(q, k, temperature):
    """Logits of each local query against the keys of the global batch (MoCo v3).

    Args:
        q: ``(n, D)`` queries on this replica; L2 normalised here.
        k: ``(n, D)`` keys on this replica, row ``i`` the positive of query ``i``;
            L2 normalised here.
        temperature: softmax temperature, > 0.

    Returns:
        ``(logits, labels)``: ``logits`` is ``(n, N)`` float32 for the global batch ``N``
        of the replicas in sync (the keys of all replicas gathered in replica order),
        divided by ``temperature``; ``labels`` ``(n,)`` holds the column of each
        query's own key (this replica's offset among the gathered rows + ``i``).
    """
    temperature = check_number("temperature", temperature)
    q = tf.math.l2_normalize(tf.cast(q, tf.float32), axis=-1)
    k = tf.math.l2_normalize(tf.cast(k, tf.float32), axis=-1)
    n = tf.shape(q)[0]
    keys = replicas.all_gather(k)  # (N, D)
    logits = tf.matmul(q, keys, transpose_b=True) / temperature
    labels = tf.range(n) + replicas.gather_offset(n)
    return logits, labels


@keras.saving.register_keras_serializable(package="tfssl")
class InfoNCE(keras.losses.Loss):
    """In-batch InfoNCE of MoCo v3 (Chen, Xie & He 2021), ``loss = InfoNCE()(k, q)``.

    ``y_true`` holds the keys ``k`` (momentum encoder) and ``y_pred`` the queries ``q``
    (online encoder), both ``(N, D)``, row ``i`` of each from the same image. After L2
    normalisation each query is classified among all keys of the batch by
    ``q k^T / temperature``, its own key being the positive and the other ``N - 1`` the
    negatives; :meth:`call` returns the ``(N,)`` per-example cross-entropies and Keras
    reduces them (by default to their mean). MoCo v3 symmetrises this over the two views
    and multiplies it by ``2 * temperature``; that is the method's job. Always computed
    in float32; the gradient is not stopped (MoCo computes the keys without gradient).

    Inside a ``tf.distribute`` replica context the keys are gathered from all replicas
    (:func:`tfssl.distribute.replicas.all_gather`), so every query sees
    ``global_batch - 1`` negatives; the positive of local query ``i`` on replica ``r`` is
    column ``r * n + i``. Keras' reduction divides each replica's mean by the replica
    count, so the sum over replicas is the one-device loss of the global batch.

    For MoCo v1 / v2, with a queue of negatives, see :func:`infonce_queue_loss`.

    Args:
        temperature: softmax temperature, > 0.
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = InfoNCE(temperature=0.2)
        >>> value = loss(k2, q1) + loss(k1, q2)

    References:
        He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
        Learning", CVPR, eq. 1; Chen et al. 2020, "Improved Baselines with Momentum
        Contrastive Learning" (MoCo v2); Chen, Xie & He 2021, "An Empirical Study of
        Training Self-Supervised Vision Transformers", ICCV, eq. 1 (MoCo v3).
    """

    def __init__(self, temperature=0.2, reduction="sum_over_batch_size", name="infonce",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.temperature = check_number("temperature", temperature)

    def call(self, y_true, y_pred):
        logits, labels = infonce_batch_logits(y_pred, y_true, self.temperature)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
