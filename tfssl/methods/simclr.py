"""SimCLR (Chen et al. 2020): contrastive learning of visual representations."""

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.losses.ntxent import NTXent, ntxent_accuracy


def split_views(data):
    """``(v1, v2)`` or ``((v1, v2), anything)`` -> ``(v1, v2)``."""
    first = data[0]
    if isinstance(first, (tuple, list)):
        return first[0], first[1]
    return data[0], data[1]


@keras.saving.register_keras_serializable(package="tfssl")
class SimCLR(keras.Model):
    """SimCLR: an encoder and a projection head trained with NT-Xent on two views.

    ``fit`` takes a dataset of ``(view1, view2)`` batches (see
    ``tfssl.data.simclr_dataset``). Both views go through the encoder in one batch of
    ``2N``; the projections feed :class:`tfssl.losses.NTXent`, which gathers negatives
    from every replica under ``tf.distribute``. Calling the model on images returns the
    encoder's representation (the projection head is a training device only).

    Metrics: ``loss``; ``contrastive_accuracy``, the fraction of the 2N anchors whose
    positive is ranked first among the 2N-1 candidates of the replica's batch gathered
    across replicas; ``embedding_std``, the mean per-dimension standard deviation of the
    L2-normalised projections, a collapse monitor (about ``1/sqrt(D)`` when healthy, 0
    when every image maps to the same point).

    Args:
        encoder: a ``keras.Model`` from images to features.
        projection_head: a layer from features to projections, e.g.
            :class:`tfssl.layers.ProjectionHead`.
        temperature: NT-Xent temperature, > 0.
    """

    def __init__(self, encoder, projection_head, temperature=0.5, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.projection_head = projection_head
        self.temperature = float(temperature)
        self.contrastive_loss = NTXent(temperature=self.temperature)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="contrastive_accuracy")
        self.std_tracker = keras.metrics.Mean(name="embedding_std")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker, self.std_tracker]

    def call(self, images, training=False):
        return self.encoder(images, training=training)

    def build(self, input_shape=None):
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.projection_head.built:
            self.projection_head.build(self.encoder.output_shape)
        super().build(input_shape)

    def project(self, v1, v2, training):
        """Projections of both views through one encoder pass, as float32."""
        n = tf.shape(v1)[0]
        h = self.encoder(tf.concat([v1, v2], axis=0), training=training)
        z = tf.cast(self.projection_head(h, training=training), tf.float32)
        return z[:n], z[n:]

    def _losses_and_metrics(self, z1, z2, loss):
        self.loss_tracker.update_state(replicas.unscale_loss(loss))
        self.accuracy_tracker.update_state(ntxent_accuracy(z1, z2, self.temperature))
        zn = tf.math.l2_normalize(tf.concat([z1, z2], 0), axis=-1)
        self.std_tracker.update_state(tf.reduce_mean(tf.math.reduce_std(zn, axis=0)))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        v1, v2 = split_views(data)
        with tf.GradientTape() as tape:
            z1, z2 = self.project(v1, v2, training=True)
            loss = self.contrastive_loss(z1, z2)  # Keras scales it for the replicas
            if self.losses:
                loss += replicas.scale_loss(tf.add_n(self.losses))
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._losses_and_metrics(tf.stop_gradient(z1), tf.stop_gradient(z2), loss)

    def test_step(self, data):
        v1, v2 = split_views(data)
        z1, z2 = self.project(v1, v2, training=False)
        return self._losses_and_metrics(z1, z2, self.contrastive_loss(z1, z2))

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            projection_head=keras.saving.serialize_keras_object(self.projection_head),
            temperature=self.temperature,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["projection_head"] = keras.saving.deserialize_keras_object(
            config["projection_head"])
        return cls(**config)
