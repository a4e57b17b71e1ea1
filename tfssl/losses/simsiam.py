"""The negative cosine similarity of SimSiam."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfssl")
class NegativeCosine(keras.losses.Loss):
    """SimSiam loss D (Chen & He 2021), ``loss = NegativeCosine()(z, p)``.

    ``y_true`` is the projection ``z`` of one view and ``y_pred`` the prediction ``p`` of
    the other, both ``(N, D)``. The loss of an example is the negative cosine similarity
    ``-cos(p, z) = -(p / |p|) . (z / |z|)``, in ``[-1, 1]``. :meth:`call` returns these
    ``(N,)`` per-example values and Keras reduces them (by default to their mean). The
    value is symmetric in its two arguments and always computed in float32.

    The gradient is NOT stopped here: SimSiam's ``D(p, stopgrad(z))`` and its
    symmetrisation ``D(p1, z2) / 2 + D(p2, z1) / 2`` are the method's job, so that the
    collapse without stop-gradient (the paper's section 4.1) can be reproduced with this
    same loss. The loss is per example, so under ``tf.distribute`` nothing is gathered.

    Args:
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = NegativeCosine()
        >>> value = 0.5 * (loss(tf.stop_gradient(z2), p1) + loss(tf.stop_gradient(z1), p2))

    References:
        Chen & He 2021, "Exploring Simple Siamese Representation Learning", CVPR, eq. 1.
    """

    def __init__(self, reduction="sum_over_batch_size", name="negative_cosine", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        z = tf.math.l2_normalize(tf.cast(y_true, tf.float32), axis=-1)
        p = tf.math.l2_normalize(tf.cast(y_pred, tf.float32), axis=-1)
        return -tf.reduce_sum(p * z, axis=-1)

    def get_config(self):
        return super().get_config()
