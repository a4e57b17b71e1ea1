import keras
import numpy as np
import pytest

from tfssl.data import from_arrays
from tfssl.eval import KNNMonitor, knn_accuracy, knn_predict, linear_probe_accuracy


def numpy_knn(train, labels, query, k, t, classes):
    tn = train / np.linalg.norm(train, axis=1, keepdims=True)
    qn = query / np.linalg.norm(query, axis=1, keepdims=True)
    sim = qn @ tn.T
    out = np.zeros((len(query), classes))
    for i, row in enumerate(sim):
        top = np.argsort(-row)[:k]
        for j in top:
            out[i, labels[j]] += np.exp(row[j] / t)
    return out


def test_knn_matches_numpy_reference():
    rng = np.random.default_rng(0)
    train, query = rng.normal(size=(50, 6)), rng.normal(size=(9, 6))
    labels = rng.integers(0, 4, 50)
    got = knn_predict(train, labels, query, 4, k=7, temperature=0.1, batch_size=4)
    np.testing.assert_allclose(got, numpy_knn(train, labels, query, 7, 0.1, 4), rtol=1e-4)


def test_knn_and_linear_probe_on_separable_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 10)) * 5
    y = rng.integers(0, 3, 300)
    x = centres[y] + rng.normal(size=(300, 10))
    assert knn_accuracy(x[:200], y[:200], x[200:], y[200:], k=5) > 0.95
    assert linear_probe_accuracy(x[:200], y[:200], x[200:], y[200:], epochs=30) > 0.95
    # Labels unrelated to the features: chance level.
    noise = rng.integers(0, 3, 300)
    assert knn_accuracy(x[:200], noise[:200], x[200:], noise[200:], k=5) < 0.6


def test_knn_monitor_logs_every_n_epochs():
    rng = np.random.default_rng(2)
    data = from_arrays(rng.uniform(size=(20, 8, 8, 1)), labels=np.arange(20) % 2)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(4)])
    model.encoder = model  # KNNMonitor reads model.encoder
    model.compile(optimizer="sgd", loss="mse")
    monitor = KNNMonitor(data, data, every=2, k=3)
    hist = model.fit(rng.uniform(size=(8, 8, 8, 1)), rng.uniform(size=(8, 4)), epochs=3,
                     verbose=0, callbacks=[monitor])
    assert sorted(monitor.history) == [1, 2]  # epoch 2 and the last epoch
    assert pytest.approx(hist.history["knn_top1"][-1]) == monitor.history[2]


def test_float32_copy_of_a_reloaded_bfloat16_encoder(tmp_path):
    """A .keras encoder saved from a mixed_bfloat16 run reloads with a float32 top level
    and bfloat16 layers: evaluation must still run it in float32 (it did not)."""
    from tfssl.encoders import image_encoder
    from tfssl.eval import float32_copy

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        encoder = image_encoder("convnet", 8, 1, width=0.25)
    finally:
        keras.config.set_dtype_policy("float32")
    encoder.save(tmp_path / "encoder.keras")
    reloaded = keras.saving.load_model(tmp_path / "encoder.keras")
    copy = float32_copy(reloaded)
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(copy(x), float32_copy(encoder)(x), rtol=1e-5, atol=1e-6)


def test_knn_holds_a_bounded_number_of_similarities(monkeypatch):
    """Queries are cut into fewer per chunk as the memory bank grows; the votes are the
    same."""
    from tfssl.eval import knn

    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(300, 8)), rng.normal(size=(50, 8))
    labels = rng.integers(0, 4, 300)
    whole = knn.knn_predict(bank, labels, queries, 4, k=5)
    monkeypatch.setattr(knn, "MAX_SIMILARITIES", 300 * 7)  # 7 queries at a time
    chunked = knn.knn_predict(bank, labels, queries, 4, k=5)
    np.testing.assert_allclose(chunked, whole, rtol=2e-5)  # exp(sim / 0.07) magnifies
    np.testing.assert_array_equal(chunked.argmax(1), whole.argmax(1))
