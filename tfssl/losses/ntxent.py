"""NT-Xent: the normalised temperature-scaled cross-entropy of SimCLR."""

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.errors import check_number

_NEG_INF = -1e9


def ntxent_logits(z1, z2, temperature):
    """Similarity logits of every local anchor against every candidate.

    Args:
        z1, z2: ``(n, d)`` projections of the two views on this replica.
        temperature: softmax temperature.

    Returns:
        ``(logits, labels)``: ``logits`` is ``(2n, 2N)`` float32 for the global batch
        ``N`` of the replicas in sync (candidates ``[Z1 of all replicas; Z2 of all
        replicas]``; replicas may hold different ``n``), with each
        anchor's similarity to itself masked out; ``labels`` ``(2n,)`` holds the column of
        each anchor's positive (the other view of the same image).
    """
    z1 = tf.math.l2_normalize(tf.cast(z1, tf.float32), axis=-1)
    z2 = tf.math.l2_normalize(tf.cast(z2, tf.float32), axis=-1)
    n = tf.shape(z1)[0]
    big1 = replicas.all_gather(z1)
    big2 = replicas.all_gather(z2)
    total = tf.shape(big1)[0]  # the global batch
    offset = replicas.gather_offset(n)  # replicas may hold different sizes (3 + 2)

    anchors = tf.concat([z1, z2], axis=0)  # (2n, d)
    candidates = tf.concat([big1, big2], axis=0)  # (2N, d)
    logits = tf.matmul(anchors, candidates, transpose_b=True) / temperature

    local = tf.range(n) + offset
    self_cols = tf.concat([local, local + total], axis=0)
    pos_cols = tf.concat([local + total, local], axis=0)
    self_mask = tf.one_hot(self_cols, 2 * total, dtype=tf.float32)
    logits = logits + self_mask * _NEG_INF
    return logits, pos_cols


@keras.saving.register_keras_serializable(package="tfssl")
class NTXent(keras.losses.Loss):
    """NT-Xent contrastive loss (Chen et al. 2020), ``loss = NTXent()(z1, z2)``.

    ``z1`` and ``z2`` are the projections ``(N, D)`` of two augmented views of the
    same ``N`` images (row ``i`` of each is the same image). After L2 normalisation every
    one of the ``2N`` embeddings is an anchor whose positive is the other view of its
    image and whose negatives are the other ``2N - 2`` embeddings; the loss of an anchor
    is ``-log softmax`` of the positive's cosine similarity divided by ``temperature``.
    The per-example value returned to Keras is the mean of the two anchors of an image,
    so the default reduction gives the mean over all ``2N`` anchors. The loss is
    symmetric in ``z1`` / ``z2`` and always computed in float32.

    Inside a ``tf.distribute`` replica context the candidates are gathered from all
    replicas, so every anchor sees ``2 * global_batch - 2`` negatives, as in the
    paper's large-batch setting; with one replica it is exact as above.

    Args:
        temperature: softmax temperature, > 0.
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = NTXent(temperature=0.5)
        >>> value = loss(z1, z2)
    """

    def __init__(self, temperature=0.5, reduction="sum_over_batch_size", name="ntxent",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.temperature = check_number("temperature", temperature)

    def call(self, y_true, y_pred):
        return ntxent_loss_and_accuracy(y_true, y_pred, self.temperature)[0]

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config


def ntxent_loss_and_accuracy(z1, z2, temperature):
    """Per-image NT-Xent ``(N,)`` and the contrastive accuracy, from one similarity matrix.

    The loss of an image is the mean of its two anchors' cross-entropies (what
    :class:`NTXent` returns); the accuracy is the fraction of the ``2N`` anchors whose
    positive is ranked first (no gradient). A training step that logs both computes the
    ``(2N, 2N)`` matrix once.
    """
    logits, labels = ntxent_logits(z1, z2, temperature)
    per_anchor = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    n = tf.shape(z1)[0]
    ranked = tf.argmax(tf.stop_gradient(logits), axis=-1, output_type=tf.int32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(ranked, labels), tf.float32))
    return 0.5 * (per_anchor[:n] + per_anchor[n:]), accuracy


def ntxent_accuracy(z1, z2, temperature=1.0):
    """Fraction of the ``2N`` anchors whose positive is ranked first among all candidates."""
    logits, labels = ntxent_logits(z1, z2, temperature)
    hit = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
    return tf.reduce_mean(tf.cast(hit, tf.float32))
