"""Decoding and resizing one encoded image: the same ops in memory and when streaming.

:func:`tfssl.data.load_folder` (decoded once into memory) and the streamed sources of
:mod:`tfssl.data.stream` (decoded while training) both go through these functions, so
the two paths give the same pixels.
"""

import tensorflow as tf

from tfssl.errors import INPUT_ERROR

# ITU-R 601 luma weights (those of tf.image.rgb_to_grayscale). They sum to 0.9999, so a
# gray pixel v (R = G = B) rounds back to exactly v for every v in 0..255.
_LUMA = (0.2989, 0.5870, 0.1140)


def decode_resize(blob, image_size):
    """An encoded JPEG/PNG/BMP/GIF -> ``(image, gray)``.

    ``image`` is ``(image_size, image_size, 3)`` uint8 (gray files replicated, alpha
    dropped), resized with antialiasing and rounded; ``gray`` is True when all three
    channels are equal (gray content, whatever the file stores).
    """
    img = tf.io.decode_image(blob, channels=0, expand_animations=False)
    img = tf.cond(tf.shape(img)[-1] < 3, lambda: tf.tile(img[..., :1], [1, 1, 3]),
                  lambda: img[..., :3])
    img.set_shape([None, None, 3])
    gray = tf.reduce_all(tf.logical_and(tf.equal(img[..., 0], img[..., 1]),
                                        tf.equal(img[..., 1], img[..., 2])))
    return resize_uint8(img, image_size), gray


# The leading bytes of the formats tf.io.decode_image reads (JPEG, PNG, GIF, BMP).
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")
# What an unreadable image file is called, streamed or decoded into memory.
NOT_AN_IMAGE = "not a valid JPEG/PNG/BMP/GIF file"


def checked_blob(blob, path):
    """``blob`` after an in-graph check that it starts like a JPEG/PNG/GIF/BMP file.

    A streamed file that is empty or not an image stops the pipeline with an error that
    names ``path`` (TensorFlow's decode error would not); the command line turns it into
    one line (:func:`tfssl.errors.input_error_line`). A file whose header is right but
    whose body is damaged still fails in TensorFlow's decoder.
    """
    ok = tf.reduce_any(tf.stack([tf.equal(tf.strings.substr(blob, 0, len(magic)), magic)
                                 for magic in _MAGIC]))
    check = tf.debugging.Assert(ok, [INPUT_ERROR + " unreadable image", path,
                                     ": " + NOT_AN_IMAGE])
    with tf.control_dependencies([check]):
        return tf.identity(blob)


def resize_uint8(img, image_size):
    """An image of any size -> ``(image_size, image_size, C)`` uint8 (antialiased, rounded)."""
    img = tf.image.resize(img, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)


def to_channels(image, channels):
    """A uint8 ``(..., 3)`` image with ``channels`` (1: luminance, exact for gray; 3: as is)."""
    if channels == 3:
        return image
    luma = tf.tensordot(tf.cast(image, tf.float32), tf.constant(_LUMA), axes=[[-1], [0]])
    return tf.cast(tf.clip_by_value(tf.round(luma), 0, 255), tf.uint8)[..., None]
