"""Optimizer factory: a name, a peak learning rate and a step budget -> Keras optimizer."""

import keras

from tfssl.errors import UsageError
from tfssl.optimizers.lars import LARS
from tfssl.optimizers.schedules import warmup_cosine

OPTIMIZERS = ("adam", "adamw", "sgd", "lars")


def build_optimizer(name, learning_rate, total_steps, warmup_steps=0, weight_decay=None,
                    momentum=0.9):
    """Builds an optimizer with a warm-up + cosine learning-rate schedule.

    Args:
      name: one of ``adam``, ``adamw``, ``sgd``, ``lars`` (case-insensitive).
      learning_rate: peak learning rate.
      total_steps: total training steps; None keeps the learning rate constant.
      warmup_steps: linear warm-up steps.
      weight_decay: None uses each optimizer's default (adam, sgd: none; adamw: Keras'
        default; lars: 1e-6 as in SimCLR). Decoupled for adam/adamw/sgd, added to the
        gradient for lars.
      momentum: momentum for sgd and lars.

    Returns:
      A ``keras.optimizers.Optimizer``.

    Raises:
      UsageError: unknown ``name``.
    """
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise UsageError(
            f"--optimizer: unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    lr = float(learning_rate) if total_steps is None else warmup_cosine(
        learning_rate, total_steps, warmup_steps)
    if key == "adam":
        return keras.optimizers.Adam(lr, weight_decay=weight_decay)
    if key == "adamw":
        if weight_decay is None:
            return keras.optimizers.AdamW(lr)
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay)
    if key == "sgd":
        return keras.optimizers.SGD(lr, momentum=float(momentum), weight_decay=weight_decay)
    return LARS(lr, momentum=float(momentum),
                weight_decay=1e-6 if weight_decay is None else weight_decay)
