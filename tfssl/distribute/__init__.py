"""tf.distribute helpers: the only place that knows about replicas."""

from tfssl.distribute.replicas import (  # noqa: F401
    all_gather, all_reduce_sum, num_replicas, replica_id, scale_loss, unscale_loss)
from tfssl.distribute.strategy import default_jit_compile, make_strategy  # noqa: F401
