import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.data import load_digits
from tfssl.encoders import convnet, image_encoder
from tfssl.errors import UsageError
from tfssl.eval import (
    LabelFreeMonitor, alignment, cluster_nmi, dimension_std, image_label_free_metrics,
    label_free_metrics, rankme, uniformity)


def gaussian(n, d, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


# ------------------------------------------------------------------------- RankMe


def test_rankme_collapsed_is_one():
    rows = np.tile(np.random.default_rng(0).normal(size=(1, 32)), (500, 1))
    assert rankme(rows) == pytest.approx(1.0, abs=0.01)
    # Rank one but not equal rows: multiples of one vector.
    scaled = np.random.default_rng(1).uniform(0.5, 2, size=(500, 1)) * rows
    assert rankme(scaled) == pytest.approx(1.0, abs=0.01)
    assert rankme(np.zeros((10, 4))) == 1.0


def test_rankme_isotropic_gaussian_near_dimension():
    value = rankme(gaussian(2000, 32))
    assert 0.9 * 32 < value <= 32


def test_rankme_matches_formula_and_counts_subspace_rank():
    x = gaussian(300, 6, seed=2) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.0, 0.0])
    s = np.linalg.svd(x, compute_uv=False)
    p = s / s.sum() + 1e-7
    assert rankme(x) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-9)
    assert 2.5 < rankme(x) < 4.0  # at most the rank, 4


# ------------------------------------------------------------- alignment, uniformity


def test_alignment_identical_pairs_zero_and_scale_invariant():
    z = gaussian(100, 8)
    assert alignment(z, z) == pytest.approx(0.0, abs=1e-12)
    assert alignment(z, 3.0 * z) == pytest.approx(0.0, abs=1e-12)  # L2-normalised
    # Opposite points: squared distance 4.
    assert alignment(z, -z) == pytest.approx(4.0)
    assert alignment(z, -z, alpha=1) == pytest.approx(2.0)
    noisy = z + 0.1 * gaussian(100, 8, seed=1)
    assert 0 < alignment(z, noisy) < alignment(z, gaussian(100, 8, seed=3))
    with pytest.raises(UsageError, match="shape"):
        alignment(z, z[:10])


def test_uniformity_collapsed_sphere_and_reference():
    assert uniformity(np.ones((50, 16))) == pytest.approx(0.0, abs=1e-9)
    value = uniformity(gaussian(1000, 256))
    assert value == pytest.approx(-4.0, abs=0.1)
    # Against a direct NumPy computation over all pairs i != j.
    z = gaussian(40, 5, seed=4)
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    sq = np.sum((u[:, None] - u[None]) ** 2, axis=-1)
    off = ~np.eye(40, dtype=bool)
    assert uniformity(z, t=1.5) == pytest.approx(np.log(np.mean(np.exp(-1.5 * sq[off]))))


def test_uniformity_subsample_is_seeded():
    z = gaussian(600, 8)
    a = uniformity(z, max_examples=100, seed=1)
    assert a == uniformity(z, max_examples=100, seed=1)
    assert a != uniformity(z, max_examples=100, seed=2)
    assert abs(a - uniformity(z)) < 0.2


# --------------------------------------------------------------------- std, NMI


def test_dimension_std_isotropic_and_collapsed():
    d = 64
    stats = dimension_std(gaussian(4000, d))
    assert stats["dims"] == d
    assert stats["std_mean"] == pytest.approx(1 / np.sqrt(d), rel=0.05)
    assert stats["std_min"] <= stats["std_mean"] <= stats["std_max"]
    assert stats["collapsed_fraction"] == 0.0
    collapsed = dimension_std(np.tile(gaussian(1, d), (100, 1)))
    assert collapsed["std_max"] < 1e-9 and collapsed["collapsed_fraction"] == 1.0
    # Half the dimensions constant.
    x = gaussian(500, d)
    x[:, : d // 2] = 5.0
    assert dimension_std(x)["collapsed_fraction"] == 0.5


def separated_clusters(seed=0, n=300, k=4, d=16):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 10
    y = np.arange(n) % k
    return centres[y] + rng.normal(size=(n, d)), y


def test_cluster_nmi_separated_and_random_labels():
    x, y = separated_clusters()
    assert cluster_nmi(x, y) > 0.99
    random = np.random.default_rng(5).integers(0, 4, len(y))
    assert cluster_nmi(x, random) < 0.1
    assert cluster_nmi(x, y, seed=3) == cluster_nmi(x, y, seed=3)


def test_label_free_metrics_keys():
    x, y = separated_clusters()
    base = {"rankme", "uniformity", "std_mean", "std_min", "collapsed_fraction", "dims"}
    assert set(label_free_metrics(x)) == base
    out = label_free_metrics(x, labels=y, view_pairs=(x, x + 0.01))
    assert set(out) == base | {"alignment", "nmi"}
    assert out["nmi"] > 0.99 and out["alignment"] < 1e-3
    assert set(label_free_metrics(x, labels=np.full(len(x), -1))) == base
    with pytest.raises(UsageError, match="NaN"):
        label_free_metrics(np.full((3, 2), np.nan))


# ------------------------------------------------------------------------ images


@pytest.fixture(scope="module")
def digits():
    return load_digits(image_size=16, split="test").subset(np.arange(60))


def tiny_encoder(seed=0):
    keras.utils.set_random_seed(seed)
    return image_encoder("convnet", image_size=16, channels=1, width=0.125)


def test_image_label_free_metrics_finite_and_deterministic(digits):
    encoder = tiny_encoder()
    first = image_label_free_metrics(encoder, digits, max_examples=40, seed=1)
    assert set(first) == {"rankme", "uniformity", "std_mean", "std_min",
                          "collapsed_fraction", "dims", "alignment", "nmi"}
    assert all(np.isfinite(v) for v in first.values())
    assert first["dims"] == encoder.output_shape[-1]
    assert 1.0 <= first["rankme"] <= first["dims"]
    assert first["alignment"] > 0  # two different augmented views
    assert first == image_label_free_metrics(encoder, digits, max_examples=40, seed=1)
    other = image_label_free_metrics(encoder, digits, max_examples=40, seed=2)
    assert other["alignment"] != first["alignment"]
    unlabelled = digits.subset(np.arange(30))
    unlabelled.labels = np.full(30, -1)
    assert "nmi" not in image_label_free_metrics(encoder, unlabelled, seed=1)


def test_image_label_free_metrics_on_a_callable(digits):
    encoder = tiny_encoder()
    out = image_label_free_metrics(lambda x: encoder(x, training=False), digits,
                                   max_examples=20)
    ref = image_label_free_metrics(encoder, digits, max_examples=20)
    assert out["rankme"] == pytest.approx(ref["rankme"], rel=1e-4)


# ------------------------------------------------------------------------ callback


class TinyModel(keras.Model):
    """A plain Keras model with an ``encoder`` attribute, trained on a regression."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(self.encoder(x))


def test_label_free_monitor_logs_and_history(digits):
    model = TinyModel(convnet(image_size=16, channels=1, width=4, depth=2))
    model.compile(optimizer="sgd", loss="mse")
    x = digits.images[:16].astype("float32") / 255.0
    y = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    monitor = LabelFreeMonitor(digits, every=1, max_examples=24)
    hist = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=2,
                     verbose=0, shuffle=False, callbacks=[monitor])
    assert sorted(monitor.history) == [0, 1]
    for key in ("rankme", "uniformity", "alignment", "std_mean", "nmi"):
        assert np.isfinite(monitor.history[1][key])
        assert hist.history[f"lf_{key}"][-1] == pytest.approx(monitor.history[1][key])
    assert len(hist.history["lf_rankme"]) == 2
