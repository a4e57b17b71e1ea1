"""tfssl.optimizers."""

from tfssl.optimizers.factory import OPTIMIZERS, build_optimizer  # noqa: F401
from tfssl.optimizers.lars import LARS  # noqa: F401
from tfssl.optimizers.schedules import scale_learning_rate, warmup_cosine  # noqa: F401
