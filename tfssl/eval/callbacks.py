"""Keras callbacks that evaluate the representation during training."""

import keras

from tfssl.eval.knn import DEFAULT_K, DEFAULT_TEMPERATURE, evaluate_knn


class KNNMonitor(keras.callbacks.Callback):
    """Logs kNN top-1 of the model's encoder as ``knn_top1`` every ``every`` epochs.

    Put it before ``TensorBoard`` / ``CSVLogger`` in the callback list so that they see
    the value. The encoder is ``model.encoder`` unless given.

    Args:
        train_data, test_data: labelled :class:`tfssl.data.ImageData` (memory bank, queries).
        every: evaluate every this many epochs (and after the last epoch).
        k, temperature: kNN settings.
    """

    def __init__(self, train_data, test_data, every=1, k=DEFAULT_K,
                 temperature=DEFAULT_TEMPERATURE, encoder=None):
        super().__init__()
        self.train_data = train_data
        self.test_data = test_data
        self.every = max(1, int(every))
        self.k = k
        self.temperature = temperature
        self._encoder = encoder
        self.history = {}

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 0) - 1 if self.params else -1

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch != self._last_epoch:
            return
        encoder = self._encoder or self.model.encoder
        acc = evaluate_knn(encoder, self.train_data, self.test_data, self.k, self.temperature)
        self.history[epoch] = acc
        if logs is not None:
            logs["knn_top1"] = acc

    def history_records(self):
        """``{"knn_history": [{"epoch": 1-based epoch, "knn_top1": accuracy}, ...]}``."""
        return {"knn_history": [{"epoch": int(e) + 1, "knn_top1": float(a)}
                                for e, a in sorted(self.history.items())]}


class LabelFreeMonitor(keras.callbacks.Callback):
    """Logs the label-free metrics of the model's encoder every ``every`` epochs.

    The values of :func:`tfssl.eval.label_free.image_label_free_metrics` (RankMe,
    uniformity, alignment, per-dimension std, NMI when ``data`` is labelled) go into
    ``logs`` with the prefix ``lf_`` (``lf_rankme``, ``lf_uniformity``, ...) and into
    ``self.history[epoch]`` as a dict. Put it before ``TensorBoard`` / ``CSVLogger`` in
    the callback list so that they see the values. The encoder is ``model.encoder``
    unless given.

    Args:
        data: a :class:`tfssl.data.ImageData` (labels optional).
        every: evaluate every this many epochs (and after the last epoch).
        max_examples: the most images used per evaluation.
        encoder: the encoder to measure instead of ``model.encoder``.
        seed: seed of the subsample and the views (the same every epoch, so epochs
            are compared on the same images and views).
    """

    def __init__(self, data, every=1, max_examples=1024, encoder=None, seed=0):
        super().__init__()
        self.data = data
        self.every = max(1, int(every))
        self.max_examples = max_examples
        self.seed = seed
        self._encoder = encoder
        self.history = {}

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 0) - 1 if self.params else -1

    def on_epoch_end(self, epoch, logs=None):
        from tfssl.eval.label_free import image_label_free_metrics

        if (epoch + 1) % self.every and epoch != self._last_epoch:
            return
        encoder = self._encoder or self.model.encoder
        metrics = image_label_free_metrics(encoder, self.data, self.max_examples,
                                           self.seed)
        self.history[epoch] = metrics
        if logs is not None:
            logs.update({f"lf_{k}": v for k, v in metrics.items()})

    def history_records(self):
        """``{"label_free_history": [{"epoch": 1-based epoch, "rankme": ..., ...}]}``."""
        return {"label_free_history": [dict(epoch=int(e) + 1, **m)
                                       for e, m in sorted(self.history.items())]}
