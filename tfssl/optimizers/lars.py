"""LARS: layer-wise adaptive rate scaling (You et al. 2017), as used by SimCLR."""

import re

import keras
from keras import ops

DEFAULT_EXCLUDE = ("batch_normalization", "bias")


@keras.saving.register_keras_serializable(package="tfssl")
class LARS(keras.optimizers.Optimizer):
    """SGD with momentum and a per-variable trust ratio.

    For each variable ``w`` with gradient ``g``:

    ```
    g = g + weight_decay * w                  # unless excluded from weight decay
    trust = eta * ||w|| / ||g||               # 1 if a norm is 0 or w is excluded
    v = momentum * v + learning_rate * trust * g
    w = w - v                                 # nesterov: w - (momentum * v + lr * trust * g)
    ```

    Weight decay is coupled into the gradient before the trust ratio (as in SimCLR),
    not the decoupled decay of the Keras base class. Which variables are excluded is
    decided by the variable itself: with ``exclude_vectors`` (the default) every variable
    of rank 0 or 1 -- biases, batch-norm and layer-norm scales and offsets, whatever
    their layers are called -- gets neither weight decay nor the trust ratio, as SimCLR
    excludes batch norm and biases. Exclusion patterns add variables by path (regular
    expressions searched in ``variable.path``, e.g. ``"dense/bias"``).

    Args:
      learning_rate: float, or a ``keras.optimizers.schedules.LearningRateSchedule``.
      momentum: momentum in [0, 1].
      weight_decay: L2 coefficient added to the gradient; None or 0 for none.
      eta: trust coefficient.
      nesterov: use Nesterov momentum.
      exclude_from_weight_decay: path patterns of variables without weight decay.
      exclude_from_layer_adaptation: path patterns of variables without the trust
        ratio; None uses ``exclude_from_weight_decay``.
      exclude_vectors: exclude every variable of rank <= 1 from both.
      **kwargs: other ``keras.optimizers.Optimizer`` arguments (``name``, ``clipnorm``, ...).

    Example:
      ``model.compile(optimizer=LARS(0.3, weight_decay=1e-6), loss=...)``

    References:
      You, Gitman, Ginsburg. Large Batch Training of Convolutional Networks. 2017.
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, weight_decay=None, eta=0.001,
                 nesterov=False, exclude_from_weight_decay=DEFAULT_EXCLUDE,
                 exclude_from_layer_adaptation=None, exclude_vectors=True, name="lars",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"LARS: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.weight_decay = weight_decay
        self.eta = float(eta)
        self.nesterov = bool(nesterov)
        self.exclude_vectors = bool(exclude_vectors)
        self.exclude_from_weight_decay_patterns = list(exclude_from_weight_decay or ())
        self.exclude_from_layer_adaptation_patterns = (
            None if exclude_from_layer_adaptation is None
            else list(exclude_from_layer_adaptation))

    def _apply_weight_decay(self, variables):
        # The base class would apply decoupled decay; LARS adds it to the gradient.
        return

    def _matches(self, variable, patterns):
        if self.exclude_vectors and len(variable.shape) <= 1:
            return True
        path = getattr(variable, "path", None) or variable.name
        return any(re.search(p, path) for p in patterns)

    def _uses_weight_decay(self, variable):
        return bool(self.weight_decay) and not self._matches(
            variable, self.exclude_from_weight_decay_patterns)

    def _uses_layer_adaptation(self, variable):
        patterns = self.exclude_from_layer_adaptation_patterns
        if patterns is None:
            patterns = self.exclude_from_weight_decay_patterns
        return not self._matches(variable, patterns)

    def build(self, variables):
        """Creates one momentum slot per variable."""
        if self.built:
            return
        super().build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        """Applies one LARS step to ``variable``."""
        lr = ops.cast(learning_rate, variable.dtype)
        grad = ops.cast(gradient, variable.dtype)
        if self._uses_weight_decay(variable):
            grad = grad + ops.cast(self.weight_decay, variable.dtype) * variable
        if self._uses_layer_adaptation(variable):
            w_norm = ops.norm(ops.reshape(variable, [-1]))
            g_norm = ops.norm(ops.reshape(grad, [-1]))
            trust = ops.where(
                ops.logical_and(w_norm > 0, g_norm > 0),
                self.eta * w_norm / ops.maximum(g_norm, 1e-30),
                ops.ones_like(w_norm))
            lr = lr * trust
        m = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(m, momentum * m + lr * grad)
        if self.nesterov:
            self.assign_sub(variable, momentum * m + lr * grad)
        else:
            self.assign_sub(variable, m)

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "eta": self.eta,
            "nesterov": self.nesterov,
            "exclude_vectors": self.exclude_vectors,
            "exclude_from_weight_decay": list(self.exclude_from_weight_decay_patterns),
            "exclude_from_layer_adaptation": self.exclude_from_layer_adaptation_patterns,
        })
        return config
