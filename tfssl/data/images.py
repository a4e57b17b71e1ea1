"""Image dataset specs -> decoded, resized, in-memory images with labels.

Specs (``--dataset`` / ``--eval_dataset``):

- ``digits``: scikit-learn's 1,797 real 8x8 handwritten digits (embedded, no download),
  grey, upscaled to ``image_size``.
- ``folder:PATH``: JPEG/PNG/BMP/GIF images of any size, grey or colour, labelled by their
  class sub-folder (``PATH/<class>/*.jpg``) or unlabelled when they lie in one folder;
  ``PATH`` may also be a ``.tar.gz`` / ``.tgz`` / ``.tar`` of such a tree.
- ``tfds:NAME[:SPLIT]``: a tensorflow-datasets image dataset (``data_dir``, ``download``).

Images are decoded and resized once and kept in memory as uint8 (:class:`ImageData`),
or, with ``image_input="stream"`` (and ``"auto"`` when the decoded set would pass
:data:`MEMORY_LIMIT_BYTES`), left on disk and decoded while training
(:mod:`tfssl.data.stream`); :mod:`tfssl.data.pipeline` turns either into shuffled,
augmented, batched ``tf.data``.
A deterministic, stratified held-out split (independent of the training seed) gives
``split="test"`` for specs that have no test split of their own;
:func:`load_train_test` gives a run's training and held-out images, disjoint in every
case (also for ``tfds:NAME:SPLIT``, whose written split wins in :func:`load_images`).
Folders of gray images load with 1 channel, others with 3; :func:`match_channels`
converts between them.
"""

import dataclasses
import os
import tarfile

import numpy as np
import tensorflow as tf
from absl import logging

from tfssl.data.decode import NOT_AN_IMAGE, decode_resize
from tfssl.data.tfds_source import parse_tfds_spec, tfds_builder
from tfssl.errors import UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
SPLITS = ("train", "test", "all")
_HOLDOUT_SEED = 20200213  # fixed: the held-out split never depends on --seed


IMAGE_INPUTS = ("auto", "memory", "stream")
# image_input="auto" streams a set whose decoded uint8 images would take more than this.
MEMORY_LIMIT_BYTES = 2 << 30


class LabelledImages:
    """What every image source shares: ``labels``, ``class_names``, ``source``."""

    def __len__(self):
        return len(self.labels)

    @property
    def labelled(self):
        return len(self.labels) > 0 and bool(np.all(self.labels >= 0))

    @property
    def num_classes(self):
        return len(self.class_names)


def evaluation_gap(train, test):
    """Why labelled evaluation (kNN, probes) cannot score ``test`` against ``train``, as a
    phrase for messages, or None when it can."""
    if len(test) == 0:
        return (f"{test.source or 'the held-out part'} has no images ({len(train)} "
                "training images are too few to hold some out; name evaluation data of "
                "its own)")
    if not (train.labelled and test.labelled):
        return f"{train.source} / {test.source} carry no labels"
    return None


@dataclasses.dataclass
class ImageData(LabelledImages):
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

    in_memory = True
    random_access = True

    def __len__(self):
        return len(self.images)

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    def subset(self, index, source=None):
        return ImageData(self.images[index], self.labels[index], self.class_names,
                         source or self.source)

    def element_fn(self):
        """``index -> uint8 image`` (a tf function over the images as one constant)."""
        table = tf.constant(self.images)
        return lambda index: tf.gather(table, index)

    def images_dataset(self):
        return tf.data.Dataset.from_tensor_slices(self.images)

    def materialize(self):
        return self


def _to_uint8(images, source):
    """Integer images in 0..255, floats in [0, 1] or bools (1 = white) -> uint8, checked."""
    if images.dtype == np.uint8:
        return images
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * np.uint8(255)
    expected = "expected floats in [0, 1] or integers in 0..255"
    if not (np.issubdtype(images.dtype, np.integer) or
            np.issubdtype(images.dtype, np.floating)):
        raise UsageError(f"{source}: expected numeric images, got dtype {images.dtype} "
                         f"({expected})")
    if images.size == 0:
        return images.astype(np.uint8)
    low, high = images.min(), images.max()
    if np.issubdtype(images.dtype, np.integer):
        if low < 0 or high > 255:
            raise UsageError(f"{source}: integer values in {low}..{high}: expected 0..255")
        return images.astype(np.uint8)
    if not np.all(np.isfinite([low, high])):
        raise UsageError(f"{source}: non-finite values (NaN or inf): {expected}")
    if high > 1.0 + 1e-3:
        raise UsageError(f"{source}: values up to {float(high)}: {expected}")
    if low < -1e-3:
        raise UsageError(f"{source}: values down to {float(low)}: {expected}")
    return np.clip(np.round(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def from_arrays(images, labels=None, class_names=None, image_size=None, source="arrays"):
    """NumPy images ``(N, H, W[, C])`` -> :class:`ImageData` (uint8).

    Integer images (any integer dtype) must lie in 0..255, float images in [0, 1];
    bool images become 0 / 255. Anything else is a :class:`UsageError` naming ``source``
    and the values seen.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise UsageError(f"{source}: expected images of shape (N, H, W[, 1|3]), "
                         f"got {images.shape}")
    images = _to_uint8(images, source)
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


def _labels_from_paths(relpaths, source="folder"):
    """Class = parent folder below the common root; one shared folder -> unlabelled.

    Raises:
        UsageError: images both at the top of the class folders and inside them (they
            would make a class named ".").
    """
    parents = [os.path.dirname(p) for p in relpaths]
    if len(set(parents)) == 1:
        if parents[0]:  # one class folder and one shared folder look the same
            logging.warning("%s: every image lies in %s/, so they are unlabelled (labels "
                            "need two or more class folders)", source, parents[0])
        return np.full(len(relpaths), -1, np.int64), []
    common = os.path.commonpath(parents) if all(parents) else ""
    rel = [os.path.relpath(p, common) if common else (p or ".") for p in parents]
    if "." in rel:
        loose = relpaths[rel.index(".")]
        raise UsageError(f"{source}: images both next to the class folders ({loose}) and "
                         "inside them; move them into a class folder or out")
    names = sorted(set(rel))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[r] for r in rel], np.int64), names


def _decode_all(blobs, names, image_size):
    """Decodes encoded images in parallel with tf.data; names the first unreadable file.

    Returns ``(N, size, size, C)`` uint8 with ``C = 1`` when every image is gray and
    ``C = 3`` otherwise. Gray means gray content, whatever the file stores: 1 channel,
    gray + alpha, or colour channels that are all equal (a palette PNG with a gray
    palette, a GIF, an RGB(A) file of a gray picture). Alpha is dropped.
    """

    def decode(b):
        return decode_resize(b, image_size)

    ds = tf.data.Dataset.from_tensor_slices(blobs).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE).batch(512)
    try:
        batches = [(x.numpy(), g.numpy()) for x, g in ds]
    except tf.errors.InvalidArgumentError:
        for name, b in zip(names, blobs):
            try:
                tf.io.decode_image(b, channels=3, expand_animations=False)
            except (tf.errors.InvalidArgumentError, ValueError):
                raise UsageError(f"unreadable image {name}: {NOT_AN_IMAGE}") from None
        raise
    images = np.concatenate([x for x, _ in batches])
    if all(g.all() for _, g in batches):
        images = np.ascontiguousarray(images[..., :1])
    return images


def check_image_input(image_input):
    if image_input not in IMAGE_INPUTS:
        raise UsageError(f"--image_input={image_input!r}: expected one of "
                         f"{', '.join(IMAGE_INPUTS)}")
    return image_input


def _streams(image_input, count, image_size, what):
    """Whether ``count`` images of ``image_size`` are streamed (``auto``: when the
    decoded uint8 set would pass :data:`MEMORY_LIMIT_BYTES`)."""
    if check_image_input(image_input) != "auto":
        return image_input == "stream"
    big = count * image_size * image_size * 3 > MEMORY_LIMIT_BYTES
    if big:
        logging.info("%s: %d images of %d px would take over %.1f GiB decoded; streaming "
                     "them from disk (--image_input=memory keeps them in memory)", what,
                     count, image_size, MEMORY_LIMIT_BYTES / 2**30)
    return big


def _sample_channels(paths, image_size, samples=64):
    """1 when an even sample of up to ``samples`` files is all gray, else 3 (streamed
    folders: the in-memory path looks at every file)."""
    pick = np.unique(np.linspace(0, len(paths) - 1, min(samples, len(paths))).astype(int))
    blobs = []
    for i in pick:
        with open(paths[i], "rb") as f:
            blobs.append(f.read())
    return _decode_all(blobs, [paths[i] for i in pick], image_size).shape[-1]


def _maybe_cached(source, image_cache_dir):
    if not image_cache_dir:
        return source
    from tfssl.data.stream import disk_cache

    return disk_cache(source, os.path.expanduser(image_cache_dir))


def load_folder(path, image_size=32, split="all", test_fraction=0.1, image_input="memory",
                image_cache_dir=None):
    """Images in class sub-folders, or a tar archive of them -> :class:`ImageData`, or a
    :class:`tfssl.data.stream.FileImages` when streamed (``image_input``, see
    :func:`load_images`; an archive is always decoded into memory)."""
    entries, archive = _list_folder(path)
    if not entries:
        raise UsageError(f"folder:{path}: contains no images "
                         f"({'/'.join(IMAGE_EXTENSIONS)})")
    names = [e[0] for e in entries]
    labels, class_names = _labels_from_paths([e[1] for e in entries], f"folder:{path}")
    index = holdout_split(labels, test_fraction, split)
    if archive is not None and image_input == "stream":
        raise UsageError(f"folder:{path}: an archive cannot be streamed (its files have "
                         "no random access); extract it and pass the folder, or use "
                         "--image_input=memory")
    if archive is None and _streams(image_input, len(index), image_size, f"folder:{path}"):
        from tfssl.data.stream import FileImages

        paths = [names[i] for i in index]
        return _maybe_cached(FileImages(paths, labels[index], class_names, f"folder:{path}",
                                        image_size, _sample_channels(paths, image_size)),
                             image_cache_dir)
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


def load_tfds_images(name, split, image_size=32, data_dir=None, download=False,
                     image_input="memory", image_cache_dir=None):
    """A tensorflow-datasets image dataset -> :class:`ImageData`, or a
    :class:`tfssl.data.stream.TfdsImages` streamed from its shards (``image_input``)."""
    from tfssl.data.stream import TfdsImages

    tfds_builder(name, data_dir, download)  # prepared, or downloaded when allowed
    stream = TfdsImages(name, split, data_dir=data_dir, image_size=image_size)
    if not len(stream):
        raise UsageError(f"tfds:{name}:{split} is empty")
    if _streams(image_input, len(stream), image_size, stream.source):
        return _maybe_cached(stream, image_cache_dir)
    return stream.materialize()


IMAGE_SPECS = "digits | folder:PATH | tfds:NAME[:SPLIT]"


def load_images(spec, image_size=32, split="train", data_dir=None, download=False,
                test_fraction=None, image_input="memory", image_cache_dir=None):
    """Loads an image dataset spec (see module docstring) as :class:`ImageData`.

    Args:
        spec: ``digits``, ``folder:PATH`` or ``tfds:NAME[:SPLIT]``.
        image_size: side of the square images returned.
        split: ``train``, ``test`` (a deterministic stratified held-out part for
            ``digits`` and ``folder:``; the tfds split named ``test`` otherwise) or
            ``all``. A split written in a ``tfds:`` spec wins.
        data_dir, download: for ``tfds:``.
        test_fraction: held-out fraction (default 0.2 for digits, 0.1 for folders).
        image_input: ``memory`` (decode every image once into an :class:`ImageData`),
            ``stream`` (leave ``folder:`` and ``tfds:`` images on disk and decode them
            while training, :mod:`tfssl.data.stream`) or ``auto`` (stream when the
            decoded set would take more than :data:`MEMORY_LIMIT_BYTES`). ``digits`` is
            always in memory; a folder archive cannot be streamed.
        image_cache_dir: with streamed images, decode and resize each image once into
            this folder (:func:`tfssl.data.stream.disk_cache`) and stream those files.
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
        return load_folder(path, image_size, split, test_fraction or 0.1, image_input,
                           image_cache_dir)
    if spec.startswith("tfds:"):
        name, tsplit = parse_tfds_spec(spec, default_split=split if split != "all" else "train")
        return load_tfds_images(name, tsplit, image_size, data_dir, download, image_input,
                                image_cache_dir)
    raise UsageError(f"unknown image dataset spec {spec!r}: expected {IMAGE_SPECS}")


HOLDOUT_FRACTION = {"digits": 0.2, "folder": 0.1, "tfds": 0.1}


def _source_key(spec):
    """What identifies a spec's images: ``("digits",)``, ``("folder", realpath)`` or
    ``("tfds", name, split)`` with the split a training spec resolves to."""
    if not isinstance(spec, str) or not spec:
        raise UsageError(f"dataset spec {spec!r}: expected {IMAGE_SPECS}")
    if spec == "digits":
        return ("digits",)
    if spec.startswith("folder:"):
        return ("folder", os.path.realpath(os.path.expanduser(spec[len("folder:"):])))
    if spec.startswith("tfds:"):
        name, split = parse_tfds_spec(spec, default_split="")
        return ("tfds", name, split or "train")
    raise UsageError(f"unknown image dataset spec {spec!r}: expected {IMAGE_SPECS}")


def _split_held_out(data, fraction):
    """``(train, test)`` parts of ``data``: :func:`holdout_split` (stratified, fixed seed)."""
    label = f"held-out {round(fraction * 100)}%"
    return (data.subset(holdout_split(data.labels, fraction, "train"),
                        f"{data.source} without the {label}"),
            data.subset(holdout_split(data.labels, fraction, "test"),
                        f"{data.source} {label}"))


def _tfds_eval_split(name, data_dir, download):
    """The split a ``tfds:NAME`` is evaluated on: ``test``, else ``validation`` (as
    ImageNet's), else None."""
    splits = tfds_builder(name, data_dir, download).info.splits
    return next((s for s in ("test", "validation") if s in splits), None)


def load_train_test(dataset, eval_dataset=None, *, image_size=32, data_dir=None,
                    download=False, image_input="memory", image_cache_dir=None):
    """The training images (kNN memory bank) and held-out images of a run, disjoint.

    * ``eval_dataset`` is None or the same source as ``dataset`` (the same spec, the
      same real folder, or the same tfds name and split, ``tfds:x`` meaning
      ``tfds:x:train``): ``digits`` and ``folder:`` are cut into a deterministic,
      stratified held-out part (20% / 10%) and the rest; ``tfds:NAME`` gives its
      ``train`` and ``test`` splits (``validation`` when it has no ``test``, as
      ImageNet; a held-out 10% of ``train`` when it has neither); ``tfds:NAME:SPLIT``
      gives a held-out 10% of SPLIT and the rest.
    * ``eval_dataset`` is another source: all of ``dataset`` (``tfds:``: its split, or
      ``train``) for training and all of ``eval_dataset`` (``tfds:``: its split, or
      ``test`` / ``validation`` when it has one, else ``train``) for evaluation.

    The held-out parts never depend on a training seed. Channel counts are those of
    the files; see :func:`match_channels`. ``image_input`` and ``image_cache_dir`` are
    those of :func:`load_images`, for each part on its own.

    Returns:
        ``(train, test)`` :class:`ImageData` (or streamed sources).
    """
    common = dict(image_size=image_size, data_dir=data_dir, download=download,
                  image_input=image_input, image_cache_dir=image_cache_dir)
    key = _source_key(dataset)
    if eval_dataset is None or _source_key(eval_dataset) == key:
        kind = key[0]
        if kind == "tfds":
            name, explicit = parse_tfds_spec(dataset, default_split="")
            held_out = None if explicit else _tfds_eval_split(name, data_dir, download)
            if held_out:
                return (load_tfds_images(name, "train", **common),
                        load_tfds_images(name, held_out, **common))
            data = load_tfds_images(name, explicit or "train", **common)
        else:
            data = load_images(dataset, split="all", **common)
            data.source = "digits" if kind == "digits" else data.source
        return _split_held_out(data, HOLDOUT_FRACTION[kind])
    train = _load_whole(dataset, "train", common)
    return train, _load_whole(eval_dataset, "test", common)


def _load_whole(spec, role, common):
    """All images of ``spec``; a ``tfds:NAME`` without split: ``train`` for training,
    ``test`` / ``validation`` (else ``train``) for evaluation."""
    if not spec.startswith("tfds:"):
        return load_images(spec, split="all", **common)
    name, split = parse_tfds_spec(spec, default_split="")
    if not split:
        split = (role == "test" and _tfds_eval_split(
            name, common["data_dir"], common["download"])) or "train"
    return load_tfds_images(name, split, **common)


def match_channels(data, channels):
    """``data`` with ``channels`` (1 or 3) channels: gray is replicated to 3 channels,
    colour becomes its luminance (``tf.image.rgb_to_grayscale``). The same count returns
    ``data`` itself; a conversion is logged (one warning line naming the source)."""
    have = data.image_shape[-1]
    if channels not in (1, 3):
        raise UsageError(f"match_channels: channels={channels!r}, expected 1 or 3")
    if have == channels:
        return data
    if not data.in_memory:  # converted as each image is decoded
        logging.warning("%s: converting streamed images from %d to %d channel%s",
                        data.source, have, channels, "s" if channels > 1 else "")
        return data.with_channels(channels)
    if channels == 3:
        images = np.repeat(data.images, 3, axis=-1)
    else:
        images = np.concatenate([
            tf.image.rgb_to_grayscale(data.images[i:i + 4096]).numpy()
            for i in range(0, len(data.images), 4096)]) if len(data.images) else \
            np.zeros(data.images.shape[:-1] + (1,), np.uint8)
    logging.warning("%s: converted %d images from %d to %d channel%s (%s)", data.source,
                    len(images), have, channels, "s" if channels > 1 else "",
                    "gray replicated" if channels == 3 else "luminance")
    return ImageData(images, data.labels, data.class_names, data.source)
