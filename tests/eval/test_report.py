"""The evaluation report: PNG plots, report.json and report.md, and the plot functions."""

import copy
import json
import os

import numpy as np
import pytest

from tfssl.errors import UsageError
from tfssl.eval import (plot_confusion_matrix, plot_embedding_map, plot_knn_history,
                        plot_label_fractions, plot_robustness, report_figures,
                        report_markdown, save_figure, write_report)
from tfssl.eval.report import PLOT_FILES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ["cat", "dog", "ship"]


def make_report():
    """A report as an evaluation of a small SimCLR run would build it (all sections)."""
    corruptions = {"gaussian_noise": [0.71, 0.64, 0.55, 0.47, 0.40],
                   "gaussian_blur": [0.78, 0.74, 0.69, 0.61, 0.52],
                   "contrast": [0.80, 0.77, 0.73, 0.66, 0.58]}
    mean = float(np.mean([a for accs in corruptions.values() for a in accs]))
    return {
        "model_dir": "/runs/simclr-cifar10", "method": "simclr", "modality": "image",
        "dataset": "tfds:cifar10", "train_dataset": "tfds:cifar10",
        "train_examples": 50000, "eval_examples": 10000, "wall_seconds": 754.2,
        "protocols": {
            "knn": {"top1": 0.81234, "top1_random_init": 0.3011, "k": 200,
                    "temperature": 0.1},
            "linear": {"top1": 0.8567, "top1_random_init": 0.3542, "epochs": 100,
                       "confusion_matrix": [[90, 6, 4], [8, 85, 7], [3, 5, 92]],
                       "class_names": CLASSES},
            "finetune": {"label_fractions": [
                {"fraction": 0.01, "num_labels": 500, "pretrained": 0.612, "scratch": 0.281},
                {"fraction": 0.1, "num_labels": 5000, "pretrained": 0.781, "scratch": 0.534},
                {"fraction": 1.0, "num_labels": 50000, "pretrained": 0.912,
                 "scratch": 0.874}], "epochs": 30, "learning_rate": 0.001},
            "label_free": {"rankme": 412.37, "rankme_random_init": 35.2, "alignment": 0.4821,
                           "uniformity": -3.2154, "std_mean": 0.0398, "std_min": 0.0121,
                           "collapsed_fraction": 0.0, "dims": 512, "nmi": 0.5531},
            "robustness": {"probe": "knn", "clean": 0.81234, "severities": [1, 2, 3, 4, 5],
                           "corruptions": corruptions, "mean_corruption_accuracy": mean},
        },
        "knn_history": [{"epoch": e, "knn_top1": 0.3 + 0.05 * e} for e in range(1, 11)],
    }


def blobs(n_per_class=20, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * 6
    labels = np.repeat(np.arange(3), n_per_class)
    features = centres[labels] + rng.normal(size=(len(labels), dims))
    return features.astype(np.float32), labels


def embedding():
    features, labels = blobs()
    return {"features": features, "labels": labels, "class_names": CLASSES}


def assert_png(path):
    assert os.path.isfile(path), path
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, path
    assert os.path.getsize(path) > 1024, path


def test_write_report_writes_every_plot_json_and_markdown(tmp_path):
    out = tmp_path / "eval"  # created by write_report
    report = make_report()
    written = write_report(str(out), report, embedding=embedding())

    assert written["plots"] == PLOT_FILES
    for filename in PLOT_FILES.values():
        assert_png(out / filename)
    # Only the report files and plots: no temporary files left behind.
    assert sorted(os.listdir(out)) == sorted(list(PLOT_FILES.values())
                                             + ["report.json", "report.md"])

    with open(out / "report.json", encoding="utf-8") as f:
        loaded = json.load(f)
    assert loaded == written
    assert loaded["plots"]["confusion_matrix"] == "confusion_matrix.png"
    assert loaded["protocols"]["knn"]["top1"] == pytest.approx(0.81234)
    assert loaded["protocols"]["linear"]["confusion_matrix"][1] == [8, 85, 7]
    assert "plots" not in report  # the caller's dict is not changed

    md = (out / "report.md").read_text(encoding="utf-8")
    assert md == report_markdown(loaded)
    assert md.startswith("# Evaluation of simclr: `/runs/simclr-cifar10`")
    assert "tfds:cifar10" in md and "12 min 34 s" in md
    assert "| protocol | metric | this encoder | baseline (random init / scratch) |" in md
    assert "| kNN (k=200, T=0.1) | top-1 accuracy | 0.812 | 0.301 |" in md
    assert "| linear probe (100 epochs) | top-1 accuracy | 0.857 | 0.354 |" in md
    assert ("| fine-tune (30 epochs, lr 0.001) | top-1 accuracy, 1% of labels "
            "(500 labels) | 0.612 | 0.281 |") in md
    assert "100% of labels (50,000 labels) | 0.912 | 0.874 |" in md
    assert "| RankMe (effective rank of 512 dims) | 412.4 | 35.2 |" in md
    assert "| uniformity (lower = more spread) | -3.215 | — |" in md
    assert "| NMI of k-means clusters vs labels | 0.553 | — |" in md
    assert "| robustness (kNN probe) | clean accuracy | 0.812 | — |" in md
    mean = report["protocols"]["robustness"]["mean_corruption_accuracy"]
    assert (f"| robustness (kNN probe) | mean corruption accuracy (3 corruptions, "
            f"severities 1–5) | {mean:.3f} | — |") in md
    for filename in PLOT_FILES.values():
        assert f"]({filename})" in md


def test_missing_sections_give_no_plot_and_no_crash(tmp_path):
    header = {k: v for k, v in make_report().items() if k not in ("protocols",
                                                                  "knn_history")}
    written = write_report(str(tmp_path), header)
    assert written["plots"] == {}
    assert sorted(os.listdir(tmp_path)) == ["report.json", "report.md"]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "No protocol results" in md and "![" not in md

    # Some sections, some of them partial; None values read as a dash.
    report = make_report()
    report["knn_history"] = []
    report["protocols"] = {"knn": {"top1": 0.5, "top1_random_init": None, "k": 20,
                                   "temperature": 0.07},
                           "linear": {"top1": 0.6, "top1_random_init": None, "epochs": 10},
                           "label_free": {"rankme": 10.0, "rankme_random_init": None,
                                          "alignment": None, "uniformity": -1.0,
                                          "std_mean": 0.1, "std_min": 0.01,
                                          "collapsed_fraction": 0.25, "dims": 32,
                                          "nmi": None}}
    out = tmp_path / "partial"
    written = write_report(str(out), report)
    assert written["plots"] == {}
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| kNN (k=20, T=0.07) | top-1 accuracy | 0.500 | — |" in md
    assert "| alignment (lower = views closer) | — | — |" in md
    assert "| fraction of collapsed dims | 0.250 | — |" in md

    # An empty report (no header either) still writes both files.
    assert write_report(str(tmp_path / "empty"), {})["plots"] == {}
    assert os.path.isfile(tmp_path / "empty" / "report.md")


def test_numpy_types_and_nan_are_written_as_strict_json(tmp_path):
    report = make_report()
    report["train_examples"] = np.int64(50000)
    report["wall_seconds"] = np.float32(12.5)
    knn = report["protocols"]["knn"]
    knn["top1"] = np.float32(0.75)
    knn["top1_random_init"] = float("nan")
    linear = report["protocols"]["linear"]
    linear["confusion_matrix"] = np.asarray(linear["confusion_matrix"], dtype=np.int64)
    report["protocols"]["label_free"]["nmi"] = np.float64("nan")
    report["protocols"]["label_free"]["uniformity"] = float("-inf")
    report["knn_history"] = [{"epoch": np.int32(e), "knn_top1": np.float32(0.5)}
                             for e in (1, 2)]
    write_report(str(tmp_path), report)

    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text

    def strict(token):
        raise ValueError(f"non-standard JSON token {token}")

    loaded = json.loads(text, parse_constant=strict)
    assert loaded["train_examples"] == 50000
    assert loaded["protocols"]["knn"]["top1"] == pytest.approx(0.75)
    assert loaded["protocols"]["knn"]["top1_random_init"] is None
    assert loaded["protocols"]["label_free"]["nmi"] is None
    assert loaded["protocols"]["linear"]["confusion_matrix"][0] == [90, 6, 4]
    assert loaded["knn_history"][1] == {"epoch": 2, "knn_top1": 0.5}
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| kNN (k=200, T=0.1) | top-1 accuracy | 0.750 | — |" in md
    assert "nan" not in md.lower()


def test_failure_before_writing_keeps_the_previous_report(tmp_path, monkeypatch):
    write_report(str(tmp_path), make_report())
    before = {name: (tmp_path / name).read_bytes() for name in ("report.json", "report.md")}

    import tfssl.eval.report as report_module

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "write_text_atomic", broken)
    changed = make_report()
    changed["protocols"]["knn"]["top1"] = 0.1
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(str(tmp_path), changed)
    # report.json was replaced as a whole (new content), report.md kept whole; no temp files.
    assert json.loads((tmp_path / "report.json").read_text())["protocols"]["knn"][
        "top1"] == 0.1
    assert (tmp_path / "report.md").read_bytes() == before["report.md"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_a_plot_that_cannot_be_drawn_is_left_out_with_a_warning(tmp_path):
    report = make_report()
    report["protocols"]["linear"]["confusion_matrix"] = [[1, 2, 3], [4, 5, 6]]  # not square
    with pytest.warns(UserWarning, match="confusion_matrix.png"):
        written = write_report(str(tmp_path), report)
    assert "confusion_matrix" not in written["plots"]
    assert "square" in written["plot_errors"]["confusion_matrix"]
    assert not (tmp_path / "confusion_matrix.png").exists()
    assert_png(tmp_path / "robustness.png")
    assert "Plots not drawn: confusion_matrix" in (tmp_path / "report.md").read_text()


def test_bad_embedding_method_is_a_usage_error(tmp_path):
    features, labels = blobs()
    with pytest.raises(UsageError, match="method='umap'") as info:
        plot_embedding_map(features, labels, method="umap")
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError):
        write_report(str(tmp_path), make_report(),
                     embedding={"features": features, "labels": labels, "method": "umap"})
    assert not os.listdir(tmp_path)


def test_plot_knn_history():
    report = make_report()
    fig = plot_knn_history(report["knn_history"])
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 11))
    np.testing.assert_allclose(line.get_ydata(), [0.3 + 0.05 * e for e in range(1, 11)])
    assert ax.get_xlabel() and ax.get_ylabel() and "kNN" in ax.get_title()
    assert ax.get_legend() is not None
    with pytest.raises(UsageError):
        plot_knn_history([])


def test_plot_embedding_map_pca_one_scatter_per_class():
    features, labels = blobs()
    fig = plot_embedding_map(features, labels, CLASSES)
    (ax,) = fig.axes
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == CLASSES
    assert sum(len(c.get_offsets()) for c in ax.collections) == 60
    assert "PCA" in ax.get_title() and ax.get_xlabel() == "PCA 1"
    # PCA separates the blobs: each class's points sit apart from the others'.
    centres = [c.get_offsets().mean(axis=0) for c in ax.collections]
    assert min(np.linalg.norm(a - b) for i, a in enumerate(centres)
               for b in centres[i + 1:]) > 3

    # Seeded subsample; no labels -> one scatter and no legend.
    fig = plot_embedding_map(features, max_points=25, seed=3)
    (ax,) = fig.axes
    assert len(ax.collections) == 1 and ax.get_legend() is None
    assert len(ax.collections[0].get_offsets()) == 25
    again = plot_embedding_map(features, max_points=25, seed=3).axes[0]
    np.testing.assert_allclose(again.collections[0].get_offsets(),
                               ax.collections[0].get_offsets())


def test_plot_embedding_map_tsne_small_input():
    features, labels = blobs(n_per_class=20, dims=64)  # D > 50: PCA to 50 dims first
    fig = plot_embedding_map(features, labels, method="tsne")
    (ax,) = fig.axes
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    assert "t-SNE" in ax.get_title()
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert points.shape == (60, 2) and np.isfinite(points).all()


def test_plot_confusion_matrix():
    matrix = np.array([[90, 6, 4], [8, 85, 7], [3, 5, 92]])
    fig = plot_confusion_matrix(matrix, CLASSES)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the matrix and its colour bar
    (image,) = ax.images
    np.testing.assert_allclose(image.get_array(), matrix / matrix.sum(1, keepdims=True))
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9 and "0.90" in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"

    counts = plot_confusion_matrix(matrix, normalize=False).axes[0]
    assert "92" in [t.get_text() for t in counts.texts]
    # Many classes: no annotations; an empty row does not divide by zero.
    big = np.eye(25, dtype=int) * 3
    big[4, 4] = 0
    many = plot_confusion_matrix(big).axes[0]
    assert not many.texts and np.isfinite(many.images[0].get_array()).all()
    with pytest.raises(UsageError):
        plot_confusion_matrix([[1, 2, 3]])


def test_plot_robustness_one_line_per_corruption_plus_clean():
    robustness = make_report()["protocols"]["robustness"]
    fig = plot_robustness(robustness)
    (ax,) = fig.axes
    assert len(ax.lines) == len(robustness["corruptions"]) + 1
    clean = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(clean) == 1
    np.testing.assert_allclose(clean[0].get_ydata(), [0.81234, 0.81234])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(robustness["corruptions"]) < set(labels)
    assert f"{robustness['mean_corruption_accuracy']:.3f}" in ax.get_title()
    assert ax.get_xlabel() == "corruption severity"
    with pytest.raises(UsageError):
        plot_robustness({"corruptions": {}})


def test_plot_label_fractions_pretrained_and_scratch():
    finetune = make_report()["protocols"]["finetune"]
    fig = plot_label_fractions(finetune)
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    assert ax.get_xscale() == "log"
    pretrained, scratch = ax.lines
    np.testing.assert_allclose(pretrained.get_xdata(), [0.01, 0.1, 1.0])
    np.testing.assert_allclose(scratch.get_ydata(), [0.281, 0.534, 0.874])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0].startswith("1%") and ticks[-1].startswith("100%")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("pretrained" in t for t in legend) and any("scratch" in t for t in legend)


def test_report_figures_and_save_figure(tmp_path):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    figures = report_figures(make_report(), embedding())
    assert list(figures) == list(PLOT_FILES)
    path = save_figure(figures["robustness"], str(tmp_path / "sub" / "r.png"))
    assert_png(path)
    assert os.listdir(tmp_path / "sub") == ["r.png"]
    # Built without pyplot: no figure is registered in (or leaks into) its global state.
    assert plt.get_fignums() == open_before


def test_report_markdown_is_independent_of_the_input():
    report = make_report()
    original = copy.deepcopy(report)
    md = report_markdown(report)
    assert report == original
    assert "## Plots" not in md  # no "plots" key: no plot section
    assert "| kNN (k=200, T=0.1) | top-1 accuracy | 0.812 | 0.301 |" in md
