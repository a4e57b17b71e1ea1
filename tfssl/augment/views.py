"""SimCLR image views as pure TensorFlow ops, for use inside ``tf.data`` ``map``.

Every op takes an image of shape ``(H, W, C)`` with ``C`` in {1, 3} (static), ``H, W``
static or dynamic, dtype integer (any integer dtype, values 0..255) or float (assumed in
[0, 1]), and returns float32 in [0, 1] with the channel count kept. Colour-only ops
(saturation, hue, grayscale) are identities on gray images.

Seeding: every op is *stateless*. Its ``seed`` argument is

* ``None``: a fresh seed is drawn with a stateful ``tf.random`` op on every call, so each
  call (and each dataset element) gets new parameters;
* a Python int or a shape ``[2]`` integer tensor: a stateless seed; the same seed gives
  the same output. Ops that need several random numbers split it with
  ``tf.random.experimental.stateless_split``.

For datasets, :func:`add_views` zips the dataset with ``tf.data.Dataset.random(seed,
rerandomize_each_iteration=True)`` so that every element gets its own stateless seed:
reproducible across runs even with ``num_parallel_calls=AUTOTUNE``, different for every
element and every epoch. :func:`make_view_fn` returns a plain function for
``dataset.map``; with an integer seed it draws the per-element seeds from a
``tf.random.Generator``, which is reproducible only when the map runs sequentially.
"""

import math

import tensorflow as tf

from tfssl.errors import UsageError, check_number

_INT32_MAX = 2**31 - 1


def _to_seed(seed):
    """A shape [2] int64 stateless seed from None (fresh), an int, or a tensor."""
    if seed is None:
        return tf.random.uniform([2], maxval=_INT32_MAX, dtype=tf.int32, name="fresh_seed")
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 0:
        return tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return seed


def _split(seed, num):
    """``num`` independent stateless seeds, each shape [2]."""
    return tf.unstack(tf.random.experimental.stateless_split(_to_seed(seed), num=num))


def _to_float(image):
    """Integer images (any integer dtype: 0..255, clipped) -> float32 in [0, 1]; float
    (and bool) images are cast and clipped to [0, 1]."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3 or image.shape[-1] not in (1, 3):
        raise UsageError(
            f"augment: expected an image of shape (H, W, 1) or (H, W, 3) with a static "
            f"channel count, got shape {image.shape}")
    if image.dtype.is_integer:
        if image.dtype != tf.uint8:  # not convert_image_dtype: it scales by the dtype max
            image = tf.cast(tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 255.0),
                            tf.uint8)
        image = tf.image.convert_image_dtype(image, tf.float32)
    else:
        image = tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 1.0)
    return image


def _maybe(p, seed, fn, image):
    """``fn(image)`` with probability ``p`` (python shortcuts for p <= 0 and p >= 1)."""
    if isinstance(p, (int, float)):
        if p <= 0:
            return image
        if p >= 1:
            return fn(image)
    u = tf.random.stateless_uniform([], seed=seed)
    return tf.cond(u < tf.cast(p, tf.float32), lambda: fn(image), lambda: image)


CROP_SAMPLINGS = ("simclr", "torchvision")


def check_crop_scales(min_scale, max_scale):
    """A one-line :class:`UsageError` unless ``0 < min_scale <= max_scale <= 1``."""
    if not 0 < min_scale <= max_scale <= 1:
        raise UsageError(f"min_crop_scale={min_scale}, max_crop_scale={max_scale}: "
                         "expected 0 < min <= max <= 1")


def _check_probability(name, p):
    if not 0.0 <= p <= 1.0:
        raise UsageError(f"{name}={p}: expected a probability in [0, 1]")
    return p


def check_crop_sampling(sampling):
    """``sampling`` if it names a crop sampling, else a one-line :class:`UsageError`."""
    if sampling not in CROP_SAMPLINGS:
        raise UsageError(f"crop_sampling={sampling!r}: expected one of "
                         f"{', '.join(repr(c) for c in CROP_SAMPLINGS)}")
    return sampling


def _torchvision_box(shape, scale, ratio, seed, attempts=10):
    """torchvision's ``RandomResizedCrop.get_params`` with stateless ops: ``attempts``
    draws at once (area fraction uniform in ``scale``, aspect ratio log-uniform in
    ``ratio``), the first that fits wins; none fits: the central crop of the whole
    image clamped to ``ratio``."""
    scale_seed, ratio_seed, offset_seed = _split(seed, 3)
    height = tf.cast(shape[0], tf.float32)
    width = tf.cast(shape[1], tf.float32)
    target = height * width * tf.random.stateless_uniform(
        [attempts], scale_seed, float(scale[0]), float(scale[1]))
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = tf.exp(tf.random.stateless_uniform([attempts], ratio_seed, log_lo, log_hi))
    w = tf.round(tf.sqrt(target * aspect))
    h = tf.round(tf.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32))  # index of the first fit (0 if none)
    in_ratio = width / height
    fallback_w = tf.where(in_ratio > max(ratio), tf.round(height * max(ratio)), width)
    fallback_h = tf.where(in_ratio < min(ratio), tf.round(width / min(ratio)), height)
    found = tf.reduce_any(fits)
    crop_h = tf.where(found, h[first], fallback_h)
    crop_w = tf.where(found, w[first], fallback_w)
    u = tf.random.stateless_uniform([2], offset_seed)
    top = tf.where(found, tf.floor(u[0] * (height - crop_h + 1)),
                   tf.floor((height - crop_h) / 2))
    left = tf.where(found, tf.floor(u[1] * (width - crop_w + 1)),
                    tf.floor((width - crop_w) / 2))
    top = tf.minimum(top, height - crop_h)  # u < 1, but float rounding
    left = tf.minimum(left, width - crop_w)
    begin = tf.cast(tf.stack([top, left, 0.0]), tf.int32)
    size = tf.concat([tf.cast(tf.stack([crop_h, crop_w]), tf.int32), [-1]], 0)
    return begin, size


def _crop_box(shape, scale, ratio, seed, sampling):
    """``(begin, size)`` of a random crop of an image of ``shape`` (for ``tf.slice``)."""
    check_crop_sampling(sampling)
    if sampling == "torchvision":
        return _torchvision_box(shape, scale, ratio, seed)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape,
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        seed=_to_seed(seed),
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=100,
        use_image_if_no_bounding_boxes=True,
    )
    return begin, size


def random_resized_crop(image, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), seed=None,
                        sampling="simclr"):
    """Crops a random box of random area and aspect ratio, resized to ``size``.

    Two ways of drawing the box:

    * ``"simclr"`` (default; the original SimCLR TF code):
      ``tf.image.stateless_sample_distorted_bounding_box`` with ``area_range=scale``,
      ``aspect_ratio_range=ratio`` and 100 attempts (the whole image if none fits). Its
      area fraction is *not* uniform in ``scale``: boxes that do not fit are redrawn
      and large ones fit less often. Measured over 20,000 seeds on a 224 x 224 image
      with the default ``scale`` and ``ratio``: mean area fraction 0.40 (0.404); a
      uniform draw in (0.08, 1) would give 0.54. With ``ratio=(1, 1)``: 0.46.
    * ``"torchvision"``: torchvision's ``RandomResizedCrop``: 10 attempts, each with an
      area fraction uniform in ``scale`` and a log-uniform aspect ratio in ``ratio``;
      the first that fits is taken at a uniform position; if none fits, the central
      crop of the whole image clamped to ``ratio``. Measured as above: mean area
      fraction 0.48 (0.479, as a plain-Python run of the same algorithm gives): the
      rejected draws are the large, elongated ones. With ``ratio=(1, 1)`` every draw
      fits and the mean is the uniform one, 0.54 (0.533 measured).

    Args:
      image: (H, W, C) integer (0..255) or float image.
      size: output side (int) or (height, width).
      scale: range of the crop's area as a fraction of the image area (see above for
        how it is drawn).
      ratio: range of the crop's aspect ratio (width / height).
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).
      sampling: ``"simclr"`` or ``"torchvision"``.

    Returns:
      float32 (size, size, C) image in [0, 1].
    """
    image = _to_float(image)
    size = (size, size) if isinstance(size, int) else tuple(size)
    begin, crop_size = _crop_box(tf.shape(image), scale, ratio, seed, sampling)
    crop = tf.slice(image, begin, crop_size)
    out = tf.image.resize(crop, size, method="bilinear", antialias=False)
    out.set_shape([size[0], size[1], image.shape[-1]])
    return tf.clip_by_value(out, 0.0, 1.0)


def random_flip(image, seed=None):
    """Flips the image horizontally with probability 1/2.

    Args:
      image: (H, W, C) uint8 or float image.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).

    Returns:
      float32 image in [0, 1], same shape.
    """
    return tf.image.stateless_random_flip_left_right(_to_float(image), seed=_to_seed(seed))


def _gray(image):
    """Luma of an RGB image, kept with 3 equal channels."""
    return tf.tile(tf.image.rgb_to_grayscale(image), [1, 1, 3])


def color_jitter(image, strength, p=0.8, seed=None):
    """SimCLR colour distortion: brightness, contrast, saturation, hue in random order.

    With strength ``s`` the factors are drawn from brightness ``[1-0.8s, 1+0.8s]``
    (multiplicative), contrast ``[1-0.8s, 1+0.8s]``, saturation ``[1-0.8s, 1+0.8s]``
    and a hue shift in ``[-0.2s, 0.2s]``; the image is clipped to [0, 1] after each.
    Saturation and hue leave gray images unchanged.

    Args:
      image: (H, W, C) uint8 or float image.
      strength: jitter strength ``s`` (SimCLR uses 1.0 on ImageNet, 0.5 on CIFAR).
      p: probability of applying the jitter at all.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).

    Returns:
      float32 image in [0, 1], same shape.
    """
    image = _to_float(image)
    apply_seed, order_seed, b_seed, c_seed, s_seed, h_seed = _split(seed, 6)
    b = c = s = 0.8 * strength
    h = 0.2 * strength
    colour = image.shape[-1] == 3

    def factor(spread, sd):
        return tf.random.stateless_uniform([], sd, max(0.0, 1.0 - spread), 1.0 + spread)

    def brightness(x):
        return x * factor(b, b_seed)

    def contrast(x):
        return tf.image.adjust_contrast(x, factor(c, c_seed))

    def saturation(x):
        if not colour:
            return x
        gray = _gray(x)
        return gray + factor(s, s_seed) * (x - gray)

    def hue(x):
        if not colour:
            return x
        return tf.image.adjust_hue(x, tf.random.stateless_uniform([], h_seed, -h, h))

    transforms = [brightness, contrast, saturation, hue]

    def jitter(x):
        order = tf.argsort(tf.random.stateless_uniform([4], order_seed))
        for i in range(4):
            x = tf.switch_case(
                order[i],
                [lambda t=t: tf.clip_by_value(t(x), 0.0, 1.0) for t in transforms])
        return x

    return _maybe(p, apply_seed, jitter, image)


def random_grayscale(image, p=0.2, seed=None):
    """Converts a colour image to gray (3 equal channels) with probability ``p``.

    Args:
      image: (H, W, C) uint8 or float image; a gray image is returned unchanged.
      p: probability of converting.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).

    Returns:
      float32 image in [0, 1], same shape.
    """
    image = _to_float(image)
    if image.shape[-1] == 1:
        return image
    return _maybe(p, _to_seed(seed), _gray, image)


def separable_blur(image, kernel, radius):
    """``image`` (H, W, C) convolved with the 1-D ``kernel`` (length ``2 * radius + 1``)
    along rows and columns, edges padded symmetrically; same shape."""
    channels = image.shape[-1]
    k_h = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    k_w = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    padded = tf.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]],
                    mode="SYMMETRIC")
    out = tf.nn.depthwise_conv2d(padded, k_h, [1, 1, 1, 1], "VALID")
    out = tf.nn.depthwise_conv2d(out, k_w, [1, 1, 1, 1], "VALID")
    return tf.reshape(out, tf.shape(image))


def gaussian_blur(image, p=0.5, sigma=(0.1, 2.0), kernel_size=None, seed=None):
    """Gaussian blur with a random sigma, as a separable depthwise convolution.

    Borders are padded symmetrically, so a constant image stays constant.

    Args:
      image: (H, W, C) uint8 or float image.
      p: probability of blurring.
      sigma: range of the standard deviation, in pixels.
      kernel_size: odd kernel side; None uses about 10% of the image height, made odd.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).

    Returns:
      float32 image in [0, 1], same shape.
    """
    image = _to_float(image)
    apply_seed, sigma_seed = _split(seed, 2)
    if kernel_size is None:
        height = image.shape[0]
        if height is None:
            radius = tf.shape(image)[0] // 20
        else:
            radius = height // 20
    else:
        radius = int(kernel_size) // 2

    def blur(x):
        sd = tf.random.stateless_uniform([], sigma_seed, sigma[0], sigma[1])
        offsets = tf.cast(tf.range(-radius, radius + 1), tf.float32)
        kernel = tf.exp(-tf.square(offsets) / (2.0 * tf.square(sd)))
        kernel /= tf.reduce_sum(kernel)
        return tf.clip_by_value(separable_blur(x, kernel, radius), 0.0, 1.0)

    if isinstance(radius, int) and radius == 0:
        return image
    return _maybe(p, apply_seed, blur, image)


def solarize(image, p, threshold=0.5, seed=None):
    """Inverts the pixels at or above ``threshold`` (``x -> 1 - x``) with probability ``p``.

    Args:
      image: (H, W, C) uint8 or float image.
      p: probability of solarizing.
      threshold: pixel value in [0, 1] from which pixels are inverted.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).

    Returns:
      float32 image in [0, 1], same shape.
    """
    image = _to_float(image)
    return _maybe(p, _to_seed(seed),
                  lambda x: tf.where(x < threshold, x, 1.0 - x), image)


_color_jitter = color_jitter


def simclr_augment(image, image_size, *, min_scale=0.08, color_jitter=0.5, jitter_p=0.8,
                   flip=True, grayscale_p=0.2, blur=None, solarize_p=0.0, max_scale=1.0,
                   crop_sampling="simclr", seed=None):
    """One SimCLR view: crop-resize, flip, colour jitter, grayscale, blur, solarize.

    Args:
      image: (H, W, C) image, uint8 (0..255) or float in [0, 1], C in {1, 3}.
      image_size: output side in pixels.
      min_scale: smallest crop area as a fraction of the image.
      color_jitter: jitter strength ``s``; 0 turns colour jitter off.
      jitter_p: probability of colour jitter.
      flip: random horizontal flip.
      grayscale_p: probability of converting to gray.
      blur: None (on, p=0.5, when ``image_size >= 96``), a bool (p=0.5 or off), or a
        float probability.
      solarize_p: probability of solarizing.
      max_scale: largest crop area as a fraction of the image (multi-crop's small views
        use e.g. 0.14).
      crop_sampling: how the crop box is drawn, ``"simclr"`` or ``"torchvision"``
        (see :func:`random_resized_crop`).
      seed: None (fresh parameters each call) or a stateless seed (int or shape [2]
        tensor); the same seed gives the same view.

    Returns:
      float32 (image_size, image_size, C) image in [0, 1].
    """
    if blur is None:
        blur = image_size >= 96
    blur_p = (0.5 if blur else 0.0) if isinstance(blur, bool) else float(blur)
    seeds = _split(seed, 6)
    check_crop_scales(min_scale, max_scale)
    x = random_resized_crop(image, image_size, scale=(min_scale, max_scale), seed=seeds[0],
                            sampling=crop_sampling)
    if flip:
        x = random_flip(x, seed=seeds[1])
    if color_jitter:
        x = _color_jitter(x, color_jitter, p=jitter_p, seed=seeds[2])
    x = random_grayscale(x, p=grayscale_p, seed=seeds[3])
    x = gaussian_blur(x, p=blur_p, seed=seeds[4])
    x = solarize(x, p=solarize_p, seed=seeds[5])
    return x


def two_views(image, image_size, *, seed=None, **config):
    """Two independently drawn SimCLR views of one image.

    Args:
      image: (H, W, C) image, uint8 or float in [0, 1].
      image_size: output side in pixels.
      seed: None (fresh) or a stateless seed (int or shape [2] tensor).
      **config: keyword arguments of :func:`simclr_augment`.

    Returns:
      ``(view1, view2)``, each float32 (image_size, image_size, C) in [0, 1].
    """
    s1, s2 = _split(seed, 2)
    return (simclr_augment(image, image_size, seed=s1, **config),
            simclr_augment(image, image_size, seed=s2, **config))


def _image_of(element):
    """The image of a dataset element: ``image``, ``(image, label, ...)`` or a dict."""
    if len(element) == 1 and isinstance(element[0], dict):
        return element[0]["image"]
    if len(element) == 1 and isinstance(element[0], (tuple, list)):
        return element[0][0]
    return element[0]


def make_view_fn(image_size, *, seed=None, **config):
    """A function for ``dataset.map`` mapping an element to ``(view1, view2)``.

    The element is ``image``, ``(image, label)`` or ``{"image": ...}``; labels are dropped.

    Example:
      ``ds = ds.map(make_view_fn(image_size=32), num_parallel_calls=tf.data.AUTOTUNE)``

    Args:
      image_size: output side in pixels.
      seed: None: fresh views on every call. An int: per-element seeds come from a
        ``tf.random.Generator`` seeded with it; reproducible across runs only when the
        map runs sequentially. Use :func:`add_views` for reproducible parallel maps.
      **config: keyword arguments of :func:`simclr_augment`.

    Returns:
      A function ``fn(*element) -> (view1, view2)``.
    """
    generator = None if seed is None else tf.random.Generator.from_seed(seed)

    def fn(*element):
        element_seed = None if generator is None else generator.make_seeds(1)[:, 0]
        return two_views(_image_of(element), image_size, seed=element_seed, **config)

    return fn


def add_views(ds, image_size, *, seed=None, num_parallel_calls=tf.data.AUTOTUNE, **config):
    """Maps a dataset of images (or ``(image, label)``) to a dataset of view pairs.

    Two views drawn with the same ``config``: :func:`add_view_set` with two equal views.

    Args:
      ds: ``tf.data.Dataset`` of ``image``, ``(image, label)`` or ``{"image": ...}``.
      image_size: output side in pixels.
      seed: None (fresh views) or an int.
      num_parallel_calls: passed to ``Dataset.map``.
      **config: keyword arguments of :func:`simclr_augment`.

    Returns:
      A ``tf.data.Dataset`` of ``(view1, view2)``.
    """
    view = dict(config, image_size=image_size)
    return add_view_set(ds, [view, view], seed=seed, num_parallel_calls=num_parallel_calls)


def view_set(image, views, seed=None):
    """One view of ``image`` per entry of ``views`` (each a :func:`simclr_augment` kwargs
    dict with its ``image_size``), from independent stateless seeds split off ``seed``."""
    seeds = _split(seed, len(views))
    return tuple(simclr_augment(image, seed=s, **v) for s, v in zip(seeds, views))


def add_view_set(ds, views, *, seed=None, with_index=False,
                 num_parallel_calls=tf.data.AUTOTUNE, element_seeds=None):
    """Maps a dataset of images to tuples of views, each with its own augmentation.

    With an integer ``seed`` the dataset is zipped with ``tf.data.Dataset.random(seed,
    rerandomize_each_iteration=True)`` and each element's views use that element's
    stateless seed: the same seed gives the same views across runs, also with a parallel
    map, while every element and every epoch (re-iteration) gets new ones.

    Args:
      ds: ``tf.data.Dataset`` of ``image``, ``(image, label)`` or ``{"image": ...}``; with
        ``with_index``, of ``(image, index)``.
      views: a list of :func:`simclr_augment` keyword dicts, each with ``image_size``
        (views of different sizes give multi-crop, see :func:`multi_crop`).
      seed: None (fresh views) or an int.
      with_index: elements are ``(image, index)`` and come out as ``(views, index)``.
      num_parallel_calls: passed to ``Dataset.map``.
      element_seeds: with an int ``seed``, a dataset of int64 scalars to draw the
        elements' seeds from instead of ``Dataset.random`` (e.g. a ``Dataset.range``:
        then every iteration gives the same views).

    Returns:
      A ``tf.data.Dataset`` of view tuples (or ``(views, index)``).
    """
    views = [dict(v) for v in views]

    def make(element_seed, element):
        if len(element) == 1 and isinstance(element[0], tuple):  # zipped: ((image, i),)
            element = element[0]
        out = view_set(_image_of(element), views, seed=element_seed)
        return (out, element[1]) if with_index else out

    if seed is None:
        return ds.map(lambda *e: make(None, e), num_parallel_calls=num_parallel_calls)
    seeds = element_seeds if element_seeds is not None else tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=True)

    def fn(element_seed, *element):
        return make(tf.stack([element_seed, tf.constant(seed, tf.int64)]), element)

    return tf.data.Dataset.zip((seeds, ds)).map(fn, num_parallel_calls=num_parallel_calls)


def views_from_settings(settings, overrides=({}, {})):
    """:func:`simclr_augment` kwargs for each view, from run settings.

    ``settings`` holds the run's augmentation settings (``image_size``,
    ``min_crop_scale``, ``color_jitter``, ``flip``, ``blur``, ``solarize``, optional
    ``max_crop_scale``, ``grayscale``, ``crop_sampling``); each dict of ``overrides``
    changes them for one view (a method's asymmetric views, or ``size`` for a multi-crop
    view). The settings are checked here, eagerly (in ``tf.data`` a bad one would surface
    as a traced-function error after the run had started).
    """
    out = []
    for override in overrides:
        s = dict(settings, **override)
        size = s.get("size") or s["image_size"]
        if "size" in override and override["size"] is None:  # multi-crop small view
            size = max(8, round(s["image_size"] * 3 / 7))
        view = dict(
            image_size=int(size),
            min_scale=float(s["min_crop_scale"]), max_scale=float(s.get("max_crop_scale", 1.0)),
            color_jitter=check_number("color_jitter", s["color_jitter"], strict=False),
            flip=bool(s["flip"]), blur=s.get("blur"),
            solarize_p=_check_probability("solarize", float(s.get("solarize") or 0.0)),
            grayscale_p=_check_probability("grayscale", float(s.get("grayscale", 0.2))),
            crop_sampling=check_crop_sampling(s.get("crop_sampling", "simclr")))
        check_crop_scales(view["min_scale"], view["max_scale"])
        if not isinstance(view["blur"], (bool, type(None))):
            _check_probability("blur", float(view["blur"]))
        out.append(view)
    return out


def multi_crop(num_small=4, small_size=None, small_scale=(0.05, 0.14),
               large_scale=(0.14, 1.0)):
    """View overrides for multi-crop (Caron et al. 2020): 2 large + ``num_small`` small.

    Returns dicts for :func:`views_from_settings`; ``small_size`` defaults to the run's
    image size at 3/7 (96 px at 224).
    """
    large = {"min_crop_scale": large_scale[0], "max_crop_scale": large_scale[1]}
    small = {"min_crop_scale": small_scale[0], "max_crop_scale": small_scale[1],
             "size": small_size}
    return [dict(large), dict(large)] + [dict(small) for _ in range(num_small)]


__all__ = [
    "random_resized_crop", "random_flip", "color_jitter", "random_grayscale",
    "gaussian_blur", "solarize", "simclr_augment", "two_views", "make_view_fn",
    "add_views", "add_view_set", "view_set", "views_from_settings", "multi_crop",
    "CROP_SAMPLINGS",
]
