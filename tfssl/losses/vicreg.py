"""The variance-invariance-covariance regularisation loss of VICReg."""


import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.errors import UsageError, check_number


def _variance_and_covariance(z, gamma, epsilon):
    """``v(Z)`` and ``c(Z)`` of one branch ``(N, D)`` (float32, N >= 2)."""
    n = tf.cast(tf.shape(z)[0], tf.float32)
    d = tf.cast(tf.shape(z)[1], tf.float32)
    centred = z - tf.reduce_mean(z, axis=0, keepdims=True)
    cov = tf.matmul(centred, centred, transpose_a=True) / (n - 1.0)  # (D, D), unbiased
    var = tf.linalg.diag_part(cov)
    variance = tf.reduce_mean(tf.nn.relu(gamma - tf.sqrt(var + epsilon)))
    off = cov - tf.linalg.diag(var)
    covariance = tf.reduce_sum(tf.square(off)) / d
    return variance, covariance


def vicreg_terms(z1, z2, *, gamma, epsilon):
    """The three unweighted VICReg terms of a pair of branches.

    Inside a ``tf.distribute`` replica context ``z1`` and ``z2`` are first gathered from
    every replica (:func:`tfssl.distribute.replicas.all_gather`), so every term is a
    statistic of the global batch and every replica gets the same values.

    Args:
        z1, z2: the ``(N, D)`` embeddings of the two views on this replica; the global
            batch must hold at least 2 examples (the variances are unbiased).
        gamma: target standard deviation of every dimension, > 0.
        epsilon: added to the variance under the square root, > 0.

    Returns:
        A dict of float32 scalars: ``invariance`` (mean squared difference of ``z1`` and
        ``z2`` over the batch and the dimensions), ``variance`` (``v(Z1) + v(Z2)`` with
        ``v(Z) = mean_j relu(gamma - sqrt(Var(Z_j) + epsilon))``) and ``covariance``
        (``c(Z1) + c(Z2)`` with ``c(Z) = sum_{i != j} Cov(Z)_ij^2 / D``).
    """
    gamma = check_number("gamma", gamma, strict=True)
    epsilon = check_number("epsilon", epsilon, strict=True)
    z1 = replicas.all_gather(tf.cast(z1, tf.float32))
    z2 = replicas.all_gather(tf.cast(z2, tf.float32))
    if z1.shape.rank is not None and z1.shape[0] is not None and z1.shape[0] < 2:
        raise UsageError(f"batch size={z1.shape[0]}: VICReg needs at least 2 examples")
    v1, c1 = _variance_and_covariance(z1, gamma, epsilon)
    v2, c2 = _variance_and_covariance(z2, gamma, epsilon)
    return {
        "invariance": tf.reduce_mean(tf.square(z1 - z2)),
        "variance": v1 + v2,
        "covariance": c1 + c2,
    }


@keras.saving.register_keras_serializable(package="tfssl")
class VICRegLoss(keras.losses.Loss):
    """VICReg loss (Bardes et al. 2022), ``loss = VICRegLoss()(z1, z2)``.

    ``z1`` and ``z2`` are the embeddings ``(N, D)`` of two augmented views of the same
    ``N`` images. With the terms of :func:`vicreg_terms`,

        ``loss = sim_weight * invariance + var_weight * variance + cov_weight * covariance``

    where ``invariance`` is the mean squared error of ``z1`` and ``z2`` (averaged over the
    batch and the dimensions, as ``F.mse_loss`` in the authors' code), ``variance`` is
    ``v(Z1) + v(Z2)`` (a hinge on the unbiased per-dimension std,
    ``mean_j relu(gamma - sqrt(Var(Z_j) + epsilon))``) and ``covariance`` is
    ``c(Z1) + c(Z2)`` (the squared off-diagonal entries of the unbiased covariance matrix,
    summed and divided by ``D``), as in the paper's eq. 6. (The authors' code averages
    the two variance terms instead of summing them: halve ``var_weight`` to match it.)

    The loss is a statistic of the whole batch, so :meth:`call` returns a scalar (Keras'
    reductions leave a scalar as it is). It is symmetric in ``z1`` / ``z2`` and always
    computed in float32.

    Global batch: inside a ``tf.distribute`` replica context ``z1`` and ``z2`` are first
    gathered from every replica with :func:`tfssl.distribute.replicas.all_gather`, so all
    three terms span the global batch and every replica returns the same global value.
    Keras does not scale a scalar loss for distribution: divide it by the replica count
    before differentiating (:func:`tfssl.distribute.replicas.scale_loss`, which the
    methods' ``train_step`` does), since the gradients of the replicas are summed. With
    one replica the gather is the identity.

    Args:
        sim_weight: weight of the invariance term (lambda in the paper), >= 0.
        var_weight: weight of the variance term (mu), >= 0.
        cov_weight: weight of the covariance term (nu), >= 0.
        gamma: target standard deviation of every dimension, > 0.
        epsilon: added to the variance under the square root, > 0.
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = VICRegLoss()
        >>> value = loss(z1, z2)
        >>> logs = loss.terms(z1, z2)  # {"invariance", "variance", "covariance"}

    References:
        Bardes, Ponce & LeCun 2022, "VICReg: Variance-Invariance-Covariance Regularization
        for Self-Supervised Learning", ICLR, eq. 1-6.
    """

    def __init__(self, sim_weight=25.0, var_weight=25.0, cov_weight=1.0, gamma=1.0,
                 epsilon=1e-4, reduction="sum_over_batch_size", name="vicreg", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.sim_weight = check_number("sim_weight", sim_weight, strict=False)
        self.var_weight = check_number("var_weight", var_weight, strict=False)
        self.cov_weight = check_number("cov_weight", cov_weight, strict=False)
        self.gamma = check_number("gamma", gamma, strict=True)
        self.epsilon = check_number("epsilon", epsilon, strict=True)

    def terms(self, z1, z2):
        """:func:`vicreg_terms` with this loss's ``gamma`` and ``epsilon``."""
        return vicreg_terms(z1, z2, gamma=self.gamma, epsilon=self.epsilon)

    def combine(self, terms):
        """The weighted sum of the terms returned by :meth:`terms`."""
        return (self.sim_weight * terms["invariance"] + self.var_weight * terms["variance"]
                + self.cov_weight * terms["covariance"])

    def call(self, y_true, y_pred):
        return self.combine(self.terms(y_true, y_pred))

    def get_config(self):
        config = super().get_config()
        config.update(sim_weight=self.sim_weight, var_weight=self.var_weight,
                      cov_weight=self.cov_weight, gamma=self.gamma, epsilon=self.epsilon)
        return config
