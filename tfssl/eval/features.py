"""Frozen features of an encoder (Keras model or reloaded SavedModel)."""

import numpy as np

from tfssl.data.pipeline import eval_dataset


def extract_features(encoder, images, batch_size=256):
    """Runs ``encoder`` in inference mode over uint8 images; returns float32 ``(N, D)``.

    ``encoder`` is a ``keras.Model``, a reloaded SavedModel (its ``serve`` endpoint is
    used) or any callable taking float images in [0, 1].
    """
    ds = eval_dataset(images, batch_size)
    if hasattr(encoder, "predict"):
        return np.asarray(encoder.predict(ds, verbose=0), np.float32)
    call = encoder.serve if hasattr(encoder, "serve") else encoder
    feats = [np.asarray(call(x), np.float32) for x in ds]
    return np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
