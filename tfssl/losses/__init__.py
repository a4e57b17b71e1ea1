"""Keras losses, one per file."""

from tfssl.losses.ntxent import NTXent, ntxent_accuracy, ntxent_logits  # noqa: F401
