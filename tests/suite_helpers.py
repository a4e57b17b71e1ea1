"""Plain helpers shared by test files in several folders (imported as ``suite_helpers``:
``tests/`` is on the path through its conftest; a helper in ``conftest`` itself would be
ambiguous, as ``tests/zoo`` has a conftest of its own)."""

import contextlib

import pytest


@contextlib.contextmanager
def raises_one_line_usage_error(*needles):
    """The block raises the ``UsageError`` a command line prints as its one error line
    (exit 2): each of ``needles`` in its message, and no line break. For the refusals that
    are checked in the test process through the one library call the command line makes."""
    from tfssl.errors import UsageError

    with pytest.raises(UsageError) as err:
        yield err
    message = str(err.value)
    assert all(n in message for n in needles) and "\n" not in message, message


def per_replica_outputs(strategy, fn, *arrays):
    """``fn`` on one global batch of ``arrays`` split over ``strategy``'s replicas; the
    replicas' outputs as NumPy arrays, in replica order."""
    import tensorflow as tf

    dist = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(arrays).batch(len(arrays[0])))
    per_replica = strategy.run(tf.function(fn), args=next(iter(dist)))
    return [tf.nest.map_structure(lambda t: t.numpy(), out)
            for out in strategy.experimental_local_results(per_replica)]


def assert_replica_gradients_match(strategy, loss, x, y, scale_loss=False):
    """The gradients of ``loss(x, y)`` with respect to both inputs, with one global batch
    of ``x, y`` split over ``strategy``'s replicas and the replicas' rows put back in
    order, equal the one-device gradients of the whole batch.

    ``scale_loss``: the loss is a global-batch scalar held by every replica (Barlow
    Twins, VICReg); gradients are summed over replicas (the gather's gradient included),
    so each replica differentiates that value divided by the replica count
    (:func:`tfssl.distribute.replicas.scale_loss`). Without it the loss is Keras'
    per-replica mean, already divided by the replica count.
    """
    import numpy as np
    import tensorflow as tf

    from tfssl.distribute import replicas

    def grads(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            value = loss(a, b)
            if scale_loss:
                value = replicas.scale_loss(value)
        return tape.gradient(value, [a, b])

    local = per_replica_outputs(strategy, grads, x, y)
    reference = grads(tf.constant(x), tf.constant(y))
    for i, ref in enumerate(reference):
        np.testing.assert_allclose(np.concatenate([g[i] for g in local]), ref.numpy(),
                                   rtol=1e-4, atol=1e-6)
