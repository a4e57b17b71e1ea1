"""Clustering for DeepCluster-style methods: PCA-whitening, k-means, NMI, balanced weights."""

from tfssl.cluster.kmeans import (  # noqa: F401
    KMeansResult, PCAWhitening, balanced_sample_weights, cluster_features, kmeans, nmi,
    pca_whiten)
