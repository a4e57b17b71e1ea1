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
    return [t.numpy() for t in strategy.experimental_local_results(per_replica)]
