"""Barlow Twins (Zbontar et al. 2021): redundancy reduction."""

import keras
import tensorflow as tf

from tfssl.layers.heads import ProjectionHead
from tfssl.losses.barlow_twins import BarlowTwinsLoss
from tfssl.methods.base import build_child, Method, embedding_std, split_batch
from tfssl.methods.registry import register


@register("barlow_twins", modality="image", defaults=dict(
    projection_dim=256, projection_hidden_dim=256, projection_layers=3,
    offdiag_weight=5e-3))
@keras.saving.register_keras_serializable(package="tfssl")
class BarlowTwins(Method):
    """Barlow Twins: the cross-correlation of two views' embeddings towards identity.

    encoder -> projector (``ProjectionHead(..., last_bn=False)``: the loss standardises
    each dimension over the batch). :class:`tfssl.losses.BarlowTwinsLoss` computes the
    statistics on the global batch under ``tf.distribute`` (embeddings gathered from
    every replica), so the method is the same on one device and on many.

    Args:
        encoder: image encoder.
        projection_head: the projector.
        offdiag_weight: the paper's lambda, weight of the off-diagonal terms.

    References:
        Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy
        Reduction", ICML 2021.
    """

    child_names = ("encoder", "projection_head")
    metric_names = ("embedding_std",)
    loss_reduction = "global"  # the same global-batch value on every replica

    def __init__(self, encoder, projection_head, offdiag_weight=5e-3, **kwargs):
        super().__init__(encoder, **kwargs)
        self.projection_head = projection_head
        self.loss_fn = BarlowTwinsLoss(lambda_=offdiag_weight)
        self.offdiag_weight = float(offdiag_weight)
        build_child(projection_head, encoder.output_shape)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder, ProjectionHead(s["projection_dim"], s["projection_hidden_dim"],
                                           s["projection_layers"], last_bn=False),
                   offdiag_weight=s["offdiag_weight"])

    def compute_loss_and_logs(self, data, training):
        views, _ = split_batch(data)
        n = tf.shape(views[0])[0]
        z = self.project_views(views, training)
        loss = self.loss_fn.call(z[:n], z[n:])
        return loss, {"embedding_std": embedding_std(tf.stop_gradient(z))}

    def get_config(self):
        config = super().get_config()
        config.update(offdiag_weight=self.offdiag_weight)
        return config
