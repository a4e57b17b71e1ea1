"""Learning-rate schedules: linear warm-up then cosine decay, and SimCLR lr scaling."""

import math

import keras

from tfssl.errors import UsageError


def warmup_cosine(peak_lr, total_steps, warmup_steps=0, alpha=0.0):
    """Linear warm-up from 0 to ``peak_lr``, then cosine decay to ``alpha * peak_lr``.

    A thin wrapper over ``keras.optimizers.schedules.CosineDecay`` (its warm-up
    arguments), so the result serialises like any Keras schedule. The learning rate is
    0 at step 0, ``peak_lr`` at ``warmup_steps`` and ``alpha * peak_lr`` at
    ``total_steps`` (and after).

    Args:
      peak_lr: learning rate at the end of the warm-up.
      total_steps: total number of training steps, warm-up included (>= 1).
      warmup_steps: number of warm-up steps, in [0, total_steps).
      alpha: final learning rate as a fraction of ``peak_lr``.

    Returns:
      A ``keras.optimizers.schedules.CosineDecay``.
    """
    total_steps, warmup_steps = int(total_steps), int(warmup_steps)
    if total_steps < 1:
        raise UsageError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps < total_steps:
        raise UsageError(
            f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}")
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(
            float(peak_lr), decay_steps=total_steps, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total_steps - warmup_steps, alpha=alpha,
        warmup_target=float(peak_lr), warmup_steps=warmup_steps)


def scale_learning_rate(base_lr, batch_size, scaling="linear"):
    """SimCLR learning-rate scaling with the (global) batch size.

    Args:
      base_lr: learning rate for the reference batch size.
      batch_size: global batch size.
      scaling: ``"linear"``: ``base_lr * batch_size / 256``; ``"sqrt"``:
        ``base_lr * sqrt(batch_size)``.

    Returns:
      The scaled learning rate (float).
    """
    if scaling == "linear":
        return base_lr * batch_size / 256.0
    if scaling == "sqrt":
        return base_lr * math.sqrt(batch_size)
    raise UsageError(f"learning-rate scaling must be one of linear, sqrt; got {scaling!r}")
