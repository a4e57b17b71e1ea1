"""tfssl.optimizers."""

from tfssl.optimizers.factory import (  # noqa: F401
    OPTIMIZERS, build_before_fit, build_optimizer)
from tfssl.optimizers.lars import LARS  # noqa: F401
from tfssl.optimizers.schedules import scale_learning_rate, warmup_cosine  # noqa: F401
