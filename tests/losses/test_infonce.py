import numpy as np
import pytest
import tensorflow as tf

from suite_helpers import assert_replica_gradients_match, per_replica_outputs
from tfssl.errors import UsageError
from tfssl.losses.infonce import InfoNCE, infonce_logits, infonce_queue_loss


def _unit(x):
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _nll(logits, label):
    m = logits.max()
    return m + np.log(np.exp(logits - m).sum()) - logits[label]


def numpy_queue_infonce(q, k, queue, t):
    """Reference: He et al. 2020, eq. 1, one positive and K queued negatives per query."""
    q, k = _unit(q), _unit(k)
    out = []
    for i in range(len(q)):
        logits = np.array([q[i] @ k[i]] + [q[i] @ neg for neg in queue.astype(np.float64)])
        out.append(_nll(logits / t, 0))
    return np.array(out)


def numpy_batch_infonce(q, k, t):
    """Reference: MoCo v3 (Chen, Xie & He 2021, eq. 1), keys of the batch as candidates."""
    q, k = _unit(q), _unit(k)
    return np.array([_nll(q[i] @ k.T / t, i) for i in range(len(q))])


@pytest.mark.parametrize("n,d,kq,t", [(2, 3, 4, 0.2), (5, 8, 16, 0.07), (16, 4, 1, 1.0),
                                      (3, 6, 0, 0.5)])
def test_queue_matches_numpy_reference(n, d, kq, t):
    rng = np.random.default_rng(n * d + kq)
    q, k = rng.normal(size=(2, n, d)).astype("float32")
    queue = _unit(rng.normal(size=(kq, d))).astype("float32")
    logits, labels = infonce_logits(q, k, queue, t)
    assert logits.shape == (n, 1 + kq) and logits.dtype == tf.float32
    np.testing.assert_array_equal(labels.numpy(), np.zeros(n))
    per = infonce_queue_loss(q, k, queue, t)
    assert per.shape == (n,)
    np.testing.assert_allclose(per.numpy(), numpy_queue_infonce(q, k, queue, t),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n,d,t", [(2, 3, 0.2), (5, 8, 0.07), (16, 4, 1.0)])
def test_in_batch_matches_numpy_reference(n, d, t):
    rng = np.random.default_rng(n * d)
    q, k = rng.normal(size=(2, n, d)).astype("float32")
    ref = numpy_batch_infonce(q, k, t)
    per = InfoNCE(t, reduction="none")(k, q)  # y_true = keys, y_pred = queries
    assert per.shape == (n,)
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(InfoNCE(t)(k, q)), ref.mean(), rtol=1e-5)


def test_known_values():
    n, d, t = 4, 6, 0.5
    eye = np.eye(n, d, dtype="float32")
    # Same vector everywhere: all candidates tie.
    same = np.ones((n, d), "float32")
    np.testing.assert_allclose(float(InfoNCE(t)(same, same)), np.log(n), rtol=1e-6)
    np.testing.assert_allclose(infonce_queue_loss(same, same, _unit(same), t).numpy(),
                               np.full(n, np.log(1 + n)), rtol=1e-6)
    # Orthonormal pairs at low temperature: no loss in the batch.
    assert float(InfoNCE(0.05)(eye, eye)) < 1e-6
    # Positive cosine 1, queued negatives orthogonal to every query: log(1 + K e^{-1/t}).
    queue = np.eye(d, dtype="float32")[n:]  # K = d - n
    np.testing.assert_allclose(infonce_queue_loss(eye, eye, queue, t).numpy(),
                               np.full(n, np.log(1 + (d - n) * np.exp(-1 / t))), rtol=1e-6)


def test_scale_invariant_and_float32_under_bfloat16():
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(2, 8, 8)).astype("float32")
    queue = _unit(rng.normal(size=(5, 8))).astype("float32")
    ref = float(InfoNCE()(k, q))
    np.testing.assert_allclose(float(InfoNCE()(k * 0.1, q * 7)), ref, rtol=1e-4)
    out = InfoNCE()(tf.cast(k, tf.bfloat16), tf.cast(q, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=3e-2)
    ref_q = infonce_queue_loss(q, k, queue, 0.2).numpy()
    out_q = infonce_queue_loss(*(tf.cast(x, tf.bfloat16) for x in (q, k, queue)), 0.2)
    assert out_q.dtype == tf.float32
    np.testing.assert_allclose(out_q.numpy(), ref_q, rtol=5e-2, atol=5e-2)


def test_config_round_trip_and_validation():
    loss = InfoNCE(temperature=0.1, name="moco")
    again = InfoNCE.from_config(loss.get_config())
    assert (again.temperature, again.name) == (0.1, "moco")
    for bad in [0.0, -1.0, float("nan"), "warm"]:
        with pytest.raises(UsageError, match="^temperature="):
            InfoNCE(temperature=bad)
    z = np.ones((2, 3), "float32")
    with pytest.raises(UsageError, match="temperature=0.0: must be"):
        infonce_queue_loss(z, z, z, 0.0)


def test_keys_gathered_across_replicas(cpu_strategy):
    """Two replicas of N/2 each give the one-device loss and gradients of the global batch."""
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(2, 8, 5)).astype("float32")
    strategy = cpu_strategy
    loss = InfoNCE(0.5)
    ds = tf.data.Dataset.from_tensor_slices((k, q)).batch(8)
    a, b = next(iter(strategy.experimental_distribute_dataset(ds)))
    per_replica = strategy.run(tf.function(lambda x, y: loss(x, y)), args=(a, b))
    total = strategy.reduce("SUM", per_replica, axis=None)
    # Keras divides each replica's mean by the replica count, so the sum is the mean.
    np.testing.assert_allclose(float(total), numpy_batch_infonce(q, k, 0.5).mean(),
                               rtol=1e-5)
    assert_replica_gradients_match(strategy, loss, k, q)



def test_uneven_replica_batches_match_one_device(cpu_strategy):
    """A global batch of 5 on two replicas (3 + 2): each query's own key is its label."""
    rng = np.random.default_rng(6)
    q, k = rng.normal(size=(2, 5, 4)).astype("float32")
    loss = InfoNCE(0.5, reduction=None)
    parts = per_replica_outputs(cpu_strategy, lambda x, y: loss(x, y), k, q)
    assert [len(p) for p in parts] == [3, 2]
    np.testing.assert_allclose(np.concatenate(parts), numpy_batch_infonce(q, k, 0.5),
                               rtol=1e-5)
