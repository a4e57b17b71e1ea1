"""Image dataset specs -> decoded, resized, in-memory images with labels.

Specs (``--dataset`` / ``--eval_dataset``):

- ``digits``: scikit-learn's 1,797 real 8x8 handwritten digits (embedded, no download),
  grey, upscaled to ``image_size``.
- ``folder:PATH``: JPEG/PNG/BMP/GIF images of any size, grey or colour, labelled by their
  class sub-folder (``PATH/<class>/*.jpg``) or unlabelled when they lie in one folder;
  ``PATH`` may also be a ``.tar.gz`` / ``.tgz`` / ``.tar`` of such a tree.
- ``tfds:NAME[:SPLIT]``: a tensorflow-datasets image dataset (``data_dir``, ``download``).

Images are decoded and resized once and kept in memory as uint8 (the decode cache);
:mod:`tfssl.data.pipeline` turns them into shuffled, augmented, batched ``tf.data``.
A deterministic, stratified held-out split (independent of the training seed) gives
``split="test"`` for specs that have no test split of their own.
"""

import dataclasses
import os
import tarfile

import numpy as np
import tensorflow as tf

from tfssl.data.tfds_source import load_tfds, parse_tfds_spec
from tfssl.errors import UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
SPLITS = ("train", "test", "all")
_HOLDOUT_SEED = 20200213  # fixed: the held-out split never depends on --seed


@dataclasses.dataclass
class ImageData:
    """Decoded images in memory.

    Attributes:
        images: ``(N, H, W, C)`` uint8.
        labels: ``(N,)`` int64 class ids, ``-1`` for unlabelled images.
        class_names: names of the class ids (empty when unlabelled).
        source: the spec it came from, for messages.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    source: str = ""

    def __len__(self):
        return len(self.images)

    @property
    def labelled(self):
        return len(self.labels) > 0 and bool(np.all(self.labels >= 0))

    @property
    def num_classes(self):
        return len(self.class_names)

    def subset(self, index, source=None):
        return ImageData(self.images[index], self.labels[index], self.class_names,
                         source or self.source)


def from_arrays(images, labels=None, class_names=None, image_size=None, source="arrays"):
    """NumPy images ``(N, H, W[, C])`` (uint8, or float in [0, 1]) -> :class:`ImageData`."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise UsageError(f"{source}: expected images of shape (N, H, W[, 1|3]), "
                         f"got {images.shape}")
    if images.dtype != np.uint8:
        images = np.clip(np.round(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if image_size and images.shape[1:3] != (image_size, image_size):
        images = _resize(images, image_size)
    if labels is None:
        labels = np.full(len(images), -1, np.int64)
    labels = np.asarray(labels, np.int64)
    if class_names is None:
        class_names = [str(i) for i in range(int(labels.max()) + 1)] if len(labels) and \
            labels.min() >= 0 else []
    return ImageData(images, labels, list(class_names), source)


def _resize(images, size):
    out = []
    for start in range(0, len(images), 1024):
        chunk = tf.image.resize(images[start:start + 1024], (size, size), antialias=True)
        out.append(tf.cast(tf.clip_by_value(tf.round(chunk), 0, 255), tf.uint8).numpy())
    return np.concatenate(out)


def holdout_split(labels, test_fraction, split):
    """Deterministic stratified split: indices of ``split`` in ``train|test|all``."""
    n = len(labels)
    if split == "all":
        return np.arange(n)
    rng = np.random.default_rng(_HOLDOUT_SEED)
    is_test = np.zeros(n, bool)
    groups = [np.arange(n)] if np.any(labels < 0) else [np.flatnonzero(labels == c)
                                                       for c in np.unique(labels)]
    for idx in groups:
        k = int(round(len(idx) * test_fraction))
        is_test[rng.permutation(idx)[:k]] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def load_digits(image_size=32, split="train", test_fraction=0.2):
    """scikit-learn's handwritten digits as grey uint8 images of ``image_size``."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = (d.images / 16.0 * 255.0).round().astype(np.uint8)[..., None]
    data = from_arrays(images, d.target, [str(c) for c in d.target_names],
                       image_size=image_size, source=f"digits:{split}")
    return data.subset(holdout_split(data.labels, test_fraction, split))


def _list_folder(path):
    """``[(display_name, relative_path, reader)]`` for image files under a folder/archive."""
    if os.path.isdir(path):
        entries = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."):
                    full = os.path.join(root, f)
                    entries.append((full, os.path.relpath(full, path)))
        return entries, None
    if path.endswith((".tar.gz", ".tgz", ".tar")) and os.path.isfile(path):
        try:
            tar = tarfile.open(path)
            members = [m for m in tar.getmembers() if m.isfile()
                       and m.name.lower().endswith(IMAGE_EXTENSIONS)
                       and not os.path.basename(m.name).startswith(".")]
        except (tarfile.TarError, OSError, EOFError) as e:
            raise UsageError(f"folder:{path}: cannot read archive ({e})") from None
        members.sort(key=lambda m: m.name)
        return [(f"{path}:{m.name}", m.name) for m in members], (tar, members)
    if not os.path.exists(path):
        raise UsageError(f"folder:{path}: no such folder or archive")
    raise UsageError(f"folder:{path}: expected a folder or a .tar.gz/.tgz/.tar archive")


def _labels_from_paths(relpaths):
    """Class = parent folder below the common root; one shared folder -> unlabelled."""
    parents = [os.path.dirname(p) for p in relpaths]
    if len(set(parents)) == 1:
        return np.full(len(relpaths), -1, np.int64), []
    common = os.path.commonpath(parents) if all(parents) else ""
    rel = [os.path.relpath(p, common) if common else (p or ".") for p in parents]
    names = sorted(set(rel))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[r] for r in rel], np.int64), names


def _decode_all(blobs, names, image_size):
    """Decodes encoded images in parallel with tf.data; names the first unreadable file."""

    def decode(b):
        img = tf.io.decode_image(b, channels=3, expand_animations=False)
        img = tf.image.resize(img, (image_size, image_size), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)

    ds = tf.data.Dataset.from_tensor_slices(blobs).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE).batch(512)
    try:
        return np.concatenate([b.numpy() for b in ds])
    except tf.errors.InvalidArgumentError:
        for name, b in zip(names, blobs):
            try:
                tf.io.decode_image(b, channels=3, expand_animations=False)
            except (tf.errors.InvalidArgumentError, ValueError):
                raise UsageError(f"unreadable image {name}: not a valid "
                                 "JPEG/PNG/BMP/GIF file") from None
        raise


def load_folder(path, image_size=32, split="all", test_fraction=0.1):
    """Images in class sub-folders, or a tar archive of them -> :class:`ImageData`."""
    entries, archive = _list_folder(path)
    if not entries:
        raise UsageError(f"folder:{path}: contains no images "
                         f"({'/'.join(IMAGE_EXTENSIONS)})")
    names = [e[0] for e in entries]
    labels, class_names = _labels_from_paths([e[1] for e in entries])
    index = holdout_split(labels, test_fraction, split)
    if archive is None:
        blobs = []
        for i in index:
            with open(names[i], "rb") as f:
                blobs.append(f.read())
    else:
        tar, members = archive
        blobs = [tar.extractfile(members[i]).read() for i in index]
        tar.close()
    names = [names[i] for i in index]
    images = _decode_all(blobs, names, image_size)
    return ImageData(images, labels[index], class_names, f"folder:{path}")


def load_tfds_images(name, split, image_size=32, data_dir=None, download=False):
    """A tensorflow-datasets image dataset -> :class:`ImageData` (held in memory)."""
    builder, ds = load_tfds(name, split, data_dir=data_dir, download=download)
    keys = builder.info.supervised_keys or ("image", None)
    image_key, label_key = keys[0], keys[1] if len(keys) > 1 else None
    if image_key not in builder.info.features:
        raise UsageError(f"tfds dataset {name!r} has no {image_key!r} feature")

    def pick(ex):
        img = tf.image.resize(ex[image_key], (image_size, image_size), antialias=True)
        img = tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)
        label = tf.cast(ex[label_key], tf.int64) if label_key else tf.constant(-1, tf.int64)
        return img, label

    images, labels = [], []
    for x, y in ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(1024):
        images.append(x.numpy())
        labels.append(y.numpy())
    if not images:
        raise UsageError(f"tfds:{name}:{split} is empty")
    class_names = []
    if label_key and hasattr(builder.info.features[label_key], "names"):
        class_names = list(builder.info.features[label_key].names)
    return ImageData(np.concatenate(images), np.concatenate(labels), class_names,
                     f"tfds:{name}:{split}")


IMAGE_SPECS = "digits | folder:PATH | tfds:NAME[:SPLIT]"


def load_images(spec, image_size=32, split="train", data_dir=None, download=False,
                test_fraction=None):
    """Loads an image dataset spec (see module docstring) as :class:`ImageData`.

    Args:
        spec: ``digits``, ``folder:PATH`` or ``tfds:NAME[:SPLIT]``.
        image_size: side of the square images returned.
        split: ``train``, ``test`` (a deterministic stratified held-out part for
            ``digits`` and ``folder:``; the tfds split named ``test`` otherwise) or
            ``all``. A split written in a ``tfds:`` spec wins.
        data_dir, download: for ``tfds:``.
        test_fraction: held-out fraction (default 0.2 for digits, 0.1 for folders).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not isinstance(spec, str) or not spec:
        raise UsageError(f"dataset spec {spec!r}: expected {IMAGE_SPECS}")
    if spec == "digits":
        return load_digits(image_size, split, test_fraction or 0.2)
    if spec.startswith("folder:"):
        path = os.path.expanduser(spec[len("folder:"):])
        if not path:
            raise UsageError(f"dataset spec {spec!r}: expected folder:PATH")
        return load_folder(path, image_size, split, test_fraction or 0.1)
    if spec.startswith("tfds:"):
        name, tsplit = parse_tfds_spec(spec, default_split=split if split != "all" else "train")
        return load_tfds_images(name, tsplit, image_size, data_dir, download)
    raise UsageError(f"unknown image dataset spec {spec!r}: expected {IMAGE_SPECS}")
