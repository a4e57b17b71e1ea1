import numpy as np
import pytest
import tensorflow as tf

from suite_helpers import assert_replica_gradients_match, per_replica_outputs
from tfssl.losses import NTXent, ntxent_accuracy, ntxent_loss_and_accuracy


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
    assert_replica_gradients_match(strategy, loss, z1, z2)



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
    assert count_ops(graph, ("MatMul", "BatchMatMulV2")) == 1


def count_ops(graph, types):
    """Ops of ``types`` in ``graph`` and in the functions it calls (while-loop bodies)."""
    graph_def = graph.as_graph_def()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return sum(n.op in types for n in nodes)


def reference_per_image(z1, z2, t):
    """The plain dense formula in float64, for TensorFlow's autodiff: ``(N,)``."""
    z = tf.math.l2_normalize(tf.concat([z1, z2], 0), axis=-1)
    m = tf.shape(z)[0]
    n = m // 2
    sim = tf.matmul(z, z, transpose_b=True) / t
    sim = tf.where(tf.eye(m, dtype=tf.bool), tf.constant(-np.inf, sim.dtype), sim)
    log_p = tf.nn.log_softmax(sim, axis=-1)
    pos = tf.concat([tf.range(n) + n, tf.range(n)], 0)
    per_anchor = -tf.gather(log_p, pos, batch_dims=1)
    return 0.5 * (per_anchor[:n] + per_anchor[n:])


def reference_grads(z1, z2, weights, t):
    """Gradients of ``sum(weights * per-image loss)`` w.r.t. ``z1``, ``z2`` (float64)."""
    z1, z2 = tf.constant(z1, tf.float64), tf.constant(z2, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([z1, z2])
        value = tf.reduce_sum(weights * reference_per_image(z1, z2, t))
    return [g.numpy() for g in tape.gradient(value, [z1, z2])]


def weighted_grads(z1, z2, weights, t):
    z1, z2 = tf.convert_to_tensor(z1), tf.convert_to_tensor(z2)
    with tf.GradientTape() as tape:
        tape.watch([z1, z2])
        value = tf.reduce_sum(weights * NTXent(t, reduction=None)(z1, z2))
    return tape.gradient(value, [z1, z2])


@pytest.fixture(params=[None, 8, 40], ids=["one_block", "one_row_blocks", "short_last_block"])
def block_elements(request, monkeypatch):
    """The default block size (one block per view in these small tests), blocks of one
    anchor, or of a few with a shorter last block, so the loop itself is exercised."""
    from tfssl.losses import ntxent

    if request.param is not None:
        monkeypatch.setattr(ntxent, "_BLOCK_ELEMENTS", request.param)
    return request.param


@pytest.mark.parametrize("n,d,t", [(5, 8, 0.5), (7, 3, 0.1), (6, 16, 0.01)])
def test_gradient_matches_autodiff_of_reference(n, d, t, block_elements):
    """The analytic gradient (0.01: the dense path) == autodiff of the plain formula,
    with uneven per-image weights so the upstream gradient is not uniform."""
    rng = np.random.default_rng(10 * n + d)
    z1, z2 = rng.normal(size=(2, n, d)).astype("float32")
    z2[0] = z1[0] * 3.0  # a pair at cosine 1, and a duplicate embedding
    z1[1] = z1[2]
    weights = rng.uniform(-0.5, 2.0, size=n)
    values = NTXent(t, reduction=None)(z1, z2).numpy()
    np.testing.assert_allclose(values, reference_per_image(
        tf.constant(z1, tf.float64), tf.constant(z2, tf.float64), t).numpy(), rtol=1e-4,
        atol=1e-5)
    got = weighted_grads(z1, z2, weights.astype("float32"), t)
    want = reference_grads(z1, z2, weights, t)
    for g, w in zip(got, want):
        assert g.dtype == tf.float32
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-3, atol=2e-5 * np.abs(w).max())


def test_gradient_in_graph_and_under_xla_matches_eager(block_elements):
    rng = np.random.default_rng(11)
    z1, z2 = rng.normal(size=(2, 9, 5)).astype("float32")
    weights = rng.uniform(size=9).astype("float32")
    want = reference_grads(z1, z2, weights, 0.2)
    for jit in (False, True):  # XLA: the dense path, differentiated by TensorFlow
        got = tf.function(lambda a, b: weighted_grads(a, b, weights, 0.2),
                          jit_compile=jit)(z1, z2)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-3, atol=1e-6)


def test_uneven_replica_gradients_match_one_device(cpu_strategy, block_elements):
    """3 + 2 images on two replicas: each replica's gradient w.r.t. its own rows (through
    the all-gather of candidates) equals the one-device gradient of the global loss."""
    rng = np.random.default_rng(12)
    z1, z2 = rng.normal(size=(2, 5, 6)).astype("float32")
    weights = rng.uniform(0.1, 2.0, size=5).astype("float32")

    def fn(a, b, w):
        g1, g2 = weighted_grads(a, b, w, 0.3)
        return tf.concat([g1, g2], axis=1)

    parts = per_replica_outputs(cpu_strategy, fn, z1, z2, weights)
    assert [len(p) for p in parts] == [3, 2]
    want = np.concatenate(reference_grads(z1, z2, weights.astype("float64"), 0.3), axis=1)
    np.testing.assert_allclose(np.concatenate(parts), want, rtol=1e-3, atol=1e-6)


def test_bfloat16_inputs_give_float32_loss_and_gradients_of_input_dtype():
    rng = np.random.default_rng(13)
    z1, z2 = (tf.cast(x, tf.bfloat16) for x in rng.normal(size=(2, 6, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch([z1, z2])
        per_image, accuracy = ntxent_loss_and_accuracy(z1, z2, 0.5)
        value = tf.reduce_mean(per_image)
    assert per_image.dtype == tf.float32 and accuracy.dtype == tf.float32
    assert NTXent(0.5)(z1, z2).dtype == tf.float32
    g1, g2 = tape.gradient(value, [z1, z2])
    assert g1.dtype == tf.bfloat16 and g2.dtype == tf.bfloat16
    want = reference_per_image(tf.cast(z1, tf.float64), tf.cast(z2, tf.float64), 0.5)
    np.testing.assert_allclose(per_image.numpy(), want.numpy(), rtol=1e-5)


def test_accuracy_ties_and_blocks_agree_with_dense_argmax(block_elements):
    """The blocked accuracy is the dense logits' argmax (first maximum on ties)."""
    from tfssl.losses import ntxent_logits

    rng = np.random.default_rng(14)
    z1 = rng.normal(size=(7, 3)).astype("float32")
    z2 = z1 + rng.normal(scale=0.3, size=z1.shape).astype("float32")
    z2[3] = z2[4]  # ties between candidates
    z1[5] = z2[5] = z1[6] = z2[6]  # ... and with the positive
    for t in (0.5, 0.1):
        logits, labels = ntxent_logits(z1, z2, t)
        dense = np.mean(np.argmax(logits.numpy(), axis=1) == labels.numpy())
        assert float(ntxent_loss_and_accuracy(z1, z2, t)[1]) == pytest.approx(dense)
        assert float(ntxent_accuracy(z1, z2, t)) == pytest.approx(dense)


def test_uneven_replica_accuracy_matches_one_device(cpu_strategy, block_elements):
    """Each replica ranks its anchors against the gathered candidates (3 + 2 images)."""
    rng = np.random.default_rng(15)
    z1 = rng.normal(size=(5, 4)).astype("float32")
    z2 = z1 + rng.normal(scale=0.8, size=z1.shape).astype("float32")
    one_device = float(ntxent_accuracy(z1, z2, 0.5))
    assert 0.0 < one_device < 1.0
    parts = per_replica_outputs(cpu_strategy,
                                lambda a, b: ntxent_loss_and_accuracy(a, b, 0.5)[1], z1, z2)
    # Replica means weighted by their 3 and 2 images.
    assert (3 * parts[0] + 2 * parts[1]) / 5 == pytest.approx(one_device)
