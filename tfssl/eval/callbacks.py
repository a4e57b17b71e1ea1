"""Keras callbacks that evaluate the representation during training."""

import keras

from tfssl.eval.knn import DEFAULT_K, DEFAULT_TEMPERATURE, evaluate_knn


class EpochMonitor(keras.callbacks.Callback):
    """Measures the model's encoder every ``every`` epochs and after the last one.

    A subclass defines ``measure(encoder) -> {name: value}`` and ``history_key``; the
    values go into ``logs`` (under ``log_prefix``, so ``TensorBoard`` / ``CSVLogger``
    placed after it see them) and into ``self.history[epoch]``. The encoder is
    ``model.encoder`` unless given.
    """

    history_key = None
    log_prefix = ""

    def __init__(self, every=1, encoder=None):
        super().__init__()
        self.every = max(1, int(every))
        self._encoder = encoder
        self.history = {}
        self._records = []

    def measure(self, encoder):
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 0) - 1 if self.params else -1

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch != self._last_epoch:
            return
        values = self.measure(self._encoder or self.model.encoder)
        self._records.append(dict(epoch=int(epoch) + 1, **values))
        self.history[epoch] = self.history_value(values)
        if logs is not None:
            logs.update({self.log_prefix + k: v for k, v in values.items()})

    def history_value(self, values):
        """What ``self.history[epoch]`` holds (default: the dict of values)."""
        return values

    def history_records(self):
        """``{history_key: [{"epoch": 1-based epoch, name: value, ...}, ...]}``."""
        return {self.history_key: list(self._records)}


class KNNMonitor(EpochMonitor):
    """Logs kNN top-1 of the model's encoder as ``knn_top1`` every ``every`` epochs.

    Put it before ``TensorBoard`` / ``CSVLogger`` in the callback list so that they see
    the value. The encoder is ``model.encoder`` unless given.

    Args:
        train_data, test_data: labelled :class:`tfssl.data.ImageData` (memory bank, queries).
        every: evaluate every this many epochs (and after the last epoch).
        k, temperature: kNN settings.
    """

    history_key = "knn_history"

    def __init__(self, train_data, test_data, every=1, k=DEFAULT_K,
                 temperature=DEFAULT_TEMPERATURE, encoder=None):
        super().__init__(every, encoder)
        self.train_data = train_data
        self.test_data = test_data
        self.k = k
        self.temperature = temperature

    def measure(self, encoder):
        return {"knn_top1": evaluate_knn(encoder, self.train_data, self.test_data, self.k,
                                         self.temperature)}

    def history_value(self, values):
        return values["knn_top1"]


class LabelFreeMonitor(EpochMonitor):
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

    history_key = "label_free_history"
    log_prefix = "lf_"

    def __init__(self, data, every=1, max_examples=1024, encoder=None, seed=0):
        super().__init__(every, encoder)
        self.data = data
        self.max_examples = max_examples
        self.seed = seed

    def measure(self, encoder):
        from tfssl.eval.label_free import image_label_free_metrics

        return image_label_free_metrics(encoder, self.data, self.max_examples, self.seed)
