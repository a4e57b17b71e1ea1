"""Robustness to corrupted inputs: corruptions made on the fly, accuracy per severity.

In the spirit of CIFAR-10-C / ImageNet-C (Hendrycks & Dietterich 2019): each corruption
comes in 5 severities, the test set is corrupted at each and the accuracy measured; the
mean over corruptions and severities (mCA, "mean corruption accuracy") summarises it and
the gap to the clean accuracy says how much of the accuracy survives. Nothing is
downloaded: the image corruptions are TensorFlow ops applied in a ``tf.data`` map, the text
corruptions pure Python.

Image corruptions, on float32 images in [0, 1] (the parameter per severity 1..5):

================  =================================  =====================================
name              parameter                          severities 1..5
================  =================================  =====================================
gaussian_noise    std of added N(0, std^2) noise     0.04, 0.08, 0.14, 0.24, 0.38
gaussian_blur     sigma of the blur, in pixels       0.5, 0.75, 1.0, 1.5, 2.0
contrast          factor c: ``(x - mean) c + mean``  0.75, 0.5, 0.4, 0.3, 0.15
brightness        delta added to V (HSV), or to      0.1, 0.2, 0.3, 0.4, 0.5
                  the grey value
jpeg              JPEG quality                       80, 60, 40, 20, 10
pixelate          side kept (area resize down, then  0.9, 0.75, 0.6, 0.45, 0.3
                  nearest resize back up)
================  =================================  =====================================

The noise stds run from CIFAR-10-C's mildest (0.04) to ImageNet-C's strongest (0.38); the
contrast factors are CIFAR-10-C's; brightness, JPEG and pixelate are stronger than
CIFAR-10-C's (which are tuned for 32 px colour images and barely change small grey digits)
and blur is given in pixels, with a kernel of radius ``ceil(3 sigma)`` (capped at the
image side minus one when the shape is static) and symmetric padding. Only
``gaussian_noise`` is random: it uses a stateless seed, so the same seed gives the same
image.

Text corruptions (:func:`corrupt_texts`) change a fraction of the words, by severity
``0.05, 0.1, 0.2, 0.3, 0.5``: ``typo`` (one character of a chosen word deleted, swapped
with its neighbour or replaced), ``word_dropout`` (chosen words removed, at least one
kept), ``word_swap`` (chosen disjoint pairs of adjacent words swapped, so the fraction is
of words moved).

References:
    Hendrycks, Dietterich. "Benchmarking Neural Network Robustness to Common Corruptions
    and Perturbations". ICLR 2019. https://arxiv.org/abs/1903.12261
"""

import math
import numbers
import string

import numpy as np
import tensorflow as tf

from tfssl.augment.views import separable_blur
from tfssl.errors import UsageError

SEVERITIES = (1, 2, 3, 4, 5)
IMAGE_CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "contrast", "brightness", "jpeg",
                     "pixelate")
TEXT_CORRUPTIONS = ("typo", "word_dropout", "word_swap")

# Parameter of each corruption at severities 1..5 (see the table in the module docstring).
_NOISE_STD = (0.04, 0.08, 0.14, 0.24, 0.38)
_BLUR_SIGMA = (0.5, 0.75, 1.0, 1.5, 2.0)
_CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
_BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
_JPEG_QUALITY = (80, 60, 40, 20, 10)
_PIXELATE = (0.9, 0.75, 0.6, 0.45, 0.3)
_TEXT_RATE = (0.05, 0.1, 0.2, 0.3, 0.5)


def _check_name(name, allowed):
    if not isinstance(name, str) or name not in allowed:
        raise UsageError(f"corruption {name!r}: expected one of {', '.join(allowed)}")
    return name


def _check_severity(severity):
    if (isinstance(severity, bool) or not isinstance(severity, numbers.Integral)
            or severity not in SEVERITIES):
        raise UsageError(f"severity={severity!r}: expected one of "
                         f"{', '.join(map(str, SEVERITIES))}")
    return int(severity)


def _to_float(image):
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3 or image.shape[-1] not in (1, 3):
        raise UsageError(f"corrupt: expected an image of shape (H, W, 1) or (H, W, 3), "
                         f"got shape {image.shape}")
    if image.dtype.is_integer:
        return tf.image.convert_image_dtype(image, tf.float32)
    return tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 1.0)


def _seed(seed):
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 0:
        return tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.cast(seed, tf.int64)


def _gaussian_noise(x, level, seed):
    return x + tf.random.stateless_normal(tf.shape(x), _seed(seed), stddev=level)


def _gaussian_blur(x, sigma):
    radius = int(math.ceil(3 * sigma))
    spatial = x.shape[:2].as_list()
    if None not in spatial:  # symmetric padding needs radius < side
        radius = max(0, min(radius, min(spatial) - 1))
    if radius == 0:
        return x
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-offsets ** 2 / (2.0 * sigma ** 2))
    kernel = tf.constant(kernel / kernel.sum(), tf.float32)
    return separable_blur(x, kernel, radius)


def _contrast(x, factor):
    mean = tf.reduce_mean(x)
    return (x - mean) * factor + mean


def _brightness(x, delta):
    if x.shape[-1] == 1:
        return x + delta
    hsv = tf.image.rgb_to_hsv(x)
    value = tf.clip_by_value(hsv[..., 2:] + delta, 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.concat([hsv[..., :2], value], axis=-1))


def _jpeg(x, quality):
    # adjust_jpeg_quality encodes 1- or 3-channel images (both are what corrupt accepts).
    return tf.image.adjust_jpeg_quality(x, quality)


def _pixelate(x, fraction):
    size = tf.shape(x)[:2]
    small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * fraction), tf.int32), 1)
    down = tf.image.resize(x, small, method="area")
    return tf.image.resize(down, size, method="nearest")


def corrupt(image, name, severity, seed=(0, 0)):
    """One corrupted image: ``name`` at ``severity`` (see the table in the module docstring).

    Pure TensorFlow ops, usable inside ``tf.data`` ``map``.

    Args:
        image: ``(H, W, C)`` float image in [0, 1] (uint8 is converted), ``C`` in {1, 3}
            and static.
        name: one of :data:`IMAGE_CORRUPTIONS`.
        severity: 1 (mildest) to 5 (strongest).
        seed: stateless seed, a shape ``[2]`` integer tensor (or a scalar); only
            ``gaussian_noise`` is random, and the same seed gives the same noise.

    Returns:
        float32 ``(H, W, C)`` image in [0, 1].

    Raises:
        UsageError: for an unknown name or a severity outside 1..5.
    """
    name = _check_name(name, IMAGE_CORRUPTIONS)
    level = _check_severity(severity) - 1
    x = _to_float(image)
    shape = x.shape
    if name == "gaussian_noise":
        out = _gaussian_noise(x, _NOISE_STD[level], seed)
    elif name == "gaussian_blur":
        out = _gaussian_blur(x, _BLUR_SIGMA[level])
    elif name == "contrast":
        out = _contrast(x, _CONTRAST[level])
    elif name == "brightness":
        out = _brightness(x, _BRIGHTNESS[level])
    elif name == "jpeg":
        out = _jpeg(x, _JPEG_QUALITY[level])
    else:
        out = _pixelate(x, _PIXELATE[level])
    out = tf.clip_by_value(tf.cast(out, tf.float32), 0.0, 1.0)
    out.set_shape(shape)
    return out


def corrupt_images(data, name, severity, seed=0, batch_size=256):
    """A corrupted copy of an :class:`tfssl.data.ImageData`, made in a ``tf.data`` map.

    Image ``i`` is corrupted with :func:`corrupt` and the stateless seed ``(seed, i)``:
    the result does not depend on the parallelism of the map, and the same ``seed`` gives
    the same images.

    Args:
        data: :class:`tfssl.data.ImageData` (uint8 images).
        name: one of :data:`IMAGE_CORRUPTIONS`.
        severity: 1..5.
        seed: an int >= 0.
        batch_size: images per batch taken out of the pipeline.

    Returns:
        An :class:`tfssl.data.ImageData` of uint8 images with the same labels and class
        names, its source suffixed with ``+NAME@SEVERITY``.
    """
    from tfssl.data import ImageData

    data = data.materialize()  # a streamed test set is decoded here (keep it small)
    _check_name(name, IMAGE_CORRUPTIONS)
    severity = _check_severity(severity)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UsageError(f"seed={seed!r}: must be a whole number >= 0")
    base = tf.constant(int(seed), tf.int64)

    def fn(index, image):
        x = corrupt(image, name, severity, seed=tf.stack([base, index]))
        return tf.cast(tf.round(x * 255.0), tf.uint8)

    ds = (tf.data.Dataset.from_tensor_slices(data.images).enumerate()
          .map(fn, num_parallel_calls=tf.data.AUTOTUNE)
          .batch(int(batch_size)).prefetch(tf.data.AUTOTUNE))
    chunks = [b.numpy() for b in ds]
    images = np.concatenate(chunks) if chunks else data.images.copy()
    return ImageData(images, np.array(data.labels, copy=True), list(data.class_names),
                     f"{data.source}+{name}@{severity}")


# ------------------------------------------------------------------------------- text


def _count(rng, rate, n):
    """How many of ``n`` items to change: ``rate * n`` rounded at random (unbiased)."""
    x = rate * n
    return int(math.floor(x) + (rng.random() < x - math.floor(x)))


def _typo(word, rng):
    """``word`` with one character deleted, swapped with its neighbour or replaced."""
    op = int(rng.integers(3))
    if op == 0 and len(word) > 1:
        i = int(rng.integers(len(word)))
        return word[:i] + word[i + 1:]
    if op == 1:
        spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if spots:
            i = spots[int(rng.integers(len(spots)))]
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    i = int(rng.integers(len(word)))
    letters = [c for c in string.ascii_lowercase if c != word[i].lower()]
    return word[:i] + letters[int(rng.integers(len(letters)))] + word[i + 1:]


def _corrupt_words(words, name, rate, rng):
    n = len(words)
    if n == 0:
        return words
    if name == "typo":
        chosen = set(rng.choice(n, size=min(n, _count(rng, rate, n)), replace=False).tolist())
        return [_typo(w, rng) if i in chosen else w for i, w in enumerate(words)]
    if name == "word_dropout":
        dropped = set(rng.choice(n, size=min(n - 1, _count(rng, rate, n)),
                                 replace=False).tolist())
        return [w for i, w in enumerate(words) if i not in dropped]
    # word_swap: disjoint adjacent pairs (offset 0 or 1), rate * n / 2 of them.
    offset = int(rng.integers(2)) if n > 2 else 0
    pairs = list(range(offset, n - 1, 2))
    if not pairs:
        return words
    num = min(len(pairs), _count(rng, rate / 2.0, n))
    out = list(words)
    for i in rng.choice(pairs, size=num, replace=False).tolist():
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def corrupt_texts(texts, name, severity, seed=0):
    """Corrupted copies of ``texts`` (see the module docstring for what each does).

    Words are the whitespace-separated tokens of each text and are joined back with
    single spaces. At severity ``s`` a fraction ``0.05, 0.1, 0.2, 0.3, 0.5`` of the
    words of every text is changed (``rate * n`` rounded up or down at random, so the
    expected fraction is exact also for short texts). Text ``i`` uses a NumPy generator
    seeded with ``(seed, i)``: deterministic for a seed.

    Args:
        texts: a sequence of strings.
        name: one of :data:`TEXT_CORRUPTIONS`.
        severity: 1..5.
        seed: an int >= 0.

    Returns:
        A list of strings, one per text.
    """
    _check_name(name, TEXT_CORRUPTIONS)
    rate = _TEXT_RATE[_check_severity(severity) - 1]
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UsageError(f"seed={seed!r}: must be a whole number >= 0")
    if isinstance(texts, str):
        raise UsageError("texts: expected a sequence of strings, got one string")
    out = []
    for i, text in enumerate(texts):
        rng = np.random.default_rng([int(seed), i])
        out.append(" ".join(_corrupt_words(str(text).split(), name, rate, rng)))
    return out


# --------------------------------------------------------------------------- curves


def robustness_curve(accuracy_fn, data, corruptions=None, severities=SEVERITIES,
                     corrupt_fn=corrupt_images, seed=0):
    """Accuracy on clean data and on every corruption at every severity.

    Args:
        accuracy_fn: ``accuracy_fn(test_data) -> float``, e.g. a classifier's top-1 on
            an :class:`tfssl.data.ImageData` (or on a list of texts).
        data: the clean test data, as taken by ``corrupt_fn``.
        corruptions: names of corruptions; ``None``: all of :data:`IMAGE_CORRUPTIONS`
            (or :data:`TEXT_CORRUPTIONS` with ``corrupt_fn=corrupt_texts``).
        severities: severities to measure, each in 1..5.
        corrupt_fn: ``corrupt_fn(data, name, severity, seed=seed)`` returns corrupted
            data: :func:`corrupt_images` or :func:`corrupt_texts`.
        seed: passed to ``corrupt_fn``.

    Returns:
        ``{"clean": float, "severities": [int], "corruptions": {name: [accuracy per
        severity]}, "mean_corruption_accuracy": mean over every (name, severity)}``.
    """
    allowed = {corrupt_images: IMAGE_CORRUPTIONS, corrupt_texts: TEXT_CORRUPTIONS}
    known = allowed.get(corrupt_fn)
    if corruptions is None:
        if known is None:
            raise UsageError("corruptions=None: name the corruptions of a custom "
                             "corrupt_fn")
        corruptions = known
    if isinstance(corruptions, str):
        corruptions = [corruptions]
    corruptions = list(corruptions)
    if known is not None:
        for name in corruptions:
            _check_name(name, known)
    severities = [_check_severity(s) for s in severities]
    if not corruptions or not severities:
        raise UsageError("robustness_curve: needs at least one corruption and one severity")
    clean = float(accuracy_fn(data))
    curves = {name: [float(accuracy_fn(corrupt_fn(data, name, s, seed=seed)))
                     for s in severities] for name in corruptions}
    return {"clean": clean, "severities": severities, "corruptions": curves,
            "mean_corruption_accuracy": float(np.mean([a for v in curves.values()
                                                       for a in v]))}


__all__ = ["SEVERITIES", "IMAGE_CORRUPTIONS", "TEXT_CORRUPTIONS", "corrupt",
           "corrupt_images", "corrupt_texts", "robustness_curve"]
