"""SavedModel export of image encoders and reload.

The SavedModel has three endpoints, each also a signature of the same name:

- ``serve`` (also ``serving_default``): float32 ``(batch, H, W, C)`` in [0, 1] at the
  encoder's own size and channels -> float32 features ``(batch, D)``.
- ``serve_uint8``: uint8 ``(batch, h, w, c)`` of any size and 1, 3 or 4 channels ->
  features. Channels are converted to the encoder's first (gray replicated to RGB, RGB
  to its luminance with ``tf.image.rgb_to_grayscale``, alpha dropped), then the images
  are scaled to [0, 1] and resized with ``tf.image.resize(..., antialias=True)``
  (bilinear) to ``(H, W)``: :func:`prepare_uint8_images`, also usable in Python.
- ``serve_bytes``: tf.string ``(batch,)`` of encoded JPEG / PNG / GIF / BMP images ->
  features. Each is decoded with ``tf.io.decode_image(channels=C,
  expand_animations=False)`` and then prepared as in ``serve_uint8``.

Everything is computed in inference mode and returned as float32 whatever the training
dtype policy. Loadable with TensorFlow alone (no tfssl, no Keras):
``tf.saved_model.load(path).serve_uint8(images)``.
"""

import keras
import tensorflow as tf

__all__ = ["export_image_encoder", "load_image_encoder", "prepare_uint8_images",
           "SIGNATURES"]

SIGNATURES = ("serve", "serve_uint8", "serve_bytes")


def _to_channels(images, channels):
    """uint8 ``(batch, h, w, c)``, c in {1, 3, 4} -> ``channels`` (1 or 3) channels."""
    c = tf.shape(images)[-1]
    check = tf.debugging.assert_equal(
        tf.logical_or(tf.logical_or(tf.equal(c, 1), tf.equal(c, 3)), tf.equal(c, 4)), True,
        message="images must have 1, 3 or 4 channels")
    # In a graph the check must gate the images: otherwise the encoder's convolution can
    # run first and fail with its own error (seen once in the suite: "Depth of input must
    # be a multiple of depth of filter: 2 vs 3").
    with tf.control_dependencies([check] if check is not None else []):
        images = tf.identity(images)
    rgb = tf.cond(tf.equal(c, 1), lambda: tf.repeat(images[..., :1], 3, axis=-1),
                  lambda: images[..., :3])  # RGBA: alpha dropped
    if channels == 3:
        return rgb
    return tf.cond(tf.equal(c, 1), lambda: images[..., :1],
                   lambda: tf.image.rgb_to_grayscale(rgb))


def prepare_uint8_images(images, image_size, channels):
    """uint8 images of any size -> float32 ``(batch, H, W, channels)`` in [0, 1].

    Channels first (as :func:`tfssl.data.match_channels` converts data sets), then
    ``/ 255`` and an antialiased bilinear resize to ``image_size`` (an int or ``(H, W)``).
    The ``serve_uint8`` and ``serve_bytes`` signatures use exactly this function.
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"prepare_uint8_images: expected uint8 images, got {images.dtype}")
    x = tf.cast(_to_channels(images, channels), tf.float32) / 255.0
    return tf.image.resize(x, tuple(image_size), method="bilinear", antialias=True)


def export_image_encoder(encoder, path):
    """Writes ``encoder`` as a SavedModel with ``serve``, ``serve_uint8`` and
    ``serve_bytes`` endpoints (see the module docstring); ``serving_default`` is
    ``serve``, as before the other two were added."""
    height, width, channels = (int(d) for d in encoder.input_shape[1:])
    size = (height, width)

    def features(images):  # float32 features whatever the training dtype policy
        return tf.cast(encoder(images, training=False), tf.float32)

    def decode(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image.set_shape([None, None, channels])
        return prepare_uint8_images(image[None], size, channels)[0]

    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.add_endpoint(
        "serve", features,
        input_signature=[tf.TensorSpec((None, height, width, channels), tf.float32,
                                       name="images")])
    archive.add_endpoint(
        "serve_uint8", lambda images: features(
            prepare_uint8_images(images, size, channels)),
        input_signature=[tf.TensorSpec((None, None, None, None), tf.uint8, name="images")])
    archive.add_endpoint(
        "serve_bytes", lambda images: features(tf.map_fn(
            decode, images, fn_output_signature=tf.TensorSpec(
                (height, width, channels), tf.float32))),
        input_signature=[tf.TensorSpec((None,), tf.string, name="images")])
    archive.write_out(path, verbose=False)


def load_image_encoder(path):
    """Reloads an exported encoder: an object whose ``serve(images)`` gives the features
    (and ``serve_uint8``, ``serve_bytes`` for exports that have them).

    Keep the returned object alive while using ``serve``: the endpoint's variables
    belong to it.
    """
    return tf.saved_model.load(path)
