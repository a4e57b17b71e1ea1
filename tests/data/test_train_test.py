"""Training / held-out data of a run: disjoint in every path, channels matched."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from tfssl.data import load_images, load_train_test, match_channels
from tfssl.eval import knn_accuracy
from tfssl.runs.image import load_image_split

NUM_CLASSES = 5


class _Distinct(tfds.core.GeneratorBasedBuilder):
    """Random, pairwise distinct colour images with random labels (built locally)."""

    VERSION = tfds.core.Version("1.0.0")
    SPLITS = {"train": 100, "test": 20}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3)),
                "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES)}),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        return {name: self._generate_examples(name, n) for name, n in self.SPLITS.items()}

    def _generate_examples(self, name, n):
        rng = np.random.default_rng(len(name) * 1000 + n)
        for i in range(n):
            yield i, {"image": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                      "label": int(rng.integers(NUM_CLASSES))}


class TinyDistinct(_Distinct):
    """Has a train and a test split."""


class TinyTrainOnly(_Distinct):
    """Has only a train split."""

    SPLITS = {"train": 100}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    TinyDistinct(data_dir=str(root)).download_and_prepare()
    TinyTrainOnly(data_dir=str(root)).download_and_prepare()
    return str(root)


def _hashes(data):
    return {im.tobytes() for im in data.images}


def _settings(dataset, eval_dataset=None, data_dir=None, image_size=8):
    return dict(dataset=dataset, eval_dataset=eval_dataset, image_size=image_size,
                data_dir=data_dir, download=False)


def _assert_disjoint(train, test):
    assert len(train) and len(test)
    assert not _hashes(train) & _hashes(test)


def test_explicit_tfds_split_without_eval_set_is_not_used_twice(tfds_dir):
    """``--dataset=tfds:NAME:train`` alone used to give the same images as memory bank
    and queries: random features (here: raw pixels of random images) scored 1.0."""
    train, test = load_image_split(_settings("tfds:tiny_distinct:train", data_dir=tfds_dir))
    assert len(_hashes(train)) == len(train)  # every image is distinct
    _assert_disjoint(train, test)
    assert len(train) + len(test) == 100 and len(test) == 10  # 10% of "train"
    flat = [d.images.reshape(len(d), -1).astype(np.float32) for d in (train, test)]
    acc = knn_accuracy(flat[0], train.labels, flat[1], test.labels, k=1,
                       num_classes=NUM_CLASSES)
    assert acc < 1.0
    # Deterministic and the same for the other spelling of the same source.
    again = load_train_test("tfds:tiny_distinct:train", "tfds:tiny_distinct:train",
                            image_size=8, data_dir=tfds_dir)
    np.testing.assert_array_equal(again[1].images, test.images)


def test_tfds_without_split_uses_its_train_and_test_splits(tfds_dir):
    for eval_spec in (None, "tfds:tiny_distinct", "tfds:tiny_distinct:train"):
        train, test = load_train_test("tfds:tiny_distinct", eval_spec, image_size=8,
                                      data_dir=tfds_dir)
        assert (len(train), len(test)) == (100, 20)
        _assert_disjoint(train, test)
    # No "test" split: a held-out slice of "train".
    train, test = load_train_test("tfds:tiny_train_only", image_size=8, data_dir=tfds_dir)
    assert (len(train), len(test)) == (90, 10)
    _assert_disjoint(train, test)


def test_tfds_separate_eval_set_is_used_whole(tfds_dir):
    train, test = load_train_test("tfds:tiny_distinct:train", "tfds:tiny_distinct:test",
                                  image_size=8, data_dir=tfds_dir)
    assert (len(train), len(test)) == (100, 20)
    # A dataset without split as the eval set: its "test" split, else its "train" split.
    train, test = load_train_test("tfds:tiny_train_only", "tfds:tiny_distinct",
                                  image_size=8, data_dir=tfds_dir)
    assert (len(train), len(test)) == (100, 20)
    train, test = load_train_test("tfds:tiny_distinct:test", "tfds:tiny_train_only",
                                  image_size=8, data_dir=tfds_dir)
    assert (len(train), len(test)) == (20, 100)


def _write_pngs(folder, n, mode, seed, classes=("a", "b")):
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 1}[mode]
    for i in range(n):
        cls = folder / classes[i % len(classes)]
        cls.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (10, 12, channels), dtype=np.uint8)
        if channels == 1:
            img = Image.fromarray(pixels[..., 0], "L")
            if mode == "P":  # a palette image whose palette is gray
                img = img.convert("P")
        else:
            img = Image.fromarray(pixels, mode)
        img.save(cls / f"{i:03d}.png")
    return folder


def test_separate_folder_eval_set_is_used_whole(tmp_path):
    train_dir = _write_pngs(tmp_path / "train", 30, "RGB", 0)
    eval_dir = _write_pngs(tmp_path / "eval", 20, "RGB", 1)
    train, test = load_image_split(_settings(f"folder:{train_dir}", f"folder:{eval_dir}"))
    assert (len(train), len(test)) == (30, 20)
    _assert_disjoint(train, test)
    # The same folder (another spelling of its path) is one source: its held-out split.
    for eval_spec in (None, f"folder:{train_dir}/", f"folder:{tmp_path}/eval/../train"):
        train, test = load_train_test(f"folder:{train_dir}", eval_spec, image_size=8)
        assert (len(train), len(test)) == (26, 4)  # 10% of each class of 15, rounded
        _assert_disjoint(train, test)


def test_digits_paths():
    train, test = load_train_test("digits", image_size=8)
    assert (len(train), len(test)) == (1438, 359)
    np.testing.assert_array_equal(
        test.images, load_images("digits", image_size=8, split="test").images)
    train, test = load_train_test("digits", "digits", image_size=8)
    assert len(test) == 359


@pytest.mark.parametrize("mode,channels", [("L", 1), ("LA", 1), ("P", 1), ("RGB", 3),
                                           ("RGBA", 3)])
def test_folder_channels_follow_the_files(tmp_path, mode, channels):
    folder = _write_pngs(tmp_path / mode, 6, mode, 2)
    data = load_images(f"folder:{folder}", image_size=8, split="all")
    assert data.images.shape == (6, 8, 8, channels)
    if mode == "L":
        original = np.asarray(Image.open(folder / "a" / "000.png"))
        same = load_images(f"folder:{folder}", image_size=original.shape[0], split="all")
        assert same.images.shape[1] == original.shape[0]


def test_one_colour_image_makes_the_folder_colour(tmp_path):
    folder = _write_pngs(tmp_path / "mixed", 6, "L", 3)
    rgb = np.random.default_rng(4).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(folder / "a" / "colour.png")
    data = load_images(f"folder:{folder}", image_size=8, split="all")
    assert data.images.shape == (7, 8, 8, 3)


def test_match_channels(tmp_path, caplog):
    gray = load_images(f"folder:{_write_pngs(tmp_path / 'g', 6, 'L', 5)}", image_size=8,
                       split="all")
    colour = load_images(f"folder:{_write_pngs(tmp_path / 'c', 6, 'RGB', 6)}",
                         image_size=8, split="all")
    assert match_channels(gray, 1) is gray
    up = match_channels(gray, 3)
    assert up.images.shape == (6, 8, 8, 3) and up.images.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(up.images[..., c], gray.images[..., 0])
    assert any(f"folder:{tmp_path / 'g'}: converted 6 images from 1 to 3 channels" in
               r.getMessage() for r in caplog.records)
    down = match_channels(colour, 1)
    assert down.images.shape == (6, 8, 8, 1) and down.images.dtype == np.uint8
    luma = colour.images.astype(np.float64) @ [0.2989, 0.5870, 0.1140]
    assert np.abs(down.images[..., 0] - luma).max() <= 1.0
    np.testing.assert_array_equal(down.labels, colour.labels)
    # A run whose eval set has other channels gets them converted, not refused.
    train, test = load_image_split(_settings(f"folder:{tmp_path / 'c'}",
                                             f"folder:{tmp_path / 'g'}"))
    assert train.images.shape[-1] == test.images.shape[-1] == 3 and len(test) == 6


def test_data_dir_under_home_as_the_readme_writes_it(tfds_dir, monkeypatch):
    """``--data_dir=~/tensorflow_datasets``: the shell leaves the "~" after "=", and
    tfds said the dataset was "not prepared" in the literal "~/..." folder."""
    from tfssl.data import load_train_test

    home, name = os.path.split(tfds_dir)
    monkeypatch.setenv("HOME", home)
    train, test = load_train_test("tfds:tiny_distinct", data_dir=f"~/{name}",
                                  image_size=8)
    assert len(train) > 0 and len(test) > 0
