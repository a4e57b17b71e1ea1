import numpy as np
import pytest
import tensorflow as tf

from conftest import per_replica_outputs
from tfssl.losses import NTXent, ntxent_accuracy


def numpy_ntxent(z1, z2, t):
    """Reference: mean over 2N anchors of -log softmax(positive) excluding self."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    sim = z @ z.T / t
    losses = []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        others = [j for j in range(2 * n) if j != i]
        m = sim[i, others].max()
        lse = m + np.log(np.exp(sim[i, others] - m).sum())
        losses.append(lse - sim[i, pos])
    return np.mean(losses)


@pytest.mark.parametrize("n,d,t", [(2, 3, 0.5), (5, 8, 0.1), (16, 4, 1.0), (7, 32, 0.07)])
def test_matches_numpy_reference(n, d, t):
    rng = np.random.default_rng(n * d)
    z1, z2 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    got = NTXent(temperature=t)(z1.astype("float32"), z2.astype("float32"))
    np.testing.assert_allclose(float(got), numpy_ntxent(z1, z2, t), rtol=1e-4, atol=1e-5)


def test_symmetric():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(2, 6, 5)).astype("float32")
    loss = NTXent(0.3)
    np.testing.assert_allclose(float(loss(z1, z2)), float(loss(z2, z1)), rtol=1e-6)


def test_per_example_values_and_keras_reduction():
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(2, 4, 3)).astype("float32")
    per = NTXent(0.5, reduction="none")(z1, z2)
    assert per.shape == (4,)
    np.testing.assert_allclose(float(tf.reduce_mean(per)), float(NTXent(0.5)(z1, z2)),
                               rtol=1e-6)


def test_known_values():
    n = 6
    # Identical embeddings everywhere: every candidate ties -> log(2N - 1).
    same = np.ones((n, 4), "float32")
    np.testing.assert_allclose(float(NTXent(0.5)(same, same)), np.log(2 * n - 1), rtol=1e-5)
    # Perfectly aligned, well separated pairs (orthogonal one-hots) at low temperature.
    eye = np.eye(n, dtype="float32")
    assert float(NTXent(0.05)(eye, eye)) < 1e-6
    assert float(ntxent_accuracy(eye, eye)) == 1.0


def test_scale_invariant_and_float32_under_bfloat16():
    rng = np.random.default_rng(2)
    z1, z2 = rng.normal(size=(2, 8, 16)).astype("float32")
    ref = float(NTXent(0.2)(z1, z2))
    np.testing.assert_allclose(float(NTXent(0.2)(z1 * 7, z2 * 0.1)), ref, rtol=1e-4)
    out = NTXent(0.2)(tf.cast(z1, tf.bfloat16), tf.cast(z2, tf.bfloat16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), ref, rtol=2e-2)


def test_temperature_validated_and_config_round_trip():
    with pytest.raises(ValueError, match="temperature"):
        NTXent(temperature=0)
    loss = NTXent(temperature=0.25)
    again = NTXent.from_config(loss.get_config())
    assert again.temperature == 0.25


def test_xla_compiles():
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(2, 8, 16)).astype("float32")
    loss = NTXent(0.5)
    f = tf.function(lambda a, b: loss(a, b), jit_compile=True)
    np.testing.assert_allclose(float(f(z1, z2)), float(loss(z1, z2)), rtol=1e-5)


def test_gathers_negatives_across_replicas(cpu_strategy):
    """Two replicas of N/2 each must give the single-replica loss on the global batch."""
    rng = np.random.default_rng(4)
    z1, z2 = rng.normal(size=(2, 8, 5)).astype("float32")
    strategy = cpu_strategy
    loss = NTXent(0.5)
    ds = tf.data.Dataset.from_tensor_slices((z1, z2)).batch(8)
    dist = strategy.experimental_distribute_dataset(ds)
    a, b = next(iter(dist))
    per_replica = strategy.run(tf.function(lambda x, y: loss(x, y)), args=(a, b))
    total = strategy.reduce("SUM", per_replica, axis=None)
    # Keras divides each replica's mean by the replica count, so the sum is the mean.
    np.testing.assert_allclose(float(total), numpy_ntxent(z1, z2, 0.5), rtol=1e-4)
    grads_dist = strategy.run(tf.function(_grad_fn(loss)), args=(a, b))
    g1 = np.concatenate([t.numpy() for t in strategy.experimental_local_results(grads_dist)])
    g_ref = _grad_fn(loss)(tf.constant(z1), tf.constant(z2)).numpy()
    np.testing.assert_allclose(g1, g_ref, rtol=1e-4, atol=1e-6)


def _grad_fn(loss):
    def f(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x, y)
        return tape.gradient(value, x)
    return f


def test_uneven_replica_batches_match_one_device(cpu_strategy):
    """A global batch of 5 on two replicas (3 + 2): every anchor finds its own positive.

    Before the fix the positive's column was ``replica_id * n`` with the local ``n``, so
    the second replica's anchors pointed at the wrong rows (loss 3.870 vs 3.217).
    """
    rng = np.random.default_rng(5)
    z1, z2 = rng.normal(size=(2, 5, 6)).astype("float32")
    loss = NTXent(0.5, reduction=None)
    parts = per_replica_outputs(cpu_strategy, lambda x, y: loss(x, y), z1, z2)
    assert [len(p) for p in parts] == [3, 2]
    np.testing.assert_allclose(np.concatenate(parts), loss(z1, z2).numpy(), rtol=1e-5)
    # The mean over the global batch is the paper's loss.
    np.testing.assert_allclose(np.concatenate(parts).mean(), numpy_ntxent(z1, z2, 0.5),
                               rtol=1e-4)


def test_loss_and_accuracy_from_one_similarity_matrix():
    from tfssl.losses import ntxent_accuracy, ntxent_loss_and_accuracy

    rng = np.random.default_rng(7)
    z1, z2 = rng.normal(size=(2, 6, 4)).astype("float32")
    per_image, accuracy = ntxent_loss_and_accuracy(z1, z2, 0.3)
    np.testing.assert_allclose(per_image.numpy(), NTXent(0.3, reduction=None)(z1, z2).numpy(),
                               rtol=1e-6)
    assert float(accuracy) == pytest.approx(float(ntxent_accuracy(z1, z2, 0.3)))
    graph = tf.function(lambda a, b: ntxent_loss_and_accuracy(a, b, 0.3)).get_concrete_function(
        tf.TensorSpec((6, 4)), tf.TensorSpec((6, 4))).graph
    assert sum(op.type in ("MatMul", "BatchMatMulV2") for op in graph.get_operations()) == 1
