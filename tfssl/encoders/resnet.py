"""ResNet-18/34/50 and a small ConvNet as functional Keras models returning pooled features.

Inputs are float images in ``[0, 1]`` of shape ``(size, size, channels)``; the models
centre them inside (``x * 2 - 1``), so the same encoder serves raw pixels in a SavedModel.
"""

import numbers

import keras
from keras import layers

from tfssl.distribute.replicas import sync_batch_norm
from tfssl.errors import UsageError
from tfssl.layers.convolution import Conv2D
from tfssl.layers.normalization import BatchNormalization

_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
           50: ("bottleneck", (3, 4, 6, 3))}


def _conv_bn(x, filters, kernel, stride, name, sync, relu=True, zero_gamma=False):
    x = Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
               kernel_initializer="he_normal", name=name + "_conv")(x)
    x = BatchNormalization(momentum=0.9, epsilon=1e-5, name=name + "_bn",
                           gamma_initializer="zeros" if zero_gamma else "ones",
                           synchronized=sync)(x)
    return layers.ReLU(name=name + "_relu")(x) if relu else x


def _block(x, filters, stride, kind, name, sync):
    expansion = 4 if kind == "bottleneck" else 1
    out_filters = filters * expansion
    shortcut = x
    if stride != 1 or x.shape[-1] != out_filters:
        shortcut = _conv_bn(x, out_filters, 1, stride, name + "_proj", sync, relu=False)
    if kind == "basic":
        y = _conv_bn(x, filters, 3, stride, name + "_a", sync)
        y = _conv_bn(y, filters, 3, 1, name + "_b", sync, relu=False, zero_gamma=True)
    else:
        y = _conv_bn(x, filters, 1, 1, name + "_a", sync)
        y = _conv_bn(y, filters, 3, stride, name + "_b", sync)
        y = _conv_bn(y, out_filters, 1, 1, name + "_c", sync, relu=False,
                     zero_gamma=True)
    y = layers.Add(name=name + "_add")([shortcut, y])
    return layers.ReLU(name=name + "_out")(y)


def resnet(depth=18, image_size=32, channels=3, stem="cifar", width=1.0, name=None,
           synchronized=None):
    """ResNet encoder (He et al. 2016) returning the global-average-pooled feature.

    Args:
        depth: 18, 34 (basic blocks) or 50 (bottleneck blocks).
        image_size, channels: input shape ``(image_size, image_size, channels)``.
        stem: ``"cifar"`` (3x3 stride-1 conv, no max-pool, for 32 px inputs) or
            ``"imagenet"`` (7x7 stride-2 conv and 3x3 max-pool).
        width: multiplier on the channel counts (64, 128, 256, 512).
        synchronized: batch-norm statistics over the global batch under
            ``tf.distribute`` (default: when built under a strategy with more than one
            replica in sync, so that N replicas train like one device).

    Returns:
        a functional ``keras.Model`` mapping images to ``(batch, features)``; the
        feature width is ``512 * width`` (``2048 * width`` for ResNet-50).
    """
    if depth not in _BLOCKS:
        raise UsageError(f"ResNet depth {depth}: expected one of 18, 34, 50")
    if stem not in ("cifar", "imagenet"):
        raise UsageError(f"ResNet stem {stem!r}: expected 'cifar' or 'imagenet'")
    kind, counts = _BLOCKS[depth]
    base = max(1, int(round(64 * width)))
    sync = sync_batch_norm(synchronized)
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)
    if stem == "cifar":
        x = _conv_bn(x, base, 3, 1, "stem", sync)
    else:
        x = _conv_bn(x, base, 7, 2, "stem", sync)
        x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    for stage, count in enumerate(counts):
        for i in range(count):
            stride = 2 if (stage > 0 and i == 0) else 1
            x = _block(x, base * 2**stage, stride, kind, f"stage{stage + 1}_block{i + 1}",
                       sync)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def convnet(image_size=32, channels=3, width=32, depth=3, name="convnet",
            synchronized=None):
    """A small VGG-style ConvNet for quick runs: ``depth`` stages of conv-BN-ReLU x2 + pool.

    Args:
        image_size, channels: input shape.
        width: channels of the first stage, doubled at every stage.
        depth: number of stages.
        synchronized: as in :func:`resnet`.

    Returns:
        a functional ``keras.Model`` to ``(batch, width * 2**(depth-1))`` features.
    """
    sync = sync_batch_norm(synchronized)
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)
    for stage in range(depth):
        filters = width * 2**stage
        x = _conv_bn(x, filters, 3, 1, f"stage{stage + 1}_a", sync)
        x = _conv_bn(x, filters, 3, 1, f"stage{stage + 1}_b", sync)
        if stage < depth - 1:
            x = layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name)


IMAGE_ENCODERS = ("convnet", "resnet18", "resnet34", "resnet50")


#: The smallest input side every encoder's pooling accepts.
MIN_IMAGE_SIZE = 8


def check_image_encoder(name, image_size, width):
    """A one-line :class:`UsageError` for an encoder that cannot be built: an unknown
    name, an input under :data:`MIN_IMAGE_SIZE` pixels, or a width that leaves a layer
    without channels (``--width`` scales 32 channels in ``convnet``, 64 in the ResNets)."""
    if name not in IMAGE_ENCODERS:
        raise UsageError(f"--encoder={name!r}: expected one of {', '.join(IMAGE_ENCODERS)}")
    if not (isinstance(image_size, numbers.Integral) and image_size >= MIN_IMAGE_SIZE):
        raise UsageError(f"--image_size={image_size}: expected a whole number of at "
                         f"least {MIN_IMAGE_SIZE} pixels")
    base = 32 if name == "convnet" else 64
    if not (isinstance(width, numbers.Real) and round(base * width) >= 1):
        raise UsageError(f"--width={width}: expected a channel multiplier of at least "
                         f"{1 / base:g} (the {name} has {base} channels at width 1)")


def image_encoder(name, image_size=32, channels=3, stem=None, width=1.0):
    """Builds an image encoder by name (``--encoder``).

    ``stem`` defaults to ``cifar`` below 64 px and ``imagenet`` from 64 px on.
    """
    check_image_encoder(name, image_size, width)
    if name == "convnet":
        return convnet(image_size, channels, width=int(round(32 * width)))
    stem = stem or ("cifar" if image_size < 64 else "imagenet")  # a ResNet (checked above)
    return resnet(int(name[6:]), image_size, channels, stem=stem, width=width)
