"""Everything that knows about replicas: counts, ids, cross-replica gathers, loss scaling.

These functions work in every context: with no strategy (or the default one) they are
identities, inside ``strategy.run`` they talk to the other replicas.
"""

import tensorflow as tf


def num_replicas():
    """Replicas in sync for the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    """This replica's index in its sync group, as an int32 tensor (0 outside a strategy)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context
        return tf.constant(0, tf.int32)
    rid = ctx.replica_id_in_sync_group
    return tf.cast(rid, tf.int32)


def across_workers(strategy=None):
    """Whether ``strategy`` (default: the current one) spans several worker processes.

    The condition Keras's trainer uses to choose its cross-worker reductions.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def barrier(strategy):
    """Returns when every worker of ``strategy`` has reached it (a one-number all-reduce);
    a no-op unless the strategy spans several workers."""
    if across_workers(strategy):
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)


def sync_batch_norm(synchronized=None):
    """Whether a batch norm built now synchronises its statistics across replicas.

    ``synchronized`` when given; by default True exactly when more than one replica is
    in sync (the layer is built under such a strategy's scope), so that N replicas
    normalise by the statistics of the global batch, as one device does.
    """
    if synchronized is None:
        return num_replicas() > 1
    return bool(synchronized)


def gathers():
    """Whether :func:`all_gather` here talks to other replicas (False: it is the identity).

    True exactly inside a replica context of a strategy with more than one replica in sync.
    """
    ctx = tf.distribute.get_replica_context()
    return ctx is not None and ctx.num_replicas_in_sync > 1


def all_gather(x, axis=0):
    """Concatenates ``x`` from every replica along ``axis``, in replica order.

    Differentiable: the gradient w.r.t. the local ``x`` is the matching slice of the
    gradient w.r.t. the gathered tensor, summed over replicas. With one replica (or in a
    cross-replica context, see :func:`gathers`) this is the identity.
    """
    if not gathers():
        return x
    return tf.distribute.get_replica_context().all_gather(x, axis=axis)


def gather_offset(n):
    """Row of :func:`all_gather`'s result where this replica's ``n`` rows start.

    The sum of the row counts of the replicas before this one, so it is right also when
    replicas hold different batch sizes (0 with one replica).
    """
    if num_replicas() == 1:
        return tf.constant(0, tf.int32)
    sizes = all_gather(tf.reshape(tf.cast(n, tf.int32), [1]))
    return tf.reduce_sum(sizes[:replica_id()])


def all_reduce_sum(x):
    """Sum of ``x`` over every replica (the identity with one replica)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def scale_loss(loss):
    """Divides a per-replica mean loss by the replica count (gradients are summed)."""
    n = num_replicas()
    return loss if n == 1 else loss / tf.cast(n, loss.dtype)


def unscale_loss(loss):
    """Inverse of :func:`scale_loss`, for logging the per-replica mean."""
    n = num_replicas()
    return loss if n == 1 else loss * tf.cast(n, loss.dtype)
