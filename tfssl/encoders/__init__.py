"""Backbones as functional keras.Model."""

from tfssl.encoders.resnet import IMAGE_ENCODERS, convnet, image_encoder, resnet  # noqa: F401
