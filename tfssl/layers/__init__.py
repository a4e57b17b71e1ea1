"""Projection and prediction heads, and the fused batch norm and convolution that they and
the encoders use."""

from tfssl.layers.convolution import Conv2D  # noqa: F401
from tfssl.layers.heads import ProjectionHead  # noqa: F401
from tfssl.layers.normalization import BatchNormalization  # noqa: F401
