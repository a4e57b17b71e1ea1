"""Batch normalisation that takes TensorFlow's fused kernel when it can.

Keras 3 computes batch norm on the TensorFlow backend from separate ops (moments, then
``tf.nn.batch_normalization``): several passes over every activation forward and more
backward. ``FusedBatchNormV3`` (oneDNN on CPU, cuDNN on GPU) does each direction in one
kernel. :class:`BatchNormalization` is Keras's layer (same weights, config, moving-
statistics rule and results up to float rounding) that calls the fused kernel for the
common case and Keras's own ``call`` for everything else.
"""

import keras
import tensorflow as tf

__all__ = ["BatchNormalization"]

_FUSED_INPUT_DTYPES = (tf.float32, tf.float16, tf.bfloat16)
# cuDNN's batch norm has refused epsilons below 1e-5 (float32(1e-5) is just under it);
# Keras 2 clamped to this value before calling the fused kernel.
_CUDNN_MIN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="tfssl")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` on the fused TensorFlow kernel where it applies.

    The fused path is taken on the TensorFlow backend for inputs of rank 2 to 4 (rank 2
    and 3 are viewed as ``[rows, 1, 1, C]``) normalised over the last axis, with no
    mask, no batch renormalisation and no synchronised statistics, and float32
    variables; float16 / bfloat16 inputs are computed in float32 as Keras does. Anything
    else (``synchronized=True`` under several replicas, a mask, another axis or backend,
    an epsilon below cuDNN's 1.001e-5 on a machine with a GPU) runs Keras's ``call``
    unchanged.

    In training the moving statistics follow Keras's rule,
    ``moving = moving * momentum + batch * (1 - momentum)`` with the biased batch
    variance (the kernel returns the Bessel-corrected one; it is scaled back by
    ``(n - 1) / n``).
    """

    def _fusable(self, inputs, training, mask):
        if mask is not None or not isinstance(training, (bool, type(None))):
            return False
        if self.synchronized or self.renorm:
            return False
        if self.epsilon < _CUDNN_MIN_EPSILON and tf.config.list_logical_devices("GPU"):
            return False
        rank = inputs.shape.rank
        if rank is None or not 2 <= rank <= 4 or self.axis not in (-1, rank - 1):
            return False
        if tf.as_dtype(inputs.dtype) not in _FUSED_INPUT_DTYPES:
            return False
        return self.moving_mean.dtype == "float32" and (
            not self.scale or self.gamma.dtype == "float32") and (
            not self.center or self.beta.dtype == "float32")

    def call(self, inputs, training=None, mask=None):
        if keras.backend.backend() != "tensorflow":
            return super().call(inputs, training=training, mask=mask)
        inputs = tf.convert_to_tensor(inputs)
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        channels = self.moving_mean.shape[0]
        rank = x.shape.rank
        shape = tf.shape(x)
        if rank != 4:
            x = tf.reshape(x, [-1, 1, 1, channels])
        ones = zeros = None
        if not self.scale or not self.center:
            ones, zeros = tf.ones([channels], tf.float32), tf.zeros([channels], tf.float32)
        gamma = tf.convert_to_tensor(self.gamma) if self.scale else ones
        beta = tf.convert_to_tensor(self.beta) if self.center else zeros
        if training and self.trainable:
            empty = tf.constant([], tf.float32)
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=empty, variance=empty,
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
                is_training=True)
            # The kernel's batch variance is Bessel-corrected; Keras keeps the biased one.
            n = tf.cast(tf.size(x, out_type=tf.int64) // channels, tf.float32)
            variance = variance * ((n - 1.0) / tf.maximum(n, 1.0))
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta,
                mean=tf.convert_to_tensor(self.moving_mean),
                variance=tf.convert_to_tensor(self.moving_variance),
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
                is_training=False)
        if rank != 4:
            y = tf.reshape(y, shape)
        return tf.cast(y, self.compute_dtype)
