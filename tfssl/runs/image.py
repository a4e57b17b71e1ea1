"""The image side of a run: data, views, encoder, kNN evaluation, SavedModel export."""

import keras

from tfssl.data.pipeline import check_batch_size
from tfssl.errors import UsageError
from tfssl.eval.knn import DEFAULT_TEMPERATURE


def load_image_split(settings):
    """``(train, test)`` :class:`tfssl.data.ImageData` of a run's settings.

    :func:`tfssl.data.load_train_test` (disjoint in every path); an eval set with
    another channel count than the training data is converted to it
    (:func:`tfssl.data.match_channels`).
    """
    from tfssl.data import load_train_test, match_channels

    train, test = load_train_test(settings["dataset"], settings["eval_dataset"],
                                  image_size=settings["image_size"],
                                  data_dir=settings["data_dir"],
                                  download=settings["download"],
                                  image_input=settings.get("image_input", "memory"),
                                  image_cache_dir=settings.get("image_cache_dir"))
    return train, match_channels(test, train.image_shape[-1])


class ImageTask:
    """Everything a run does that depends on images rather than on the method."""

    cpu_xla = False  # XLA-compiled conv training steps were ~3x slower on CPU here
    exclude_from_weight_decay = None

    def __init__(self, spec, settings):
        from tfssl.augment import views_from_settings
        from tfssl.data.images import evaluation_gap
        from tfssl.encoders.resnet import check_image_encoder
        from tfssl.eval.knn import check_knn

        # Every setting is checked before the data is read and anything is written.
        check_image_encoder(settings["encoder"], settings["image_size"], settings["width"])
        views_from_settings(settings, spec.views)
        check_knn(settings["knn_k"], DEFAULT_TEMPERATURE)  # fail before training, not after
        for key in ("knn_every", "label_free_every"):
            if not settings[key] >= 0:
                raise UsageError(f"--{key}={settings[key]}: expected a whole number "
                                 ">= 0 (0: never during training)")
        self.spec = spec
        self.settings = settings
        self.train, self.test = load_image_split(settings)
        check_batch_size(settings["batch_size"], len(self.train))
        self.gap = evaluation_gap(self.train, self.test)  # why no kNN, or None
        self.num_train = len(self.train)
        self.input_shape = (None,) + tuple(self.train.image_shape)
        self.validation_data = None

    @property
    def labelled(self):
        """Both splits are labelled (no ``gap``): kNN can score the run."""
        return self.gap is None

    def info(self):
        """Facts of the data that the run folder records (``config.json``)."""
        return {"channels": int(self.train.image_shape[-1]),
                "image_input": "memory" if self.train.in_memory else "stream",
                "class_names": list(self.train.class_names),
                "train_examples": len(self.train), "eval_examples": len(self.test)}

    def describe(self):
        return (f"{self.settings['dataset']}: {len(self.train)} training / {len(self.test)} "
                f"held-out images of {self.input_shape[1:]}"
                f"{'' if self.train.in_memory else ', streamed from disk'}")

    def train_dataset(self, input_context=None):
        from tfssl.augment import views_from_settings
        from tfssl.data import views_dataset

        views = views_from_settings(self.settings, self.spec.views)
        # Every epoch of the run in one stream, replayed identically by any iterator
        # (fit(steps_per_epoch=...) cuts it into the epochs it was built from).
        s = self.settings
        return views_dataset(self.train, s["batch_size"], views, seed=s["seed"],
                             with_index=self.spec.with_index, epochs=s["epochs"],
                             steps_per_epoch=s["steps_per_epoch"],
                             input_context=input_context)

    def build_encoder(self):
        """The encoder, seeded so that the random-init baseline is the same network."""
        from tfssl.encoders import image_encoder

        s = self.settings
        keras.utils.set_random_seed(s["seed"])
        return image_encoder(s["encoder"], s["image_size"], self.input_shape[-1],
                             stem=s["stem"], width=s["width"])

    def callbacks(self):
        from tfssl.eval import KNNMonitor, LabelFreeMonitor

        s = self.settings
        out = []
        if self.labelled and s["knn_every"]:
            out.append(KNNMonitor(self.train, self.test, every=s["knn_every"], k=s["knn_k"]))
        if s["label_free_every"]:
            out.append(LabelFreeMonitor(self.test if len(self.test) else self.train,
                                        every=s["label_free_every"],
                                        seed=s["seed"]))
        return out

    def evaluate(self, model, encoder):
        """kNN top-1 of the pretrained encoder and of the same one at random init."""
        from tfssl.eval import evaluate_knn

        if not self.labelled:
            return {"knn_top1": None, "knn_note": f"no kNN: {self.gap}"}
        k = self.settings["knn_k"]
        return {"knn_k": k,
                "knn_top1": evaluate_knn(encoder, self.train, self.test, k=k),
                "knn_top1_random_init": evaluate_knn(self.build_encoder(), self.train,
                                                     self.test, k=k)}

    def summary(self, metrics):
        return {k: metrics[k] for k in ("knn_top1", "knn_top1_random_init") if k in metrics}

    def input_error(self, exc):
        """The one-line error of a streamed image that TensorFlow could not decode
        (``exc`` names no file), or None."""
        from tfssl.data.stream import unreadable_file_error

        for images in (self.train, self.test):
            error = unreadable_file_error(images, exc)
            if error is not None:
                return error
        return None

    def save_files(self, model_dir):
        """The run folder's files of this modality: none for images."""

    def export(self, encoder, path):
        from tfssl.export import export_image_encoder

        export_image_encoder(encoder, path)
