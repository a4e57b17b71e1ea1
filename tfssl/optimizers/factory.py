"""Optimizer factory: a name, a peak learning rate and a step budget -> Keras optimizer."""

import keras

from tfssl.errors import UsageError
from tfssl.optimizers.lars import LARS
from tfssl.optimizers.schedules import warmup_cosine

OPTIMIZERS = ("adam", "adamw", "sgd", "lars")


def build_optimizer(name, learning_rate, total_steps, warmup_steps=0, weight_decay=None,
                    momentum=0.9, exclude_from_weight_decay=None):
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
      exclude_from_weight_decay: variable-name substrings that get no decoupled weight
        decay (adam, adamw, sgd), e.g. ``["bias", "gamma", "beta"]`` for transformers;
        LARS has its own ``exclude_from_weight_decay`` patterns.

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
    if key == "lars":
        return LARS(lr, momentum=float(momentum),
                    weight_decay=1e-6 if weight_decay is None else weight_decay)
    if key == "adam":
        opt = keras.optimizers.Adam(lr, weight_decay=weight_decay)
    elif key == "adamw":
        opt = (keras.optimizers.AdamW(lr) if weight_decay is None
               else keras.optimizers.AdamW(lr, weight_decay=weight_decay))
    else:
        opt = keras.optimizers.SGD(lr, momentum=float(momentum), weight_decay=weight_decay)
    if exclude_from_weight_decay:
        opt.exclude_from_weight_decay(var_names=list(exclude_from_weight_decay))
    return opt


def build_before_fit(model, variables=None):
    """Builds ``model.optimizer`` on ``variables`` (default: the trainable ones) now.

    Keras builds it inside the first trace of the train step when no strategy scope
    is set; ``tf.function`` then traces the whole step a second time (variables
    created in a trace), which costs seconds per ``fit`` for a BERT step. Call after
    ``compile`` and once every layer is built. A built optimizer is left as it is.
    """
    optimizer = model.optimizer
    if optimizer is not None and not optimizer.built:
        with model.distribute_strategy.scope():
            optimizer.build(model.trainable_variables if variables is None else variables)
