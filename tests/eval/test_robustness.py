import numpy as np
import pytest
import tensorflow as tf

from tfssl.data import from_arrays, load_digits
from tfssl.errors import UsageError
from tfssl.eval import (
    IMAGE_CORRUPTIONS, SEVERITIES, TEXT_CORRUPTIONS, corrupt, corrupt_images, corrupt_texts,
    robustness_curve)


@pytest.fixture(scope="module")
def digits():
    return load_digits(image_size=16, split="test").subset(np.arange(48))


@pytest.fixture(scope="module")
def digits_rgb(digits):
    return from_arrays(np.repeat(digits.images, 3, axis=-1), digits.labels,
                       digits.class_names, source="digits-rgb")


def mean_abs_diff(a, b):
    return float(np.mean(np.abs(a.images.astype(np.float64) - b.images))) / 255.0


# ----------------------------------------------------------------------- images


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", IMAGE_CORRUPTIONS)
def test_corrupt_keeps_shape_dtype_range_and_is_seeded(name, channels):
    image = tf.random.stateless_uniform([12, 12, channels], [1, 2])
    out = corrupt(image, name, 3, seed=tf.constant([4, 5]))
    assert out.shape == (12, 12, channels) and out.dtype == tf.float32
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    again = corrupt(image, name, 3, seed=tf.constant([4, 5]))
    np.testing.assert_array_equal(out.numpy(), again.numpy())
    assert not np.allclose(out.numpy(), image.numpy())


def test_corrupt_noise_differs_between_seeds_and_accepts_uint8():
    image = tf.fill([8, 8, 1], tf.constant(128, tf.uint8))
    a = corrupt(image, "gaussian_noise", 2, seed=tf.constant([0, 1]))
    b = corrupt(image, "gaussian_noise", 2, seed=tf.constant([0, 2]))
    assert a.dtype == tf.float32 and not np.allclose(a.numpy(), b.numpy())


@pytest.mark.parametrize("rgb", [False, True])
def test_distance_from_clean_grows_with_severity(digits, digits_rgb, rgb):
    data = digits_rgb if rgb else digits
    for name in IMAGE_CORRUPTIONS:
        dist = [mean_abs_diff(corrupt_images(data, name, s, seed=1), data)
                for s in SEVERITIES]
        assert all(b >= a - 1e-3 for a, b in zip(dist, dist[1:])), (name, dist)
        assert dist[-1] > 2 * dist[0] and dist[-1] - dist[0] > 0.01, (name, dist)


def test_corrupt_images_structure_and_determinism(digits_rgb):
    out = corrupt_images(digits_rgb, "gaussian_noise", 2, seed=3, batch_size=10)
    assert out.images.shape == digits_rgb.images.shape and out.images.dtype == np.uint8
    np.testing.assert_array_equal(out.labels, digits_rgb.labels)
    assert out.class_names == digits_rgb.class_names
    assert out.source == "digits-rgb+gaussian_noise@2"
    again = corrupt_images(digits_rgb, "gaussian_noise", 2, seed=3)
    np.testing.assert_array_equal(out.images, again.images)  # batch size does not matter
    other = corrupt_images(digits_rgb, "gaussian_noise", 2, seed=4)
    assert not np.array_equal(out.images, other.images)
    # Every image gets its own noise.
    noise = out.images.astype(int) - digits_rgb.images
    assert not np.array_equal(noise[0], noise[1])


def test_jpeg_changes_the_image_in_gray_and_colour(digits, digits_rgb):
    for data in (digits, digits_rgb):
        out = corrupt_images(data, "jpeg", 5)
        assert out.images.shape == data.images.shape
        assert not np.array_equal(out.images, data.images)
        assert mean_abs_diff(out, data) > mean_abs_diff(corrupt_images(data, "jpeg", 1), data)


def test_bad_names_and_severities_are_usage_errors(digits):
    with pytest.raises(UsageError, match="'fog'.*gaussian_noise"):
        corrupt_images(digits, "fog", 1)
    for bad in (0, 6, 2.5, True):
        with pytest.raises(UsageError, match=r"severity=.*1, 2, 3, 4, 5"):
            corrupt(tf.zeros([4, 4, 1]), "contrast", bad)
    with pytest.raises(UsageError, match="'typo'"):
        corrupt(tf.zeros([4, 4, 1]), "typo", 1)
    with pytest.raises(UsageError, match="'blur'.*word_swap"):
        corrupt_texts(["a b"], "blur", 1)
    with pytest.raises(UsageError, match="shape"):
        corrupt(tf.zeros([4, 4, 2]), "contrast", 1)


# ------------------------------------------------------------------------- text

WORDS = [f"word{i:03d}" for i in range(200)]
TEXTS = [" ".join(WORDS[i:i + 40]) for i in range(0, 160, 4)]  # 40 texts of 40 words


@pytest.mark.parametrize("name", TEXT_CORRUPTIONS)
def test_text_corruptions_change_the_expected_fraction(name):
    rates = (0.05, 0.1, 0.2, 0.3, 0.5)
    for severity, rate in zip(SEVERITIES, rates):
        out = corrupt_texts(TEXTS, name, severity, seed=7)
        assert out == corrupt_texts(TEXTS, name, severity, seed=7)
        assert len(out) == len(TEXTS)
        total = sum(len(t.split()) for t in TEXTS)
        if name == "word_dropout":
            changed = total - sum(len(t.split()) for t in out)
            assert all(set(o.split()) <= set(t.split()) for o, t in zip(out, TEXTS))
        else:
            changed = sum(a != b for o, t in zip(out, TEXTS)
                          for a, b in zip(o.split(), t.split()))
            assert all(len(o.split()) == len(t.split()) for o, t in zip(out, TEXTS))
            if name == "word_swap":
                assert all(sorted(o.split()) == sorted(t.split())
                           for o, t in zip(out, TEXTS))
        assert changed / total == pytest.approx(rate, abs=0.25 * rate + 0.01), \
            (name, severity, changed / total)
    assert corrupt_texts(TEXTS, name, 3, seed=1) != corrupt_texts(TEXTS, name, 3, seed=2)


def test_text_edge_cases():
    assert corrupt_texts(["", "one"], "word_dropout", 5) == ["", "one"]
    # At least one word is kept even when every word would go.
    for seed in range(20):
        assert len(corrupt_texts(["a b"], "word_dropout", 5, seed=seed)[0].split()) >= 1
    typo = corrupt_texts(["x"] * 50, "typo", 5)
    assert all(len(t) == 1 for t in typo) and any(t != "x" for t in typo)
    with pytest.raises(UsageError, match="one string"):
        corrupt_texts("a b c", "typo", 1)


# ------------------------------------------------------------------------ curves


def centroid_accuracy_fn(train):
    """Nearest class centroid on raw pixels, fitted on ``train``."""
    x = train.images.reshape(len(train), -1).astype(np.float64) / 255.0
    centroids = np.stack([x[train.labels == c].mean(axis=0) for c in range(10)])

    def accuracy(data):
        q = data.images.reshape(len(data), -1).astype(np.float64) / 255.0
        dist = ((q[:, None] - centroids[None]) ** 2).sum(-1)
        return float(np.mean(np.argmin(dist, axis=1) == data.labels))

    return accuracy


def test_robustness_curve_on_digits(digits):
    train = load_digits(image_size=16, split="train")
    test = load_digits(image_size=16, split="test").subset(np.arange(120))
    curve = robustness_curve(centroid_accuracy_fn(train), test,
                             ["gaussian_noise", "contrast", "pixelate"], severities=(1, 3, 5))
    assert set(curve) == {"clean", "severities", "corruptions", "mean_corruption_accuracy"}
    assert curve["severities"] == [1, 3, 5]
    assert list(curve["corruptions"]) == ["gaussian_noise", "contrast", "pixelate"]
    assert all(len(v) == 3 for v in curve["corruptions"].values())
    assert curve["clean"] > 0.8
    assert curve["clean"] >= curve["mean_corruption_accuracy"]
    assert curve["corruptions"]["gaussian_noise"][-1] < curve["clean"]
    flat = [a for v in curve["corruptions"].values() for a in v]
    assert curve["mean_corruption_accuracy"] == pytest.approx(np.mean(flat))
    with pytest.raises(UsageError, match="severity=9"):
        robustness_curve(centroid_accuracy_fn(train), test, ["contrast"], severities=(9,))


def test_robustness_curve_on_texts():
    def keep_rate(texts):  # fraction of the original words still in place
        return float(np.mean([a == b for o, t in zip(texts, TEXTS)
                              for a, b in zip(o.split(), t.split())]))

    curve = robustness_curve(keep_rate, TEXTS, None, severities=(1, 5),
                             corrupt_fn=corrupt_texts)
    assert list(curve["corruptions"]) == list(TEXT_CORRUPTIONS)
    assert curve["clean"] == 1.0
    assert curve["corruptions"]["typo"][0] > curve["corruptions"]["typo"][1]
