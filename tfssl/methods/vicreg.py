"""VICReg (Bardes et al. 2022): variance-invariance-covariance regularisation."""

import keras
import tensorflow as tf

from tfssl.layers.heads import ProjectionHead
from tfssl.losses.vicreg import VICRegLoss
from tfssl.methods.base import build_child, Method, embedding_std, split_batch
from tfssl.methods.registry import register


@register("vicreg", modality="image", defaults=dict(
    projection_dim=256, projection_hidden_dim=256, projection_layers=3,
    sim_weight=25.0, var_weight=25.0, cov_weight=1.0))
@keras.saving.register_keras_serializable(package="tfssl")
class VICReg(Method):
    """VICReg: invariance between views, variance and decorrelation within each branch.

    encoder -> expander (``ProjectionHead(..., last_bn=False)``) -> :class:`VICRegLoss`
    with the paper's weights (25, 25, 1). The variance and covariance are statistics of
    the global batch under ``tf.distribute``. Each term is logged.

    Args:
        encoder: image encoder.
        projection_head: the expander.
        sim_weight, var_weight, cov_weight: the weights of the three terms.

    References:
        Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization
        for Self-Supervised Learning", ICLR 2022.
    """

    child_names = ("encoder", "projection_head")
    metric_names = ("invariance", "variance", "covariance", "embedding_std")
    loss_reduction = "global"  # the same global-batch value on every replica

    def __init__(self, encoder, projection_head, sim_weight=25.0, var_weight=25.0,
                 cov_weight=1.0, **kwargs):
        super().__init__(encoder, **kwargs)
        self.projection_head = projection_head
        self.loss_fn = VICRegLoss(sim_weight=sim_weight, var_weight=var_weight,
                                  cov_weight=cov_weight)
        build_child(projection_head, encoder.output_shape)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder, ProjectionHead(s["projection_dim"], s["projection_hidden_dim"],
                                           s["projection_layers"], last_bn=False),
                   sim_weight=s["sim_weight"], var_weight=s["var_weight"],
                   cov_weight=s["cov_weight"])

    def compute_loss_and_logs(self, data, training):
        views, _ = split_batch(data)
        n = tf.shape(views[0])[0]
        z = self.project_views(views, training)
        terms = self.loss_fn.terms(z[:n], z[n:])
        return self.loss_fn.combine(terms), {**{k: tf.stop_gradient(v) for k, v in terms.items()},
                      "embedding_std": embedding_std(tf.stop_gradient(z))}

    def get_config(self):
        config = super().get_config()
        config.update(sim_weight=self.loss_fn.sim_weight,
                      var_weight=self.loss_fn.var_weight, cov_weight=self.loss_fn.cov_weight)
        return config
