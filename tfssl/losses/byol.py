"""The normalised mean squared error of BYOL."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfssl")
class NormalizedMSE(keras.losses.Loss):
    """BYOL regression loss (Grill et al. 2020), ``loss = NormalizedMSE()(z, p)``.

    ``y_true`` is the target projection ``z`` (from the target network) and ``y_pred``
    the online prediction ``p``, both ``(N, D)``. Each row is L2 normalised and the loss
    of an example is the squared distance of the unit vectors,

        ``||p / |p| - z / |z| ||^2 = 2 - 2 * cos(p, z)``,

    in ``[0, 4]``. :meth:`call` returns these ``(N,)`` per-example values and Keras reduces
    them (by default to their mean). The value is symmetric in its two arguments and
    always computed in float32.

    The loss does not stop the gradient of the target: BYOL computes ``z`` with the
    momentum (target) network, outside the gradient, and symmetrises the loss over the two
    views; both are the method's job. The loss is per example, so under
    ``tf.distribute`` nothing is gathered: Keras' reduction already divides each
    replica's mean by the replica count.

    Args:
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = NormalizedMSE()
        >>> value = loss(target_projection, online_prediction)

    References:
        Grill et al. 2020, "Bootstrap your own latent: A new approach to self-supervised
        learning", NeurIPS, eq. 2.
    """

    def __init__(self, reduction="sum_over_batch_size", name="normalized_mse", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        z = tf.math.l2_normalize(tf.cast(y_true, tf.float32), axis=-1)
        p = tf.math.l2_normalize(tf.cast(y_pred, tf.float32), axis=-1)
        return 2.0 - 2.0 * tf.reduce_sum(p * z, axis=-1)

    def get_config(self):
        return super().get_config()
