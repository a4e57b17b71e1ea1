"""tf.distribute helpers: the only place that knows about replicas."""

from tfssl.distribute.replicas import (  # noqa: F401
    across_workers, all_gather, all_reduce_sum, barrier, gather_offset, num_replicas,
    replica_id, scale_loss, sync_batch_norm, unscale_loss)
from tfssl.distribute.strategy import (  # noqa: F401
    default_jit_compile, distributed_dataset, is_chief, make_strategy, split_cpu)
