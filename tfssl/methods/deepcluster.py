"""DeepCluster (Caron et al. 2018): k-means pseudo-labels as classification targets."""

import keras
import numpy as np
import tensorflow as tf

from tfssl.methods.base import Method, build_child, embedding_std, split_batch
from tfssl.methods.registry import register


@register("deepcluster", modality="image", with_index=True, views=({},), defaults=dict(
    num_clusters=50, pca_dim=32, kmeans_iters=20, cluster_every=3, epochs=30,
    learning_rate=5e-3))
@keras.saving.register_keras_serializable(package="tfssl")
class DeepCluster(Method):
    """DeepCluster: cluster the features, then learn to predict the clusters.

    At the start of every epoch (:class:`ClusterCallback`) the encoder's features of the
    *un-augmented* training images are PCA-whitened and L2-normalised, k-means
    (k-means++ initialisation, empty clusters re-seeded from large ones) assigns each
    image to one of ``num_clusters`` clusters, and the classifier head is
    re-initialised. During the epoch the encoder and the head learn to predict each
    image's cluster from an augmented view; each example's loss is weighted by the
    inverse size of its cluster (the paper's uniform sampling over clusters, as loss
    weights), so that a trivial parametrisation (one big cluster) does not pay.

    The assignments live in non-trainable variables indexed by the image's position in
    the training set (the dataset yields ``(views, index)``): one assignment for every
    replica, saved with the model. Logged: ``loss``, ``pseudo_label_accuracy``,
    ``embedding_std`` (of the features), and per epoch from the callback ``nmi_previous``
    (NMI between consecutive assignments), ``nmi_labels`` (against the true labels when
    the data has them) and ``empty_clusters_reseeded``.

    Args:
        encoder: image encoder.
        num_train: number of training images (the size of the assignment table).
        num_clusters: k.
        pca_dim: PCA-whitening dimension before k-means (None or 0: no whitening).
        kmeans_iters: Lloyd iterations per clustering.
        cluster_every: epochs between two clusterings (small data sets have short
            epochs; the head needs some steps to learn each new assignment).

    References:
        Caron et al., "Deep Clustering for Unsupervised Learning of Visual Features",
        ECCV 2018.
    """

    child_names = ("encoder",)
    metric_names = ("pseudo_label_accuracy", "embedding_std")

    def __init__(self, encoder, num_train, num_clusters=50, pca_dim=32, kmeans_iters=20,
                 cluster_every=1, seed=0, **kwargs):
        from tfssl.errors import UsageError

        super().__init__(encoder, **kwargs)
        self.num_train = int(num_train)
        self.num_clusters = int(num_clusters)
        if self.num_clusters < 2:
            raise UsageError(f"num_clusters={self.num_clusters}: must be >= 2")
        if self.num_clusters > self.num_train:
            raise UsageError(f"num_clusters={self.num_clusters} is larger than the "
                             f"{self.num_train} training images")
        self.pca_dim = int(pca_dim or 0)
        self.kmeans_iters = int(kmeans_iters)
        self.cluster_every = int(cluster_every)
        self._clusterings = 0
        if self.cluster_every < 1:
            raise UsageError(f"cluster_every={self.cluster_every}: must be >= 1")
        self.seed = int(seed)
        # Logits in float32 under a 16-bit policy; float64 stays float64 (one gradient
        # dtype: MirroredStrategy packs the gradients into one all-reduce).
        low_precision = keras.config.dtype_policy().compute_dtype in ("float16", "bfloat16")
        self.classifier = keras.layers.Dense(
            self.num_clusters, dtype="float32" if low_precision else None,
            name="cluster_classifier")
        build_child(self.classifier, encoder.output_shape)
        self.assignments = self.add_weight(name="assignments", shape=(self.num_train,),
                                           dtype="int32", initializer="zeros",
                                           trainable=False)
        self.sample_weights = self.add_weight(name="sample_weights",
                                              shape=(self.num_train,), dtype="float32",
                                              initializer="ones", trainable=False)
        self.built = True

    @classmethod
    def from_settings(cls, encoder, s):
        return cls(encoder, s["num_train"], num_clusters=s["num_clusters"],
                   pca_dim=s["pca_dim"], kmeans_iters=s["kmeans_iters"],
                   cluster_every=s["cluster_every"], seed=s["seed"])

    def compute_loss_and_logs(self, data, training):
        views, index = split_batch(data)
        h = self.encoder(views[0], training=training)
        logits = tf.cast(self.classifier(h), tf.float32)
        labels = tf.gather(self.assignments, index)
        weights = tf.gather(self.sample_weights, index)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        loss = tf.reduce_sum(ce * weights) / tf.cast(tf.size(ce), tf.float32)
        hit = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
        return loss, {"pseudo_label_accuracy": tf.reduce_mean(tf.cast(hit, tf.float32)),
                      "embedding_std": embedding_std(tf.stop_gradient(h))}

    def recluster(self, features, labels=None):
        """Clusters ``features`` (one row per training image, in dataset order), stores
        the assignments and balancing weights, re-initialises the classifier; returns
        the logs of the clustering."""
        from tfssl.cluster import balanced_sample_weights, cluster_features, nmi

        previous = self.assignments.numpy()
        fresh = not np.any(previous)
        pca_dim = min(self.pca_dim, *features.shape) if self.pca_dim else None
        result = cluster_features(features, self.num_clusters, pca_dim=pca_dim,
                                  whiten=bool(self.pca_dim), num_iters=self.kmeans_iters,
                                  seed=self.seed + int(self.optimizer.iterations.numpy()
                                                       if self.optimizer else 0))
        self.assignments.assign(result.assignments.astype("int32"))
        self.sample_weights.assign(balanced_sample_weights(result.assignments,
                                                           self.num_clusters))
        # A new head for the new clusters: fresh random weights every time (a seeded
        # Keras initializer called again would return the same values).
        self._clusterings += 1
        fresh_kernel = keras.initializers.GlorotUniform(
            seed=self.seed * 1000 + self._clusterings)
        self.classifier.kernel.assign(fresh_kernel(self.classifier.kernel.shape))
        self.classifier.bias.assign(tf.zeros_like(self.classifier.bias))
        logs = {"empty_clusters_reseeded": float(result.num_reseeded),
                "clusters_used": float(len(np.unique(result.assignments)))}
        if not fresh:
            logs["nmi_previous"] = nmi(previous, result.assignments)
        if labels is not None:
            logs["nmi_labels"] = nmi(labels, result.assignments)
        return logs

    def training_callbacks(self, task):
        return [ClusterCallback(task.train, every=self.cluster_every)]

    def get_config(self):
        config = super().get_config()
        config.update(num_train=self.num_train, num_clusters=self.num_clusters,
                      pca_dim=self.pca_dim, kmeans_iters=self.kmeans_iters,
                      cluster_every=self.cluster_every, seed=self.seed)
        return config


class ClusterCallback(keras.callbacks.Callback):
    """Re-clusters a :class:`DeepCluster` model's training images every ``every`` epochs.

    Args:
        train_data: the un-augmented training images (:class:`tfssl.data.ImageData`, or
            uint8 NumPy images), in the order of the training dataset's indices.
        every: epochs between clusterings (the first epoch always clusters, also when a
            run resumes from a backup).
    """

    def __init__(self, train_data, every=1):
        super().__init__()
        self.train_data = train_data
        self.every = max(1, int(every))
        self.logs = {}
        self._clustered = False

    def on_epoch_begin(self, epoch, logs=None):
        from tfssl.eval import extract_features

        if self._clustered and epoch % self.every:
            self.logs = {}
            return
        self._clustered = True
        features = extract_features(self.model.encoder, self.train_data)
        labels = getattr(self.train_data, "labels", None)
        if labels is not None and not np.all(labels >= 0):
            labels = None
        self.logs = self.model.recluster(features, labels)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.logs)
