"""SimCLR (Chen et al. 2020): contrastive learning of visual representations."""

import keras
import tensorflow as tf

from tfssl.losses.ntxent import NTXent, ntxent_loss_and_accuracy
from tfssl.methods.base import build_child, Method, embedding_std, split_batch
from tfssl.methods.registry import register


def split_views(data):
    """``(v1, v2)`` or ``((v1, v2), anything)`` -> ``(v1, v2)``."""
    views, _ = split_batch(data)
    return views[0], views[1]


@register("simclr", modality="image", defaults=dict(
    temperature=0.2, projection_dim=64, projection_hidden_dim=256, projection_layers=2))
@keras.saving.register_keras_serializable(package="tfssl")
class SimCLR(Method):
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

    child_names = ("encoder", "projection_head")
    metric_names = ("contrastive_accuracy", "embedding_std")

    def __init__(self, encoder, projection_head, temperature=0.5, **kwargs):
        super().__init__(encoder, **kwargs)
        self.projection_head = projection_head
        self.contrastive_loss = NTXent(temperature=temperature)
        self.temperature = self.contrastive_loss.temperature
        build_child(projection_head, encoder.output_shape)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, settings):
        from tfssl.layers import ProjectionHead

        head = ProjectionHead(settings["projection_dim"],
                              settings["projection_hidden_dim"] or encoder.output_shape[-1],
                              settings["projection_layers"])
        return cls(encoder, head, temperature=settings["temperature"])

    def project(self, v1, v2, training):
        """Projections of both views through one encoder pass, as float32."""
        n = tf.shape(v1)[0]
        z = self.project_views((v1, v2), training)
        return z[:n], z[n:]

    def compute_loss_and_logs(self, data, training):
        v1, v2 = split_views(data)
        z1, z2 = self.project(v1, v2, training=training)
        # One similarity matrix for the loss and the accuracy.
        per_image, accuracy = ntxent_loss_and_accuracy(z1, z2, self.temperature)
        return tf.reduce_mean(per_image), {
            "contrastive_accuracy": accuracy,
            "embedding_std": embedding_std(tf.stop_gradient(tf.concat([z1, z2], 0))),
        }

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature)
        return config
