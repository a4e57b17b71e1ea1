"""SavedModel export of image encoders and reload."""

import keras
import tensorflow as tf


def export_image_encoder(encoder, path):
    """Writes ``encoder`` as a SavedModel with a ``serve`` endpoint (and default signature).

    The endpoint takes ``images``: float32 ``(batch, H, W, C)`` in [0, 1] and returns the
    float32 feature vectors ``(batch, D)`` in inference mode. Loadable without tfssl or Keras:
    ``tf.saved_model.load(path).serve(images)``.
    """
    spec = tf.TensorSpec((None,) + tuple(encoder.input_shape[1:]), tf.float32, name="images")
    archive = keras.export.ExportArchive()
    archive.track(encoder)
    # float32 features whatever the training dtype policy (a bfloat16 run included).
    archive.add_endpoint(
        "serve", lambda images: tf.cast(encoder(images, training=False), tf.float32),
        input_signature=[spec])
    archive.write_out(path, verbose=False)


def load_image_encoder(path):
    """Reloads an exported encoder: an object whose ``serve(images)`` gives the features.

    Keep the returned object alive while using ``serve``: the endpoint's variables
    belong to it.
    """
    return tf.saved_model.load(path)
