"""tf.distribute helpers: the only place that knows about replicas."""

from tfssl.distribute.replicas import (  # noqa: F401
    all_gather, all_reduce_sum, gather_offset, num_replicas, replica_id, scale_loss,
    sync_batch_norm, unscale_loss)
from tfssl.distribute.strategy import (  # noqa: F401
    default_jit_compile, make_strategy, split_cpu)
