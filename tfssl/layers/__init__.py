"""Projection and prediction heads."""

from tfssl.layers.heads import ProjectionHead  # noqa: F401
