"""Frozen features of an encoder (Keras model or reloaded SavedModel)."""

import numpy as np

from tfssl.data.pipeline import eval_dataset


def float32_copy(model):
    """``model`` with the same weights computing in float32 (itself when it already does).

    Evaluation runs every encoder this way, so that an encoder trained under
    ``mixed_bfloat16`` and its random-init baseline are measured alike, at full precision.
    """
    import keras

    if all(getattr(layer, "compute_dtype", "float32") == "float32"
           for layer in _all_layers(model)):
        return model

    def clone(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _all_layers(layer):
    """``layer`` and every layer nested in it (a reloaded ``.keras`` model keeps its
    layers' own policies under a float32 top level)."""
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _all_layers(child)


def extract_features(encoder, images, batch_size=256):
    """Runs ``encoder`` in inference mode over uint8 images; returns float32 ``(N, D)``.

    ``encoder`` is a ``keras.Model`` (run in float32 whatever its dtype policy, see
    :func:`float32_copy`), a reloaded SavedModel (its ``serve`` endpoint is used) or any
    callable taking float images in [0, 1].
    """
    ds = eval_dataset(images, batch_size)
    if hasattr(encoder, "predict"):
        encoder = float32_copy(encoder)
        return np.asarray(encoder.predict(ds, verbose=0), np.float32)
    call = encoder.serve if hasattr(encoder, "serve") else encoder
    feats = [np.asarray(call(x), np.float32) for x in ds]
    return np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
