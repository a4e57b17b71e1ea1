"""Self-supervised methods: one keras.Model subclass per method."""

from tfssl.methods.simclr import SimCLR  # noqa: F401
