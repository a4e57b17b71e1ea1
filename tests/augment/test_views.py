"""Tests for tfssl.augment.views: shapes, ranges, probabilities, seeding, tf.data use."""

import numpy as np
import pytest
import tensorflow as tf

from tfssl import augment
from tfssl.errors import UsageError

RNG = np.random.default_rng(0)
COLOUR_U8 = RNG.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
GRAY_U8 = RNG.integers(0, 256, size=(20, 24, 1), dtype=np.uint8)
COLOUR_F = COLOUR_U8.astype(np.float32) / 255.0
GRAY_F = GRAY_U8.astype(np.float32) / 255.0
FULL = dict(color_jitter=1.0, grayscale_p=0.2, blur=True, solarize_p=0.2)


def _check(view, size, channels):
    assert view.dtype == tf.float32
    assert tuple(view.shape) == (size, size, channels)
    v = view.numpy()
    assert v.min() >= 0.0 and v.max() <= 1.0


@pytest.mark.parametrize("image", [COLOUR_U8, GRAY_U8, COLOUR_F, GRAY_F],
                         ids=["colour_u8", "gray_u8", "colour_f", "gray_f"])
def test_simclr_augment_shape_range_dtype(image):
    for seed in (None, 1, 2):
        _check(augment.simclr_augment(image, 16, seed=seed, **FULL), 16, image.shape[-1])


@pytest.mark.parametrize("image", [COLOUR_U8, GRAY_F], ids=["colour", "gray"])
def test_each_op_keeps_shape_and_range(image):
    h, w, c = image.shape
    ops = [
        lambda x, s: augment.random_flip(x, seed=s),
        lambda x, s: augment.color_jitter(x, 1.0, p=1.0, seed=s),
        lambda x, s: augment.random_grayscale(x, p=1.0, seed=s),
        lambda x, s: augment.gaussian_blur(x, p=1.0, kernel_size=5, seed=s),
        lambda x, s: augment.solarize(x, p=1.0, seed=s),
    ]
    for op in ops:
        out = op(image, 3)
        assert out.dtype == tf.float32 and tuple(out.shape) == (h, w, c)
        assert 0.0 <= out.numpy().min() and out.numpy().max() <= 1.0
    crop = augment.random_resized_crop(image, (8, 12), seed=3)
    assert tuple(crop.shape) == (8, 12, c)


def test_views_differ_per_call_and_between_views():
    a1, a2 = augment.two_views(COLOUR_U8, 16, **FULL)
    b1, _ = augment.two_views(COLOUR_U8, 16, **FULL)
    assert not np.allclose(a1, a2)
    assert not np.allclose(a1, b1)
    s1, s2 = augment.two_views(COLOUR_U8, 16, seed=5, **FULL)
    t1, t2 = augment.two_views(COLOUR_U8, 16, seed=5, **FULL)
    assert not np.allclose(s1, s2)
    np.testing.assert_array_equal(s1, t1)
    np.testing.assert_array_equal(s2, t2)


@pytest.mark.parametrize("op", ["color_jitter", "random_grayscale", "gaussian_blur",
                                "solarize"])
def test_probability_zero_is_identity_and_one_always_applies(op):
    fn = getattr(augment, op)
    args = (0.8,) if op == "color_jitter" else ()
    kw = {"kernel_size": 5, "sigma": (1.0, 2.0)} if op == "gaussian_blur" else {}
    for seed in range(4):
        out = fn(COLOUR_F, *args, p=0.0, seed=seed, **kw)
        np.testing.assert_allclose(out, COLOUR_F)
        out = fn(COLOUR_F, *args, p=1.0, seed=seed, **kw)
        assert not np.allclose(out, COLOUR_F, atol=1e-3)
    # A tensor probability goes through tf.cond and gives the same edge cases.
    np.testing.assert_allclose(fn(COLOUR_F, *args, p=tf.constant(0.0), seed=1, **kw),
                               COLOUR_F)
    assert not np.allclose(fn(COLOUR_F, *args, p=tf.constant(1.0), seed=1, **kw),
                           COLOUR_F, atol=1e-3)


def test_probability_is_roughly_respected():
    applied = [not np.allclose(augment.solarize(COLOUR_F, p=0.3, seed=s), COLOUR_F)
               for s in range(200)]
    assert 0.15 < np.mean(applied) < 0.45


def test_blur_preserves_constant_image():
    const = np.full((40, 40, 3), 0.37, np.float32)
    for seed in range(3):
        out = augment.gaussian_blur(const, p=1.0, seed=seed).numpy()
        np.testing.assert_allclose(out, const, atol=1e-5)
    out = augment.gaussian_blur(const, p=1.0, kernel_size=9, sigma=(2.0, 2.0)).numpy()
    np.testing.assert_allclose(out.mean(), 0.37, atol=1e-5)


def test_blur_smooths():
    out = augment.gaussian_blur(COLOUR_F, p=1.0, kernel_size=7, sigma=(2.0, 2.0))
    assert out.numpy().std() < COLOUR_F.std()


def test_grayscale_makes_channels_equal_and_keeps_gray():
    out = augment.random_grayscale(COLOUR_U8, p=1.0, seed=0).numpy()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-6)
    np.testing.assert_allclose(augment.random_grayscale(GRAY_F, p=1.0, seed=0), GRAY_F)


def test_colour_jitter_on_gray_stays_single_channel():
    out = augment.color_jitter(GRAY_U8, 1.0, p=1.0, seed=0)
    assert out.shape == GRAY_U8.shape


def test_solarize_threshold():
    x = np.array([0.1, 0.49, 0.5, 0.9], np.float32).reshape(1, 4, 1)
    out = augment.solarize(x, p=1.0, threshold=0.5).numpy().ravel()
    np.testing.assert_allclose(out, [0.1, 0.49, 0.5, 0.1], atol=1e-6)


def test_resized_crop_full_scale_is_resize():
    out = augment.random_resized_crop(COLOUR_F, 10, scale=(1.0, 1.0),
                                      ratio=(24 / 20, 24 / 20), seed=0)
    np.testing.assert_allclose(out, tf.image.resize(COLOUR_F, (10, 10)), atol=1e-5)


def test_bad_image_shape():
    with pytest.raises(UsageError, match="H, W, 3"):
        augment.simclr_augment(np.zeros((8, 8, 2), np.uint8), 8)


def test_dynamic_shape_in_tf_function():
    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def f(image):
        return augment.two_views(image, 12, **FULL)

    for image in (COLOUR_U8, COLOUR_U8[:15, :11]):
        v1, v2 = f(image)
        _check(v1, 12, 3)
        _check(v2, 12, 3)
    blurred = tf.function(
        lambda x: augment.gaussian_blur(x, p=1.0, seed=0),
        input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])(COLOUR_F)
    assert blurred.shape == COLOUR_F.shape


def _labelled_ds(n=6):
    images = np.stack([np.roll(COLOUR_U8, i, axis=0) for i in range(n)])
    return tf.data.Dataset.from_tensor_slices((images, np.arange(n)))


def _collect(ds):
    return [(a.numpy(), b.numpy()) for a, b in ds]


def test_make_view_fn_in_tf_data_with_autotune():
    ds = _labelled_ds().map(augment.make_view_fn(image_size=16, **FULL),
                            num_parallel_calls=tf.data.AUTOTUNE)
    assert ds.element_spec[0].shape == (16, 16, 3)
    pairs = _collect(ds)
    assert len(pairs) == 6
    for v1, v2 in pairs:
        assert v1.dtype == np.float32 and 0 <= v1.min() and v1.max() <= 1
        assert not np.allclose(v1, v2)
    # Plain images (no label) and gray images work too.
    gray = tf.data.Dataset.from_tensor_slices(np.stack([GRAY_U8] * 3))
    for v1, _ in gray.map(augment.make_view_fn(image_size=8),
                          num_parallel_calls=tf.data.AUTOTUNE):
        assert v1.shape == (8, 8, 1)


def test_make_view_fn_seeded_sequential_is_reproducible():
    def run():
        return _collect(_labelled_ds().map(augment.make_view_fn(image_size=16, seed=0)))

    first, second = run(), run()
    for (a1, a2), (b1, b2) in zip(first, second):
        np.testing.assert_array_equal(a1, b1)
        np.testing.assert_array_equal(a2, b2)


def test_add_views_seeded_reproducible_in_parallel_and_new_each_epoch():
    def build(seed):
        return augment.add_views(_labelled_ds(), image_size=16, seed=seed, **FULL)

    ds = build(0)
    first, again = _collect(ds), _collect(ds)
    other_run = _collect(build(0))
    other_seed = _collect(build(1))
    for (a1, a2), (b1, b2) in zip(first, other_run):
        np.testing.assert_array_equal(a1, b1)
        np.testing.assert_array_equal(a2, b2)
    assert not np.allclose(first[0][0], first[0][1])  # two views of one image differ
    assert not np.allclose(first[0][0], first[1][0])  # different images differ
    assert not np.allclose(first[0][0], again[0][0])  # a new epoch draws new views
    assert not np.allclose(first[0][0], other_seed[0][0])


def test_add_views_unseeded_and_dict_elements():
    ds = tf.data.Dataset.from_tensor_slices({"image": np.stack([COLOUR_F] * 2),
                                             "label": [0, 1]})
    for seed in (None, 3):
        pairs = _collect(augment.add_views(ds, image_size=8, seed=seed))
        assert len(pairs) == 2 and pairs[0][0].shape == (8, 8, 3)


def test_views_dataset_epoch_stream_is_replayed_by_every_iterator():
    """``views_dataset(epochs=...)``: any two iterators give the same stream (Keras
    re-creates the iterator after peeking under a strategy), each epoch is a new
    permutation with new views, and ``steps_per_epoch`` cuts every pass."""
    from tfssl.data import views_dataset

    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    view = dict(image_size=8, min_scale=0.5, color_jitter=0.5)
    ds = views_dataset(images, 4, [view, view], seed=3, with_index=True, epochs=3)
    first = [(v[0].numpy(), i.numpy()) for v, i in ds]
    second = [(v[0].numpy(), i.numpy()) for v, i in ds]
    assert len(first) == 3 * (10 // 4)
    for (a, ia), (b, ib) in zip(first, second):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(a, b)
    epochs = [np.concatenate([i for _, i in first[e * 2:(e + 1) * 2]]) for e in range(3)]
    assert all(len(set(e)) == 8 for e in epochs)  # 8 distinct images of 10 per pass
    assert not np.array_equal(epochs[0], epochs[1])
    capped = views_dataset(images, 4, [view, view], seed=3, epochs=3, steps_per_epoch=1)
    assert len(list(capped)) == 3
    unseeded = views_dataset(images, 4, [view, view], seed=None, epochs=2)
    assert len(list(unseeded)) == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.uint16, np.int16, np.uint32])
def test_integer_images_of_any_dtype_mean_0_to_255(dtype):
    image = COLOUR_U8.astype(dtype)
    out = augment.random_resized_crop(image, (20, 24), scale=(1.0, 1.0),
                                      ratio=(24 / 20, 24 / 20), seed=0)
    np.testing.assert_allclose(out, COLOUR_F, atol=1e-6)
    np.testing.assert_allclose(augment.solarize(image, p=0.0), COLOUR_F, atol=1e-6)
    view = augment.simclr_augment(image, 16, seed=3, **FULL)
    np.testing.assert_allclose(view, augment.simclr_augment(COLOUR_U8, 16, seed=3, **FULL),
                               atol=1e-6)


def _crop_boxes(sampling, n, height=224, width=224, ratio=(3 / 4, 4 / 3), seed=11):
    """``n`` crop boxes ``(top, left, h, w)`` drawn inside a tf.data map, one per seed."""
    from tfssl.augment.views import _crop_box

    shape = tf.constant([height, width, 3])

    def box(i):
        begin, size = _crop_box(shape, (0.08, 1.0), ratio,
                                tf.stack([i, tf.constant(seed, tf.int64)]), sampling)
        return tf.concat([begin[:2], size[:2]], 0)

    ds = tf.data.Dataset.range(n).map(box, num_parallel_calls=tf.data.AUTOTUNE)
    return next(iter(ds.batch(n))).numpy()


def _torchvision_reference_mean_area(n, height, width, ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop box sampling in plain Python (for its mean)."""
    import math
    import random

    rng = random.Random(0)
    total = 0.0
    for _ in range(n):
        h, w = height, min(width, round(height * ratio[1]))  # fallback (wide images)
        for _ in range(10):
            target = height * width * rng.uniform(0.08, 1.0)
            aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
            cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < cw <= width and 0 < ch <= height:
                h, w = ch, cw
                break
        total += h * w / (height * width)
    return total / n


@pytest.mark.parametrize("height,width", [(224, 224), (160, 224)])
def test_crop_sampling_mean_area_and_boxes_inside(height, width):
    n = 2000
    means = {}
    for sampling in ("simclr", "torchvision"):
        boxes = _crop_boxes(sampling, n, height, width)
        top, left, h, w = boxes.T
        assert (top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all()
        assert (top + h <= height).all() and (left + w <= width).all()
        area = h * w / (height * width)
        assert area.min() > 0.07
        means[sampling] = area.mean()
        np.testing.assert_array_equal(boxes, _crop_boxes(sampling, n, height, width))
        assert not np.array_equal(boxes, _crop_boxes(sampling, n, height, width, seed=12))
    reference = _torchvision_reference_mean_area(20000, height, width)
    assert abs(means["torchvision"] - reference) < 0.03
    if (height, width) == (224, 224):
        assert abs(means["simclr"] - 0.40) < 0.03  # the value in the docstring
        assert abs(reference - 0.48) < 0.01 and abs(means["torchvision"] - 0.48) < 0.03
        # Square crops of a square image always fit: the area is uniform in (0.08, 1).
        square = _crop_boxes("torchvision", n, ratio=(1.0, 1.0))
        assert abs((square[:, 2] * square[:, 3]).mean() / 224**2 - 0.54) < 0.03


def test_torchvision_fallback_is_central_crop_clamped_to_ratio():
    out = augment.random_resized_crop(COLOUR_F, (20, 20), scale=(1.0, 1.0),
                                      ratio=(1.0, 1.0), seed=3, sampling="torchvision")
    # No 22 x 22 square (the image's area) fits in 20 x 24: the central 20 x 20 is used.
    np.testing.assert_allclose(out, COLOUR_F[:, 2:22], atol=1e-6)
    # Dynamic image shapes, as in a tf.data map over images of any size.
    crop = tf.function(
        lambda x: augment.random_resized_crop(x, 12, seed=1, sampling="torchvision"),
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    for image in (COLOUR_U8, COLOUR_U8[:15, :11]):
        _check(crop(image), 12, 3)


def test_crop_sampling_through_views_and_settings():
    from tfssl.presets import resolve_settings

    settings = resolve_settings("simclr")
    assert settings["crop_sampling"] == "simclr"
    views = augment.views_from_settings(dict(settings, crop_sampling="torchvision"))
    assert [v["crop_sampling"] for v in views] == ["torchvision"] * 2
    assert views[0]["image_size"] == 16
    a = augment.simclr_augment(COLOUR_U8, seed=4, **views[0])
    b = augment.simclr_augment(COLOUR_U8, seed=4, **views[0])
    np.testing.assert_array_equal(a, b)
    _check(a, 16, 3)
    default = augment.views_from_settings(settings)[0]
    assert not np.allclose(a, augment.simclr_augment(COLOUR_U8, seed=4, **default))
    ds = augment.add_view_set(_labelled_ds(), views, seed=0)
    first, again = _collect(ds.take(2)), _collect(augment.add_view_set(
        _labelled_ds(), views, seed=0).take(2))
    np.testing.assert_array_equal(first[0][0], again[0][0])
    with pytest.raises(UsageError, match=r"^crop_sampling='pytorch': expected one of "
                                         r"'simclr', 'torchvision'$"):
        augment.views_from_settings(dict(settings, crop_sampling="pytorch"))
    with pytest.raises(UsageError, match="crop_sampling='uniform'"):
        augment.random_resized_crop(COLOUR_U8, 8, sampling="uniform")
