"""The redundancy-reduction loss of Barlow Twins."""


import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.errors import check_number


def standardize(z, epsilon):
    """``(z - mean) / sqrt(var + epsilon)`` per column, with the biased (1/N) variance.

    This is batch normalisation without affine parameters, in float32.
    """
    z = tf.cast(z, tf.float32)
    mean, var = tf.nn.moments(z, axes=[0], keepdims=True)
    return (z - mean) * tf.math.rsqrt(var + epsilon)


def cross_correlation(z1, z2, epsilon):
    """The ``(D, D)`` cross-correlation of the standardised columns of ``z1`` and ``z2``.

    ``z1``, ``z2`` are ``(N, D)`` on the batch the statistics are taken over (no
    gathering here). ``C[i, j]`` is in ``[-1, 1]`` up to ``epsilon``.
    """
    z1n = standardize(z1, epsilon)
    z2n = standardize(z2, epsilon)
    n = tf.cast(tf.shape(z1n)[0], tf.float32)
    return tf.matmul(z1n, z2n, transpose_a=True) / n


@keras.saving.register_keras_serializable(package="tfssl")
class BarlowTwinsLoss(keras.losses.Loss):
    """Barlow Twins loss (Zbontar et al. 2021), ``loss = BarlowTwinsLoss()(z1, z2)``.

    ``z1`` and ``z2`` are the projections ``(N, D)`` of two augmented views of the same
    ``N`` images. Every dimension is standardised over the batch (mean 0, std 1 with the
    biased 1/N variance and ``epsilon`` added to it, as the paper's batch normalisation
    without affine parameters), then the cross-correlation matrix
    ``C = z1n^T z2n / N`` (``(D, D)``) is pushed to the identity:

        ``loss = sum_i (1 - C_ii)^2 + lambda_ * sum_{i != j} C_ij^2``.

    The loss is a statistic of the whole batch, so :meth:`call` returns a scalar (Keras'
    reductions leave a scalar as it is). It is symmetric in ``z1`` / ``z2`` and always
    computed in float32.

    Global batch: inside a ``tf.distribute`` replica context ``z1`` and ``z2`` are first
    gathered from every replica with :func:`tfssl.distribute.replicas.all_gather`, so the
    standardisation and ``C`` span the global batch (as the paper's synchronised batch
    norm and all-reduced ``C``), and every replica returns the same global value. Keras
    does not scale a scalar loss for distribution: divide it by the replica count before
    differentiating (:func:`tfssl.distribute.replicas.scale_loss`, which the methods'
    ``train_step`` does), since the gradients of the replicas are summed. With one
    replica the gather is the identity.

    Args:
        lambda_: weight of the off-diagonal (redundancy reduction) term, >= 0.
        epsilon: added to the variance when standardising, > 0.
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = BarlowTwinsLoss(lambda_=5e-3)
        >>> value = loss(z1, z2)

    References:
        Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via Redundancy
        Reduction", ICML, eq. 1-2 and algorithm 1.
    """

    def __init__(self, lambda_=5e-3, epsilon=1e-5, reduction="sum_over_batch_size",
                 name="barlow_twins", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.lambda_ = check_number("lambda_", lambda_, strict=False)
        self.epsilon = check_number("epsilon", epsilon, strict=True)

    def call(self, y_true, y_pred):
        z1 = replicas.all_gather(tf.cast(y_true, tf.float32))
        z2 = replicas.all_gather(tf.cast(y_pred, tf.float32))
        c = cross_correlation(z1, z2, self.epsilon)
        diag = tf.linalg.diag_part(c)
        on_diag = tf.reduce_sum(tf.square(1.0 - diag))
        off_diag = tf.reduce_sum(tf.square(c - tf.linalg.diag(diag)))
        return on_diag + self.lambda_ * off_diag

    def get_config(self):
        config = super().get_config()
        config.update(lambda_=self.lambda_, epsilon=self.epsilon)
        return config
