"""Fine-tuning the whole encoder on a fraction of the labels, next to the same
architecture trained from scratch on the same labels (the SimCLR paper's
semi-supervised protocol, on a CPU budget).

Each fraction trains for the same number of optimizer ``steps`` (the labelled subset is
repeated as needed), with the same recipe for the pretrained and the scratch encoder, so
that the two numbers differ only by the initialisation.
"""

import numpy as np

from tfssl.data.subsets import label_fraction_indices, parse_fractions
from tfssl.optimizers.factory import build_before_fit

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
DEFAULT_STEPS = 300
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_WEIGHT_DECAY = 1e-4


def random_init_copy(encoder, seed=0):
    """The same architecture as ``encoder`` with fresh, seeded random weights."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(encoder)


def _augment(flip):
    import tensorflow as tf

    from tfssl.augment.views import random_flip, random_resized_crop

    def fn(seed, image, label):
        seeds = tf.random.experimental.stateless_split(seed, 2)
        size = image.shape[:2]
        out = random_resized_crop(image, size, scale=(0.5, 1.0), seed=seeds[0])
        if flip:
            out = random_flip(out, seed=seeds[1])
        return out, label

    return fn


def finetune_image_encoder(encoder, train, test, *, steps=DEFAULT_STEPS,
                           batch_size=DEFAULT_BATCH_SIZE, learning_rate=DEFAULT_LEARNING_RATE,
                           weight_decay=DEFAULT_WEIGHT_DECAY, flip=True, seed=0):
    """Trains ``encoder`` + a dense classifier on ``train``; returns test top-1.

    All weights train (batch norm in training mode), in float32 whatever the encoder's
    policy, with light augmentation (random crop of 50-100% of the area, horizontal flip
    when ``flip``), AdamW with a linear warm-up over 10% of ``steps`` then cosine decay.
    ``encoder`` itself is not modified: a float32 copy is trained.

    Args:
        encoder: image encoder (``keras.Model``: uint8-range images scaled to [0, 1] in).
        train, test: labelled :class:`tfssl.data.ImageData`.
    """
    import keras
    import tensorflow as tf

    from tfssl.eval.features import float32_copy
    from tfssl.data.pipeline import eval_dataset

    num_classes = max(train.num_classes, test.num_classes,
                      int(np.max(train.labels)) + 1, int(np.max(test.labels)) + 1)
    keras.utils.set_random_seed(seed)
    base = float32_copy(encoder)
    if base is encoder:
        base = keras.models.clone_model(encoder)
        base.set_weights(encoder.get_weights())
    inputs = keras.Input(encoder.input_shape[1:])
    logits = keras.layers.Dense(num_classes, name="classifier")(base(inputs))
    model = keras.Model(inputs, logits)
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), warmup_target=learning_rate, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    n = len(train)
    batch = min(batch_size, n)
    images = tf.data.Dataset.zip(train.images_dataset(),
                                 tf.data.Dataset.from_tensor_slices(train.labels))
    buffer = n if train.in_memory else min(n, 10_000)  # streamed: a bounded buffer
    ds = images.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = tf.data.Dataset.zip(tf.data.Dataset.random(seed=seed).batch(2), ds)
    ds = ds.map(lambda s, xy: _augment(flip)(s, *xy), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    build_before_fit(model)
    model.fit(ds, epochs=1, steps_per_epoch=int(steps), verbose=0)
    logits = model.predict(eval_dataset(test, 256), verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(test.labels)))


def label_fraction_curve(finetune, train, fractions=DEFAULT_FRACTIONS, seed=0):
    """Pretrained vs scratch accuracy at each label fraction.

    Args:
        finetune: ``finetune(subset, pretrained: bool) -> accuracy`` (the modality's
            recipe, the same for both initialisations).
        train: labelled data with ``labels`` and ``subset(index)``.
        fractions: label fractions in (0, 1] (class-balanced, seeded, nested subsets).

    Returns:
        ``[{"fraction", "num_labels", "pretrained", "scratch"}, ...]``.
    """
    out = []
    for fraction in parse_fractions(fractions):
        subset = train.subset(label_fraction_indices(train.labels, fraction, seed))
        out.append({"fraction": fraction, "num_labels": len(subset),
                    "pretrained": finetune(subset, True),
                    "scratch": finetune(subset, False)})
    return out
