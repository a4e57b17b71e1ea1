"""Image sources that stay on disk and are decoded while training.

``--image_input=stream`` (and ``auto`` for sets too large to decode into memory, see
:func:`tfssl.data.load_images`) gives one of these instead of an in-memory
:class:`tfssl.data.ImageData`. Nothing holds the whole set: memory stays flat whatever
the number of images.

* :class:`FileImages`: a folder of image files. Image ``i`` is read and decoded by its
  index (:meth:`element_fn`), so training visits the files in a full stateless
  permutation per epoch, exactly as for images in memory, and the pixels are those that
  :func:`tfssl.data.load_folder` decodes into memory (the same ops,
  :mod:`tfssl.data.decode`).
* :class:`TfdsImages`: a tensorflow-datasets split, read in order from its TFRecord
  shards with parallel interleave (:meth:`TfdsImages.records`), shuffled for training
  with a bounded buffer of encoded records, seeded per epoch.

Both share the interface of :class:`tfssl.data.ImageData` that the pipelines and the
evaluation use: ``len``, ``labels``, ``class_names``, ``source``, ``labelled``,
``num_classes``, ``subset``, ``image_shape``, ``in_memory`` (False),
:meth:`images_dataset`, :meth:`element_fn` (None when there is no random access) and
:meth:`materialize` (decode into an ``ImageData``: for small subsets).
"""

import os

import numpy as np
import tensorflow as tf

from tfssl.data.decode import NOT_AN_IMAGE, checked_blob, decode_resize, to_channels
from tfssl.data.images import ImageData, LabelledImages
from tfssl.errors import UsageError

__all__ = ["FileImages", "TfdsImages", "disk_cache"]


class _Streamed(LabelledImages):
    in_memory = False

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    def materialize(self, batch_size=512):
        """Every image decoded into an :class:`ImageData` (for small sets and subsets)."""
        chunks = [b.numpy() for b in self.images_dataset().batch(batch_size)]
        images = (np.concatenate(chunks) if chunks else
                  np.zeros((0,) + self.image_shape, np.uint8))
        return ImageData(images, np.array(self.labels, copy=True), list(self.class_names),
                         self.source)


class FileImages(_Streamed):
    """Image files read and decoded by index.

    Args:
        paths: file paths, one per image.
        labels: ``(N,)`` int64 class ids (``-1``: unlabelled).
        class_names: names of the class ids.
        source: the spec, for messages.
        image_size: side of the square images produced.
        channels: 1 (luminance; exact for gray files) or 3.
    """

    random_access = True

    def __init__(self, paths, labels, class_names, source, image_size, channels):
        self.paths = np.asarray(paths, dtype=object)
        self.labels = np.asarray(labels, np.int64)
        self.class_names = list(class_names)
        self.source = source
        self.image_size = int(image_size)
        self.channels = int(channels)

    def subset(self, index, source=None):
        return FileImages(self.paths[index], self.labels[index], self.class_names,
                          source or self.source, self.image_size, self.channels)

    def with_channels(self, channels):
        return FileImages(self.paths, self.labels, self.class_names, self.source,
                          self.image_size, channels)

    def element_fn(self):
        """``index -> uint8 image``: reads and decodes file ``index`` (a tf function)."""
        paths = tf.constant([str(p) for p in self.paths], tf.string)
        size, channels = self.image_size, self.channels

        def element(index):
            path = tf.gather(paths, index)
            image, _ = decode_resize(checked_blob(tf.io.read_file(path), path), size)
            return to_channels(image, channels)

        return element

    def images_dataset(self):
        """Every image in index order, read and decoded in parallel."""
        return tf.data.Dataset.range(len(self)).map(
            self.element_fn(), num_parallel_calls=tf.data.AUTOTUNE)

    def first_unreadable(self):
        """The first file TensorFlow's decoder refuses, or None: what a decode error in
        the pipeline (which names no file) was about. Reads every file: for the error
        path only."""
        for path in self.paths:
            try:
                tf.io.decode_image(tf.io.read_file(str(path)), channels=3,
                                   expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, ValueError):
                return str(path)
        return None


def unreadable_file_error(images, exc):
    """A one-line :class:`UsageError` naming the file behind ``exc`` (a decode error of
    TensorFlow's, raised while ``images`` were streamed), or None when ``exc`` is not
    one or no file of ``images`` is to blame."""
    find = getattr(images, "first_unreadable", None)
    if not isinstance(exc, tf.errors.InvalidArgumentError) or find is None:
        return None
    path = find()
    return None if path is None else UsageError(f"unreadable image {path}: {NOT_AN_IMAGE}")


class TfdsImages(_Streamed):
    """A prepared tensorflow-datasets split, streamed from its shards.

    Args:
        name, split: the tfds dataset and split (slices such as ``train[:10%]`` work).
        data_dir: where it is prepared.
        image_size: side of the square images produced.
        channels: 1 or 3 (default: the image feature's, 3 when it is not fixed).
        index: the positions of the split that this source holds (sorted), or None for
            all of them.
    """

    random_access = False

    def __init__(self, name, split, data_dir=None, image_size=32, channels=None,
                 index=None, labels=None):
        from tfssl.data.tfds_source import load_tfds

        self.name, self.split, self.data_dir = name, split, data_dir
        self.builder, _ = load_tfds(name, split, data_dir=data_dir)
        info = self.builder.info
        keys = info.supervised_keys or ("image", None)
        self.image_key, self.label_key = keys[0], keys[1] if len(keys) > 1 else None
        if self.image_key not in info.features:
            raise UsageError(f"tfds dataset {name!r} has no {self.image_key!r} feature")
        self.total = int(info.splits[split].num_examples)
        self.index = None if index is None else np.asarray(index, np.int64)
        shape = info.features[self.image_key].shape
        self.channels = int(channels or (shape[-1] if shape and shape[-1] in (1, 3) else 3))
        self.image_size = int(image_size)
        self.class_names = []
        if self.label_key and hasattr(info.features[self.label_key], "names"):
            self.class_names = list(info.features[self.label_key].names)
        self.source = f"tfds:{name}:{split}"
        self._labels = labels

    def __len__(self):
        return self.total if self.index is None else len(self.index)

    @property
    def labels(self):
        """The labels, read once in one pass over the records (images not decoded)."""
        if self._labels is None:
            if not self.label_key:
                self._labels = np.full(len(self), -1, np.int64)
            else:
                key = self.label_key
                chunks = [b.numpy() for b in self.records(
                    lambda ex: tf.cast(ex[key], tf.int64)).batch(4096)]
                self._labels = (np.concatenate(chunks) if chunks else
                                np.zeros(0, np.int64))
        return self._labels

    def subset(self, index, source=None):
        """The images at positions ``index``, held in the order of the split (a stream
        is read in order): ``index`` is sorted, and repeats are dropped."""
        index = np.unique(np.asarray(index, np.int64))
        full = self.index if self.index is not None else np.arange(self.total)
        labels = self._labels[index] if self._labels is not None else None
        out = TfdsImages(self.name, self.split, self.data_dir, self.image_size,
                         self.channels, full[index], labels)
        out.source = source or self.source
        return out

    def with_channels(self, channels):
        return TfdsImages(self.name, self.split, self.data_dir, self.image_size, channels,
                          self.index, self._labels)

    def records(self, fn=None):
        """``fn(example)`` of each held example in order (default: the encoded image).

        Images are not decoded here (``SkipDecoding``): a pipeline can shuffle the small
        encoded records and decode after (:meth:`decode`).
        """
        import tensorflow_datasets as tfds

        key = self.image_key
        fn = fn or (lambda ex: ex[key])
        ds = self.builder.as_dataset(
            split=self.split, shuffle_files=False,
            decoders={key: tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(interleave_cycle_length=16,
                                        num_parallel_calls_for_interleave_files=16))
        if self.index is None:
            return ds.map(fn)
        keep = np.zeros(self.total, bool)
        keep[self.index] = True
        keep = tf.constant(keep)
        return ds.enumerate().filter(lambda i, ex: tf.gather(keep, i)).map(
            lambda i, ex: fn(ex))

    def decode(self, record):
        """An encoded record of :meth:`records` -> uint8 image."""
        image, _ = decode_resize(record, self.image_size)
        return to_channels(image, self.channels)

    def element_fn(self):
        return None  # records are read in order only

    def images_dataset(self):
        return self.records().map(self.decode, num_parallel_calls=tf.data.AUTOTUNE)


def _cache_key(source):
    """What a cached copy of ``source`` depends on: its images (files with their size and
    modification time, or the tfds dataset, version, split and positions), the image
    size and the channels."""
    import hashlib

    h = hashlib.sha256()
    if isinstance(source, FileImages):
        for p in source.paths:
            st = os.stat(p)
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    else:
        h.update(f"tfds|{source.name}|{source.builder.info.version}|{source.split}|"
                 f"{source.builder.data_dir}\n".encode())
        if source.index is not None:
            h.update(np.asarray(source.index, np.int64).tobytes())
    h.update(f"{source.image_size}|{source.channels}".encode())
    return h.hexdigest()[:24]


def disk_cache(source, cache_dir):
    """``source`` decoded and resized once into ``cache_dir`` as small PNG files.

    The first call writes ``cache_dir/KEY/`` (``KEY`` from :func:`_cache_key`: the
    images, their size and channels) in one parallel pass, under a temporary name renamed
    when complete, so an interrupted write is never used; later calls reuse it. The
    result is a :class:`FileImages` over those files: random access (a full permutation
    per epoch, also for a tfds split) and a cheap decode, with the same pixels as
    ``source`` (PNG is lossless and the resize to the same size is exact).
    """
    import shutil

    key = _cache_key(source)
    final = os.path.join(cache_dir, key)
    n = len(source)
    paths = [os.path.join(final, f"{i // 1000:05d}", f"{i:08d}.png") for i in range(n)]
    if not os.path.isfile(os.path.join(final, "labels.npy")):
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{final}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        for start in range(0, n, 1000):
            os.makedirs(os.path.join(tmp, f"{start // 1000:05d}"))
        names = tf.constant([p.replace(final, tmp, 1) for p in paths])
        def write(image, name):
            with tf.control_dependencies([tf.io.write_file(name, tf.io.encode_png(image))]):
                return tf.constant(0)

        writes = tf.data.Dataset.zip(source.images_dataset(),
                                     tf.data.Dataset.from_tensor_slices(names)).map(
            write, num_parallel_calls=tf.data.AUTOTUNE)
        try:  # a file that will not decode stops the pass: no half-made cache is left
            for _ in writes.batch(1024):
                pass
            np.save(os.path.join(tmp, "labels.npy"), np.asarray(source.labels, np.int64))
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            error = unreadable_file_error(source, e)
            if error is not None:
                raise error from None
            raise
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same cache first
            shutil.rmtree(tmp, ignore_errors=True)
    labels = np.load(os.path.join(final, "labels.npy"))
    return FileImages(paths, labels, source.class_names, source.source, source.image_size,
                      source.channels)
