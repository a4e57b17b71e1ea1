"""BYOL (Grill et al. 2020): bootstrap your own latent."""

import keras
import tensorflow as tf

from tfssl.layers.heads import ProjectionHead
from tfssl.losses.byol import NormalizedMSE
from tfssl.methods.base import build_child, MomentumMethod, embedding_std, split_batch
from tfssl.methods.registry import register


@register("byol", modality="image", defaults=dict(
    projection_dim=64, projection_hidden_dim=256, prediction_hidden_dim=256,
    base_momentum=0.99), views=(
    # The paper's asymmetric views: blur always in one, rarely in the other; solarize
    # only in the second.
    {"blur": 1.0, "solarize": 0.0}, {"blur": 0.1, "solarize": 0.2}))
@keras.saving.register_keras_serializable(package="tfssl")
class BYOL(MomentumMethod):
    """BYOL: an online network predicts an EMA target network's projection.

    The online branch is encoder -> projection head -> prediction head; the target
    branch is the EMA copy of encoder and projection head (no predictor, no gradient).
    The loss is the normalised MSE (``2 - 2 cos``) between the online prediction of one
    view and the target projection of the other, averaged over both directions. The
    target's momentum follows the cosine schedule from ``base_momentum`` to 1.

    Metrics: ``loss``, ``embedding_std`` (of the online projections; 0 when collapsed),
    ``momentum``.

    Args:
        encoder: image encoder.
        projection_head, prediction_head: MLPs (``ProjectionHead(..., last_bn=False)``).
        base_momentum, total_steps: see :class:`MomentumMethod`.

    References:
        Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020.
    """

    child_names = ("encoder", "projection_head", "prediction_head")
    metric_names = ("embedding_std", "momentum")
    momentum_children = ("encoder", "projection_head")

    def __init__(self, encoder, projection_head, prediction_head, base_momentum=0.99,
                 total_steps=0, **kwargs):
        super().__init__(encoder, base_momentum=base_momentum, total_steps=total_steps,
                         **kwargs)
        self.projection_head = projection_head
        self.prediction_head = prediction_head
        features = encoder.output_shape
        build_child(projection_head, features)
        build_child(prediction_head, projection_head.compute_output_shape(features))
        self.loss_fn = NormalizedMSE()
        self.build_targets(projection_head=features)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder,
                   ProjectionHead(s["projection_dim"], s["projection_hidden_dim"], 2,
                                  last_bn=False),
                   ProjectionHead(s["projection_dim"], s["prediction_hidden_dim"], 2,
                                  last_bn=False, name="prediction_head"),
                   base_momentum=s["base_momentum"], total_steps=s["total_steps"])

    def compute_loss_and_logs(self, data, training):
        views, _ = split_batch(data)
        n = tf.shape(views[0])[0]
        z = self.project_views(views, training)
        p = tf.cast(self.prediction_head(z, training=training), tf.float32)
        t = tf.stop_gradient(self.project_views(views, training, self.target_encoder,
                                                self.target_projection_head))
        loss = 0.5 * (tf.reduce_mean(self.loss_fn.call(t[n:], p[:n]))
                      + tf.reduce_mean(self.loss_fn.call(t[:n], p[n:])))
        return loss, {"embedding_std": embedding_std(tf.stop_gradient(z)),
                      "momentum": self.current_momentum() if training
                      else tf.constant(self.base_momentum)}
