"""Projection and prediction heads."""

import keras
from keras import layers

from tfssl.errors import UsageError
from tfssl.layers.normalization import BatchNormalization


@keras.saving.register_keras_serializable(package="tfssl")
class ProjectionHead(keras.layers.Layer):
    """MLP projection head with batch norm (SimCLR v1: 2 layers, v2: 3 layers).

    Every layer but the last is Dense -> BatchNorm -> ReLU; the last is Dense (no bias)
    -> BatchNorm without scale/centre, as in SimCLR v2.

    Args:
        output_dim: width of the projection.
        hidden_dim: width of the hidden layers.
        num_layers: number of Dense layers (>= 1).
        last_bn: batch-normalise the output.
        synchronized: batch statistics over the global batch under ``tf.distribute``
            (Keras' synchronised batch norm). None (default): on when the head is built
            under a strategy with several replicas in sync, off otherwise (the two agree
            mathematically on one device, but plain batch norm is the faster and more
            accurate computation there).

    Example:
        >>> head = ProjectionHead(output_dim=128, hidden_dim=512, num_layers=2)
        >>> z = head(features)
    """

    def __init__(self, output_dim=128, hidden_dim=512, num_layers=2, last_bn=True,
                 synchronized=None, **kwargs):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise UsageError(f"projection_layers={num_layers}: expected >= 1 (layers "
                             "of the projection head)")
        self.output_dim = output_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.last_bn = last_bn
        self.synchronized = synchronized

    def build(self, input_shape):
        from tfssl.distribute.replicas import sync_batch_norm

        synchronized = sync_batch_norm(self.synchronized)
        self.dense_layers, self.norm_layers = [], []
        shape = input_shape
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            dense = layers.Dense(self.output_dim if last else self.hidden_dim,
                                 use_bias=last and not self.last_bn,  # BN has the bias
                                 name=f"dense_{i}")
            dense.build(shape)
            shape = dense.compute_output_shape(shape)
            norm = None
            if not last or self.last_bn:
                norm = BatchNormalization(momentum=0.9, epsilon=1e-5, center=not last,
                                          scale=not last, synchronized=synchronized,
                                          name=f"bn_{i}")
                norm.build(shape)
            self.dense_layers.append(dense)
            self.norm_layers.append(norm)
        super().build(input_shape)

    def call(self, x, training=None):
        for i, (dense, norm) in enumerate(zip(self.dense_layers, self.norm_layers)):
            x = dense(x)
            if norm is not None:
                x = norm(x, training=training)
            if i < self.num_layers - 1:
                x = keras.ops.relu(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(output_dim=self.output_dim, hidden_dim=self.hidden_dim,
                      num_layers=self.num_layers, last_bn=self.last_bn,
                      synchronized=self.synchronized)
        return config
