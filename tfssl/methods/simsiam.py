"""SimSiam (Chen & He 2021): simple Siamese representation learning."""

import keras
import tensorflow as tf

from tfssl.layers.heads import ProjectionHead
from tfssl.losses.simsiam import NegativeCosine
from tfssl.methods.base import build_child, Method, embedding_std, split_batch
from tfssl.methods.registry import register


@register("simsiam", modality="image", defaults=dict(
    projection_dim=128, projection_hidden_dim=256, projection_layers=2,
    prediction_hidden_dim=32, learning_rate=4e-3))
@keras.saving.register_keras_serializable(package="tfssl")
class SimSiam(Method):
    """SimSiam: predict one view's projection from the other's, with a stop-gradient.

    encoder -> projector ``f`` (BN on its output) -> predictor ``h`` (a bottleneck MLP);
    the loss is ``D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2`` with ``D`` the negative cosine.
    Without the stop-gradient (``stop_gradient=False``) the representation collapses;
    ``embedding_std`` (std of the L2-normalised projections per dimension, the paper's
    collapse monitor) then falls to 0.

    Args:
        encoder: image encoder.
        projection_head: projector, e.g. ``ProjectionHead(d, h, 2 or 3, last_bn=True)``.
        prediction_head: predictor, e.g. ``ProjectionHead(d, d // 4, 2, last_bn=False)``.
        stop_gradient: the paper's stop-gradient on the target branch.

    References:
        Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021.
    """

    child_names = ("encoder", "projection_head", "prediction_head")
    metric_names = ("embedding_std",)

    def __init__(self, encoder, projection_head, prediction_head, stop_gradient=True,
                 **kwargs):
        super().__init__(encoder, **kwargs)
        self.projection_head = projection_head
        self.prediction_head = prediction_head
        self.stop_gradient = bool(stop_gradient)
        self.loss_fn = NegativeCosine()
        features = encoder.output_shape
        build_child(projection_head, features)
        build_child(prediction_head, projection_head.compute_output_shape(features))
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder,
                   ProjectionHead(s["projection_dim"], s["projection_hidden_dim"],
                                  s["projection_layers"], last_bn=True),
                   ProjectionHead(s["projection_dim"], s["prediction_hidden_dim"], 2,
                                  last_bn=False, name="prediction_head"))

    def compute_loss_and_logs(self, data, training):
        views, _ = split_batch(data)
        n = tf.shape(views[0])[0]
        z = self.project_views(views, training)
        p = tf.cast(self.prediction_head(z, training=training), tf.float32)
        target = tf.stop_gradient(z) if self.stop_gradient else z
        loss = 0.5 * (tf.reduce_mean(self.loss_fn.call(target[n:], p[:n]))
                      + tf.reduce_mean(self.loss_fn.call(target[:n], p[n:])))
        return loss, {"embedding_std": embedding_std(tf.stop_gradient(z))}

    def get_config(self):
        config = super().get_config()
        config.update(stop_gradient=self.stop_gradient)
        return config
