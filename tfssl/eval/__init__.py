"""Representation quality: kNN, linear probe, fine-tuning, callbacks."""

from tfssl.eval.callbacks import KNNMonitor  # noqa: F401
from tfssl.eval.features import extract_features, float32_copy  # noqa: F401
from tfssl.eval.knn import evaluate_knn, knn_accuracy, knn_predict  # noqa: F401
from tfssl.eval.linear import evaluate_linear, linear_probe_accuracy  # noqa: F401
from tfssl.eval.run import evaluate_run  # noqa: F401
from tfssl.eval.plots import (  # noqa: F401
    plot_confusion_matrix, plot_embedding_map, plot_knn_history, plot_label_fractions,
    plot_robustness, save_figure)
from tfssl.eval.report import (  # noqa: F401
    report_figures, report_markdown, to_jsonable, write_report)
