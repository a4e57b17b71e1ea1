"""``tf.data`` pipelines: cache -> shuffle -> augment in ``map`` -> batch -> prefetch."""

import numpy as np
import tensorflow as tf

from tfssl.data.images import ImageData
from tfssl.errors import UsageError

# Encoded records held by the shuffle buffer of a source read in order (tfds streams).
SHUFFLE_BUFFER = 10_000


def _is_source(source):
    """An :class:`ImageData` or a streamed source of :mod:`tfssl.data.stream`."""
    return hasattr(source, "images_dataset") and hasattr(source, "labels")


def _images_dataset(source):
    if _is_source(source):
        return source.images_dataset(), len(source)
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
                  input_context=None, epochs=None, steps_per_epoch=None,
                  shuffle_buffer=SHUFFLE_BUFFER):
    """Batches of augmented views, one per entry of ``views``.

    Args:
        source: :class:`ImageData`, a streamed source (:mod:`tfssl.data.stream`), uint8
            NumPy images, or a ``tf.data.Dataset`` of images or ``(image, label)`` pairs.
        batch_size: global batch size (split by ``input_context`` when given).
        views: :func:`tfssl.augment.simclr_augment` keyword dicts with ``image_size``, one
            per view (see :func:`tfssl.augment.views_from_settings`).
        seed: seeds shuffling and augmentation (None: fresh randomness every run).
        shuffle: reshuffle every epoch.
        with_index: also yield each image's index in ``source``: ``(views, index)``.
        input_context: a ``tf.distribute.InputContext``: shard by input pipeline and use
            the per-replica batch size (for ``distribute_datasets_from_function``).
        epochs: the whole training stream of ``epochs`` passes (for
            ``fit(steps_per_epoch=...)``). With an int ``seed`` and an image source
            (in memory, streamed, or NumPy), each pass is ordered and augmented from
            stateless seeds of ``(seed, epoch, position)``: every iterator replays the
            same stream, so a re-created iterator (Keras peeks at the first batch under
            a distribution strategy) sees what the first one saw, and N replicas train
            on exactly the batches of one device. Images in memory and files are
            visited in a full random permutation per pass; a tfds stream, read in
            order, goes through a ``shuffle_buffer`` of encoded records seeded per pass.
            Otherwise the passes are repeated with fresh randomness in each. None: one
            pass, reshuffled and re-augmented at every re-iteration.
        steps_per_epoch: with ``epochs``, the global batches taken from each pass
            (default: every full batch).
        shuffle_buffer: records in the shuffle buffer of a source read in order.

    Returns:
        a ``tf.data.Dataset`` of view tuples (or ``(views, index)``) of float32 batches,
        ``drop_remainder``.
    """
    from tfssl.augment import add_view_set

    if isinstance(source, np.ndarray):
        source = ImageData(source, np.full(len(source), -1, np.int64), [], "arrays")
    ds, n = _images_dataset(source)
    check_batch_size(batch_size, n)
    if epochs is not None and seed is not None and _is_source(source):
        return _epoch_stream(source, batch_size, views, seed, shuffle, with_index,
                             input_context, epochs, steps_per_epoch, shuffle_buffer)
    if with_index:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.range(n if n is not None else -1)))
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    in_memory = getattr(source, "in_memory", not _is_source(source))
    if in_memory:
        ds = ds.cache()
    if shuffle:
        buffer = n if in_memory and n else shuffle_buffer
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = add_view_set(ds, views, seed=seed, with_index=with_index)
    ds = ds.batch(batch_size, drop_remainder=True)
    if epochs is not None:  # no seed: fresh randomness in every pass
        ds = (ds.take(steps_per_epoch) if steps_per_epoch else ds).repeat(epochs)
    return ds.prefetch(tf.data.AUTOTUNE)


def _epoch_stream(source, batch_size, views, seed, shuffle, with_index, input_context,
                  epochs, steps_per_epoch, shuffle_buffer):
    """``views_dataset(epochs=...)`` over an image source: a replayable stream.

    Position ``j`` of pass ``epoch`` is augmented with the stateless seed of element
    ``epoch * n + j``. Under ``input_context`` each input pipeline keeps the positions
    ``j = id (mod pipelines)`` and batches the per-replica size, so the replicas of a
    step hold, together, the positions of one global batch of a single device.
    """
    from tfssl.augment.views import view_set

    n = len(source)
    global_batch = batch_size
    pipelines, pipeline_id, per_pipeline = 1, 0, 1
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        pipelines = input_context.num_input_pipelines
        pipeline_id = input_context.input_pipeline_id
        per_pipeline = input_context.num_replicas_in_sync // pipelines
    steps = n // global_batch if not steps_per_epoch else min(steps_per_epoch,
                                                              n // global_batch)
    element = source.element_fn()
    seed_t = tf.constant(seed, tf.int64)

    def positions(epoch):
        """``(position, element seed)`` of this pipeline's share of a pass."""
        out = tf.data.Dataset.range(n).map(lambda j: (j, epoch * n + j))
        return out.shard(pipelines, pipeline_id) if pipelines > 1 else out

    def augment(image, i, s):
        out = view_set(image, views, seed=tf.stack([s, seed_t]))
        return (out, i) if with_index else out

    def one_pass(epoch):
        if element is not None:  # random access: a stateless permutation of the indices
            def read(j, s):
                i = tf.random.experimental.index_shuffle(
                    j, tf.stack([seed_t, epoch]), tf.constant(n - 1, tf.int64)) \
                    if shuffle else j
                return augment(element(i), i, s)

            part = positions(epoch).map(read, num_parallel_calls=tf.data.AUTOTUNE)
        else:  # read in order: a bounded shuffle of the encoded records, seeded per pass
            records = tf.data.Dataset.zip(source.records(), tf.data.Dataset.range(n))
            if shuffle:
                # The pass's seed is a tensor; with a graph-level seed set (any
                # keras.utils.set_random_seed) TensorFlow would compare it as a Python
                # bool, so this traced function's graph-level seed is cleared: the
                # op seed alone decides (it does not touch the global seed).
                tf.random.set_seed(None)
                records = records.shuffle(shuffle_buffer, seed=seed_t * 100_003 + epoch,
                                          reshuffle_each_iteration=False)
            records = tf.data.Dataset.zip(records, positions(epoch)) if pipelines == 1 \
                else tf.data.Dataset.zip(records.shard(pipelines, pipeline_id),
                                         positions(epoch))

            def decode(record_index, position):
                (record, i), (_, s) = record_index, position
                return augment(source.decode(record), i, s)

            part = records.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        return part.batch(batch_size, drop_remainder=True).take(steps * per_pipeline)

    return tf.data.Dataset.range(epochs).flat_map(one_pass).prefetch(tf.data.AUTOTUNE)


def eval_dataset(source, batch_size=256):
    """Un-augmented float32 images in [0, 1] for feature extraction, in index order.

    ``source``: an :class:`ImageData`, a streamed source or uint8 NumPy images."""
    ds = source.images_dataset() if _is_source(source) else \
        tf.data.Dataset.from_tensor_slices(np.asarray(source))
    return ds.batch(batch_size).map(lambda x: tf.cast(x, tf.float32) / 255.0,
                                    num_parallel_calls=tf.data.AUTOTUNE
                                    ).prefetch(tf.data.AUTOTUNE)
