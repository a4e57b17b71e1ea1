"""DeepCluster: re-clustering stores pseudo-labels and balancing weights, re-initialises
the classifier, and logs NMI; the callback clusters the un-augmented images every N
epochs during ``fit``."""

import keras
import numpy as np

from tfssl.data import load_images, views_dataset
from tfssl.encoders import convnet
from tfssl.methods import DeepCluster


def _model(num_train, num_clusters=4, every=1):
    keras.utils.set_random_seed(0)
    return DeepCluster(convnet(image_size=8, channels=1, width=4, depth=2), num_train,
                       num_clusters=num_clusters, pca_dim=8, cluster_every=every)


def test_recluster_assigns_balances_and_reinitialises():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 10
    labels = np.repeat(np.arange(4), [30, 10, 10, 10])
    features = (centres[labels] + rng.normal(size=(60, 16))).astype("float32")
    model = _model(60)
    model.compile(optimizer="adam")
    kernel = model.classifier.kernel.numpy().copy()
    logs = model.recluster(features, labels)
    assert logs["nmi_labels"] > 0.95 and logs["clusters_used"] == 4
    assert "nmi_previous" not in logs  # nothing to compare with yet
    assigned = model.assignments.numpy()
    weights = model.sample_weights.numpy()
    np.testing.assert_allclose(weights.mean(), 1.0, rtol=1e-5)
    totals = [weights[assigned == c].sum() for c in range(4)]
    np.testing.assert_allclose(totals, totals[0], rtol=1e-5)  # every cluster counts equally
    assert not np.allclose(kernel, model.classifier.kernel.numpy())
    again = model.recluster(features, labels)
    assert again["nmi_previous"] > 0.95


def test_fit_clusters_every_n_epochs_and_logs():
    data = load_images("digits", image_size=8, split="train").subset(slice(0, 96))
    ds = views_dataset(data, 32, [dict(image_size=8, min_scale=0.5, color_jitter=0.0)],
                       seed=0, with_index=True)
    model = _model(len(data), every=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    from tfssl.methods.deepcluster import ClusterCallback

    hist = model.fit(ds, epochs=3, verbose=0, callbacks=[ClusterCallback(data, every=2)])
    h = hist.history
    # Clustered before epochs 1 and 3 (indices 0 and 2), not before epoch 2.
    assert "nmi_labels" in h and len(h["nmi_labels"]) == 2
    assert len(h["loss"]) == 3 and np.isfinite(h["loss"]).all()
    assert 0.0 <= h["pseudo_label_accuracy"][-1] <= 1.0
    assert set(np.unique(model.assignments.numpy())) <= set(range(4))
