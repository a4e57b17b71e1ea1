"""``tf.data`` pipelines: cache -> shuffle -> augment in ``map`` -> batch -> prefetch."""

import numpy as np
import tensorflow as tf

from tfssl.data.images import ImageData
from tfssl.errors import UsageError


def _images_dataset(source):
    if isinstance(source, ImageData):
        return tf.data.Dataset.from_tensor_slices(source.images), len(source)
    if isinstance(source, np.ndarray):
        return tf.data.Dataset.from_tensor_slices(source), len(source)
    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        if isinstance(spec, tuple):  # (image, label) -> image
            source = source.map(lambda *e: e[0])
        n = int(source.cardinality())
        return source, (n if n >= 0 else None)
    raise TypeError(f"expected ImageData, a NumPy array or a tf.data.Dataset, got "
                    f"{type(source).__name__}")


def check_batch_size(batch_size, num_examples, flag="--batch_size", what="training images"):
    """A contrastive batch needs >= 2 examples and no more than the data has."""
    if batch_size < 2:
        raise UsageError(f"{flag}={batch_size}: must be at least 2")
    if num_examples is not None and batch_size > num_examples:
        raise UsageError(f"{flag}={batch_size} is larger than the {num_examples} "
                         f"{what}; use at most {num_examples}")


def simclr_dataset(source, batch_size, image_size, seed=None, shuffle=True,
                   input_context=None, **augment):
    """Pairs of augmented views for :class:`tfssl.methods.SimCLR`.

    :func:`views_dataset` with two views drawn with the same ``augment`` options
    (keyword arguments of :func:`tfssl.augment.simclr_augment`) at ``image_size``.

    Returns:
        a ``tf.data.Dataset`` of ``(view1, view2)`` float32 batches, ``drop_remainder``.
    """
    view = dict(augment, image_size=image_size)
    return views_dataset(source, batch_size, [view, view], seed=seed, shuffle=shuffle,
                         input_context=input_context)


def views_dataset(source, batch_size, views, seed=None, shuffle=True, with_index=False,
                  input_context=None, epochs=None, steps_per_epoch=None):
    """Batches of augmented views, one per entry of ``views``.

    Args:
        source: :class:`ImageData`, uint8 NumPy images, or a ``tf.data.Dataset`` of images
            or ``(image, label)`` pairs.
        batch_size: global batch size (split by ``input_context`` when given).
        views: :func:`tfssl.augment.simclr_augment` keyword dicts with ``image_size``, one
            per view (see :func:`tfssl.augment.views_from_settings`).
        seed: seeds shuffling and augmentation (None: fresh randomness every run).
        shuffle: reshuffle every epoch.
        with_index: also yield each image's index in ``source``: ``(views, index)``.
        input_context: a ``tf.distribute.InputContext``: shard by input pipeline and use
            the per-replica batch size (for ``distribute_datasets_from_function``).
        epochs: the whole training stream of ``epochs`` passes (for
            ``fit(steps_per_epoch=...)``). With an int ``seed`` and images in memory,
            each pass is permuted and augmented from stateless seeds of ``(seed, epoch,
            position)``: every iterator replays the same stream, so a re-created iterator
            (Keras peeks at the first batch under a distribution strategy) sees what the
            first one saw, and N replicas train on exactly the batches of one device.
            Otherwise the passes are repeated with fresh randomness in each. None: one
            pass, reshuffled and re-augmented at every re-iteration.
        steps_per_epoch: with ``epochs``, the batches taken from each pass (default:
            every full batch).

    Returns:
        a ``tf.data.Dataset`` of view tuples (or ``(views, index)``) of float32 batches,
        ``drop_remainder``.
    """
    from tfssl.augment import add_view_set

    ds, n = _images_dataset(source)
    check_batch_size(batch_size, n)
    images = source.images if isinstance(source, ImageData) else source
    if epochs is not None and seed is not None and isinstance(images, np.ndarray):
        return _epoch_stream(images, batch_size, views, seed, shuffle, with_index,
                             input_context, epochs, steps_per_epoch)
    if with_index:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.range(n if n is not None else -1)))
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(n or 10_000, seed=seed, reshuffle_each_iteration=True)
    ds = add_view_set(ds, views, seed=seed, with_index=with_index)
    ds = ds.batch(batch_size, drop_remainder=True)
    if epochs is not None:  # no seed: fresh randomness in every pass
        ds = (ds.take(steps_per_epoch) if steps_per_epoch else ds).repeat(epochs)
    return ds.prefetch(tf.data.AUTOTUNE)


def _epoch_stream(images, batch_size, views, seed, shuffle, with_index, input_context,
                  epochs, steps_per_epoch):
    """``views_dataset(epochs=...)`` over in-memory images: a replayable stream."""
    from tfssl.augment import add_view_set

    n = len(images)
    table = tf.constant(images)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)

    def one_pass(epoch):
        order = tf.data.Dataset.range(n)
        if shuffle:  # a stateless permutation of the indices for this epoch
            key = tf.stack([tf.constant(seed, tf.int64), epoch])
            order = order.map(lambda i: tf.random.experimental.index_shuffle(
                i, key, tf.constant(n - 1, tf.int64)))
        seeds = tf.data.Dataset.range(epoch * n, (epoch + 1) * n)
        pairs = tf.data.Dataset.zip((order, seeds))
        if input_context is not None:
            pairs = pairs.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
        order, seeds = pairs.map(lambda i, _: i), pairs.map(lambda _, s: s)
        elements = order.map(lambda i: (tf.gather(table, i), i) if with_index
                             else tf.gather(table, i))
        part = add_view_set(elements, views, seed=seed, with_index=with_index,
                            element_seeds=seeds)
        part = part.batch(batch_size, drop_remainder=True)
        return part.take(steps_per_epoch) if steps_per_epoch else part

    return tf.data.Dataset.range(epochs).flat_map(one_pass).prefetch(tf.data.AUTOTUNE)


def eval_dataset(source, batch_size=256):
    """Un-augmented float32 images in [0, 1] (and labels) for feature extraction."""
    images = source.images if isinstance(source, ImageData) else np.asarray(source)
    ds = tf.data.Dataset.from_tensor_slices(images)
    return ds.batch(batch_size).map(lambda x: tf.cast(x, tf.float32) / 255.0,
                                    num_parallel_calls=tf.data.AUTOTUNE
                                    ).prefetch(tf.data.AUTOTUNE)
