"""Representation quality: kNN, linear probe, fine-tuning, label-free metrics,
robustness to corruptions, callbacks."""

from tfssl.eval.callbacks import KNNMonitor, LabelFreeMonitor  # noqa: F401
from tfssl.eval.features import extract_features, float32_copy  # noqa: F401
from tfssl.eval.knn import evaluate_knn, knn_accuracy, knn_predict  # noqa: F401
from tfssl.eval.linear import evaluate_linear, linear_probe, linear_probe_accuracy  # noqa: F401
from tfssl.eval.run import evaluate_run  # noqa: F401
from tfssl.eval.label_free import (  # noqa: F401
    alignment, cluster_nmi, dimension_std, image_label_free_metrics, label_free_metrics,
    rankme, uniformity)
from tfssl.eval.robustness import (  # noqa: F401
    IMAGE_CORRUPTIONS, SEVERITIES, TEXT_CORRUPTIONS, corrupt, corrupt_images, corrupt_texts,
    robustness_curve)
from tfssl.eval.plots import (  # noqa: F401
    plot_confusion_matrix, plot_embedding_map, plot_knn_history, plot_label_fractions,
    plot_robustness, save_figure)
from tfssl.eval.report import (  # noqa: F401
    report_figures, report_markdown, to_jsonable, write_report)
