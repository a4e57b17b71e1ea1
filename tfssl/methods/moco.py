"""MoCo v2 (He et al. 2020; Chen et al. 2020): momentum contrast with a queue."""

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.layers.heads import ProjectionHead
from tfssl.losses.infonce import infonce_queue_loss
from tfssl.methods.base import build_child, MomentumMethod, embedding_std, split_batch
from tfssl.methods.registry import register


@register("moco", modality="image", defaults=dict(
    projection_dim=64, projection_hidden_dim=256, temperature=0.2, queue_size=1024,
    base_momentum=0.99))
@keras.saving.register_keras_serializable(package="tfssl")
class MoCo(MomentumMethod):
    """MoCo v2: queries from the online network, keys from its EMA copy, and a queue.

    Each view's query is contrasted (InfoNCE, :func:`tfssl.losses.infonce_queue_loss`)
    with the key of the other view and with the ``queue_size`` keys of earlier batches
    (symmetrised over the two views). After each step the keys of the whole global batch
    (gathered from every replica) are enqueued, replacing the oldest; the queue is a
    non-trainable variable saved with the model. The key network is the EMA copy of
    encoder and projection head (constant momentum by default, as in MoCo v2; a cosine
    schedule when ``total_steps`` is given and ``cosine_momentum``).

    Metrics: ``loss``, ``contrastive_accuracy`` (positive key ranked first),
    ``embedding_std`` of the queries.

    Args:
        encoder: image encoder.
        projection_head: the MLP head (MoCo v2).
        temperature: InfoNCE temperature, > 0.
        queue_size: negatives kept; larger than the global batch.
        base_momentum, total_steps: see :class:`MomentumMethod`.

    References:
        He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
        CVPR 2020; Chen et al., "Improved Baselines with Momentum Contrastive Learning",
        2020.
    """

    child_names = ("encoder", "projection_head")
    metric_names = ("contrastive_accuracy", "embedding_std")
    momentum_children = ("encoder", "projection_head")

    def __init__(self, encoder, projection_head, temperature=0.2, queue_size=4096,
                 base_momentum=0.99, total_steps=0, **kwargs):
        from tfssl.errors import UsageError, check_number

        super().__init__(encoder, base_momentum=base_momentum, total_steps=total_steps,
                         **kwargs)
        self.projection_head = projection_head
        self.temperature = check_number("temperature", temperature)
        self.queue_size = int(queue_size)
        if self.queue_size < 1:
            raise UsageError(f"queue_size={self.queue_size}: must be >= 1")
        features = encoder.output_shape
        build_child(projection_head, features)
        dim = projection_head.compute_output_shape(features)[-1]
        self.build_targets(projection_head=features)
        init = tf.math.l2_normalize(
            tf.random.stateless_normal((self.queue_size, dim), seed=[0, 1]), axis=-1)
        self.queue = self.add_weight(name="queue", shape=(self.queue_size, dim),
                                     initializer=keras.initializers.Constant(init.numpy()),
                                     trainable=False, dtype="float32")
        self.queue_ptr = self.add_weight(name="queue_ptr", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder, ProjectionHead(s["projection_dim"], s["projection_hidden_dim"],
                                           2, last_bn=False),
                   temperature=s["temperature"], queue_size=s["queue_size"],
                   base_momentum=s["base_momentum"])

    def _enqueue(self, keys):
        """Writes the global batch's keys over the oldest queue rows (wrapping)."""
        keys = replicas.all_gather(keys)
        rows = (self.queue_ptr + tf.range(tf.shape(keys)[0])) % self.queue_size
        self.queue.assign(tf.tensor_scatter_nd_update(self.queue, rows[:, None], keys))
        self.queue_ptr.assign((self.queue_ptr + tf.shape(keys)[0]) % self.queue_size)

    def compute_loss_and_logs(self, data, training):
        views, _ = split_batch(data)
        n = tf.shape(views[0])[0]
        q = tf.math.l2_normalize(self.project_views(views, training), axis=-1)
        k = self.project_views(views, training, self.target_encoder,
                               self.target_projection_head)
        k = tf.stop_gradient(tf.math.l2_normalize(k, axis=-1))
        queue = tf.stop_gradient(tf.convert_to_tensor(self.queue))
        # Query of view 1 against the key of view 2 and vice versa.
        k_swapped = tf.concat([k[n:], k[:n]], 0)
        per_example = infonce_queue_loss(q, k_swapped, queue, self.temperature)
        pos = tf.reduce_sum(q * k_swapped, -1)
        hardest_negative = tf.reduce_max(tf.matmul(q, queue, transpose_b=True), -1)
        accuracy = tf.reduce_mean(tf.cast(pos > hardest_negative, tf.float32))
        loss = tf.reduce_mean(per_example)
        if training:
            self._enqueue(k[:n])  # after the queue was read for this step's loss
        return loss, {"contrastive_accuracy": accuracy,
                      "embedding_std": embedding_std(tf.stop_gradient(q))}

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, queue_size=self.queue_size)
        return config
