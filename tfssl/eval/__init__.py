"""Representation quality: kNN, linear probe, fine-tuning, callbacks."""

from tfssl.eval.callbacks import KNNMonitor  # noqa: F401
from tfssl.eval.features import extract_features, float32_copy  # noqa: F401
from tfssl.eval.knn import evaluate_knn, knn_accuracy, knn_predict  # noqa: F401
from tfssl.eval.linear import evaluate_linear, linear_probe, linear_probe_accuracy  # noqa: F401
from tfssl.eval.run import evaluate_run  # noqa: F401
