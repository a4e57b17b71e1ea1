import tarfile

import numpy as np
import pytest
import tensorflow as tf

from tfssl.data import from_arrays, load_images, simclr_dataset
from tfssl.errors import UsageError


def write_image(path, size, channels, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(size[0], size[1], channels), dtype=np.uint8)
    enc = tf.io.encode_png(img) if str(path).endswith(".png") else tf.io.encode_jpeg(img)
    path.write_bytes(enc.numpy())


@pytest.fixture
def image_tree(tmp_path):
    root = tmp_path / "imgs"
    for c, cls in enumerate(["cat", "dog", "emu"]):
        (root / cls).mkdir(parents=True)
        for i in range(10):
            ext = ".png" if i % 2 else ".jpg"
            write_image(root / cls / f"{i:03d}{ext}", (20 + i, 30), 1 if i % 3 == 0 else 3,
                        c * 100 + i)
    (root / "notes.txt").write_text("not an image")
    return root


def test_digits_split_is_deterministic_and_disjoint():
    train = load_images("digits", image_size=16, split="train")
    test = load_images("digits", image_size=16, split="test")
    assert len(train) + len(test) == 1797
    assert train.images.shape[1:] == (16, 16, 1) and train.images.dtype == np.uint8
    assert train.class_names == [str(i) for i in range(10)]
    assert set(np.unique(test.labels)) == set(range(10))
    again = load_images("digits", image_size=16, split="test")
    np.testing.assert_array_equal(test.images, again.images)
    flat = {im.tobytes() for im in test.images}
    assert sum(im.tobytes() in flat for im in train.images) <= 5  # digits has few dupes


def test_folder_labels_mixed_sizes_and_gray(image_tree):
    data = load_images(f"folder:{image_tree}", image_size=12, split="all")
    assert data.class_names == ["cat", "dog", "emu"]
    assert data.images.shape == (30, 12, 12, 3)
    assert np.bincount(data.labels).tolist() == [10, 10, 10]
    train = load_images(f"folder:{image_tree}", image_size=12, split="train")
    test = load_images(f"folder:{image_tree}", image_size=12, split="test")
    assert len(train) + len(test) == 30 and len(test) == 3


def test_unlabelled_folder_and_tar_archive(tmp_path, image_tree, caplog):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        write_image(flat / f"{i}.png", (9, 9), 3, i)
    data = load_images(f"folder:{flat}", image_size=8, split="all")
    assert not data.labelled and data.class_names == [] and len(data) == 4
    # One class folder cannot be told from a shared folder of unlabelled images: said.
    one = tmp_path / "one" / "cat"
    one.mkdir(parents=True)
    for i in range(3):
        write_image(one / f"{i}.png", (9, 9), 3, i)
    with caplog.at_level("WARNING"):
        data = load_images(f"folder:{tmp_path / 'one'}", image_size=8, split="all")
    assert not data.labelled and "every image lies in cat/" in caplog.text
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(image_tree, arcname="train")
    from_tar = load_images(f"folder:{archive}", image_size=12, split="all")
    from_dir = load_images(f"folder:{image_tree}", image_size=12, split="all")
    assert from_tar.class_names == from_dir.class_names
    np.testing.assert_array_equal(from_tar.labels, from_dir.labels)
    np.testing.assert_array_equal(from_tar.images, from_dir.images)


def test_bad_inputs_name_the_problem(tmp_path, image_tree):
    with pytest.raises(UsageError, match="unknown image dataset spec 'mnist'"):
        load_images("mnist")
    with pytest.raises(UsageError, match="no such folder"):
        load_images(f"folder:{tmp_path / 'missing'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="contains no images"):
        load_images(f"folder:{empty}")
    (image_tree / "dog" / "broken.jpg").write_bytes(b"definitely not a jpeg")
    with pytest.raises(UsageError, match=r"unreadable image .*dog/broken\.jpg"):
        load_images(f"folder:{image_tree}", split="all")
    # An image next to the class folders used to become a silent class named ".".
    write_image(image_tree / "stray.png", (8, 8), 3, 7)
    with pytest.raises(UsageError, match=r"images both next to the class folders "
                                         r"\(stray\.png\) and inside them"):
        load_images(f"folder:{image_tree}", split="all")


def test_tfds_offline_message_and_local_prepared_dataset(tmp_path):
    import tensorflow_datasets as tfds

    with pytest.raises(UsageError, match="not prepared .*--download"):
        load_images("tfds:mnist", data_dir=str(tmp_path / "nothing"))

    class TinyShapes(tfds.core.GeneratorBasedBuilder):
        """A local dataset written by the test: no download involved."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(10, 10, 3)),
                    "label": tfds.features.ClassLabel(names=["a", "b"])}),
                supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(8), "test": self._generate_examples(4)}

        def _generate_examples(self, n):
            rng = np.random.default_rng(n)
            for i in range(n):
                yield i, {"image": rng.integers(0, 255, (10, 10, 3), dtype=np.uint8),
                          "label": i % 2}

    TinyShapes(data_dir=str(tmp_path)).download_and_prepare()
    train = load_images("tfds:tiny_shapes", image_size=6, data_dir=str(tmp_path))
    test = load_images("tfds:tiny_shapes", image_size=6, split="test", data_dir=str(tmp_path))
    assert train.images.shape == (8, 6, 6, 3) and len(test) == 4
    assert train.class_names == ["a", "b"]
    explicit = load_images("tfds:tiny_shapes:test", image_size=6, data_dir=str(tmp_path))
    assert len(explicit) == 4
    with pytest.raises(UsageError, match="no split 'valid'"):
        load_images("tfds:tiny_shapes:valid", data_dir=str(tmp_path))


def test_simclr_pipeline_batches_views():
    data = from_arrays(np.random.default_rng(0).uniform(size=(10, 12, 12, 3)),
                       labels=np.arange(10) % 2)
    ds = simclr_dataset(data, batch_size=4, image_size=8, seed=1)
    batches = list(ds)
    assert len(batches) == 2  # drop_remainder
    v1, v2 = batches[0]
    assert v1.shape == (4, 8, 8, 3) and v1.dtype == tf.float32
    assert not np.allclose(v1.numpy(), v2.numpy())
    again = list(simclr_dataset(data, batch_size=4, image_size=8, seed=1))
    np.testing.assert_allclose(again[0][0].numpy(), v1.numpy())
    with pytest.raises(UsageError, match="--batch_size=11 is larger than the 10"):
        simclr_dataset(data, batch_size=11, image_size=8)
    with pytest.raises(UsageError, match="at least 2"):
        simclr_dataset(data, batch_size=1, image_size=8)


def test_cifar10_archive_from_shared_data(shared_data):
    archive = shared_data("cifar10/train.tar.gz")
    # The deterministic held-out slice: 500 images of each class, decoded from JPEG.
    test = load_images(f"folder:{archive}", image_size=32, split="test")
    assert test.class_names == ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                "frog", "horse", "ship", "truck"]
    assert test.images.shape == (5000, 32, 32, 3)
    assert np.bincount(test.labels).tolist() == [500] * 10
    assert 60 < test.images.mean() < 190 and test.images.std() > 30


def test_from_arrays_integer_and_float_ranges():
    pixels = np.array([[0, 100], [200, 255]])
    for dtype in (np.uint8, np.int16, np.int32, np.int64, np.uint16):
        data = from_arrays(pixels[None].astype(dtype), source="mine")
        assert data.images.dtype == np.uint8
        np.testing.assert_array_equal(data.images[0, ..., 0], pixels)
    floats = from_arrays(pixels[None] / 255.0)
    np.testing.assert_array_equal(floats.images[0, ..., 0], pixels)
    binary = from_arrays(np.array([[[True, False]]]))
    np.testing.assert_array_equal(binary.images[0, ..., 0], [[255, 0]])
    with pytest.raises(UsageError, match=r"^mine: integer values in -3\.\.300: expected "
                                         r"0\.\.255"):
        from_arrays(np.array([[[-3, 300]]], np.int64), source="mine")
    with pytest.raises(UsageError, match=r"^mine: values up to 255\.0: expected floats in "
                                         r"\[0, 1\] or integers in 0\.\.255"):
        from_arrays(pixels[None].astype(np.float32), source="mine")
    with pytest.raises(UsageError, match=r"^mine: values down to -0\.5"):
        from_arrays(np.array([[[-0.5, 0.5]]]), source="mine")
    with pytest.raises(UsageError, match=r"^mine: non-finite"):
        from_arrays(np.array([[[np.nan, 0.5]]]), source="mine")
    with pytest.raises(UsageError, match=r"^mine: expected numeric images"):
        from_arrays(np.array([[["a", "b"]]]), source="mine")


def test_too_few_images_to_hold_out_is_named_as_such(tmp_path):
    """Eight labelled images leave an empty held-out 10%: pretraining's kNN note and
    tfssl-evaluate's refusal said the images "carry no labels"."""
    from tfssl.data import load_train_test
    from tfssl.data.images import evaluation_gap

    root = tmp_path / "small"
    for c, cls in enumerate(["a", "b"]):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            write_image(root / cls / f"{i}.png", (8, 8), 3, c * 10 + i)
    train, test = load_train_test(f"folder:{root}", image_size=8)
    assert len(train) == 8 and len(test) == 0 and train.labelled
    gap = evaluation_gap(train, test)
    assert "has no images" in gap and "8 training images are too few" in gap
    assert "no labels" not in gap
    assert evaluation_gap(train, train) is None
    unlabelled = train.subset(np.arange(8))
    unlabelled.labels = np.full(8, -1)
    assert "carry no labels" in evaluation_gap(unlabelled, train)
