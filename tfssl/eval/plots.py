"""Figures of an evaluation report, usable alone in a notebook.

Every ``plot_*`` function returns a new :class:`matplotlib.figure.Figure` built without
``pyplot``: no window opens, no global figure list grows, nothing leaks between calls,
and the caller's matplotlib backend is left as it is. In a notebook, a returned figure
displays as the last expression of a cell; :func:`save_figure` writes it as a PNG.

matplotlib (and scikit-learn for :func:`plot_embedding_map`) are imported inside the
functions, so ``import tfssl`` does not pay for them.
"""

import math

import numpy as np

from tfssl.errors import UsageError

__all__ = ["plot_knn_history", "plot_embedding_map", "plot_confusion_matrix",
           "plot_robustness", "plot_label_fractions", "save_figure", "EMBEDDING_METHODS"]

EMBEDDING_METHODS = ("pca", "tsne")
# Classes with at most this many rows get their cell values written into the matrix.
_ANNOTATE_MAX_CLASSES = 20
# How a probe's name reads in labels and titles.
PROBE_NAMES = {"knn": "kNN", "linear": "linear"}
# Legends beyond this many classes would cover the map; the colours stay.
_LEGEND_MAX_CLASSES = 30


def _figure(width=6.4, height=4.8):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _number(value):
    """``float(value)``, or NaN for None / non-numbers, so that gaps plot as gaps."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _class_colours(num_classes):
    """Qualitative colours: tab10 up to 10 classes, tab20 up to 20, then a cycled tab20."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(num_classes)]


def _class_name(class_names, label):
    if class_names is not None and 0 <= int(label) < len(class_names):
        return str(class_names[int(label)])
    return str(label)


def plot_knn_history(knn_history):
    """kNN top-1 accuracy over pretraining epochs.

    Args:
        knn_history: list of ``{"epoch": int, "knn_top1": float}``, ``epoch`` being the
            number of epochs completed (1-based), as in a run's report.

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    points = sorted((int(p["epoch"]), _number(p.get("knn_top1"))) for p in knn_history or ())
    if not points:
        raise UsageError("knn_history is empty: nothing to plot")
    epochs, accs = zip(*points)
    fig, ax = _figure()
    ax.plot(epochs, accs, marker="o", label="kNN top-1 (held-out)")
    ax.set_xlabel("pretraining epoch")
    ax.set_ylabel("kNN top-1 accuracy")
    finite = [a for a in accs if math.isfinite(a)]
    best = f": best {max(finite):.3f}, last {finite[-1]:.3f}" if finite else ""
    ax.set_title(f"kNN accuracy during pretraining{best}")
    if len(epochs) < 15:
        ax.set_xticks(epochs)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def _project_2d(features, method, seed):
    if method == "pca" or features.shape[0] < 4:
        from sklearn.decomposition import PCA

        dims = min(2, *features.shape)
        points = PCA(n_components=dims, random_state=seed).fit_transform(features)
    else:
        from sklearn.manifold import TSNE

        if features.shape[1] > 50:
            from sklearn.decomposition import PCA

            features = PCA(n_components=min(50, features.shape[0]),
                           random_state=seed).fit_transform(features)
        # Perplexity must stay below the number of points; 30 is the usual default.
        perplexity = float(min(30.0, max(2.0, (features.shape[0] - 1) / 3.0)))
        points = TSNE(n_components=2, perplexity=perplexity, init="pca",
                      random_state=seed).fit_transform(features)
    if points.shape[1] < 2:  # one feature or one point: a flat map
        points = np.concatenate([points, np.zeros((len(points), 2 - points.shape[1]))], 1)
    return points


def plot_embedding_map(features, labels=None, class_names=None, method="pca",
                       max_points=2000, seed=0):
    """A 2-D map of embeddings, one colour per label.

    Args:
        features: ``(N, D)`` array of embeddings.
        labels: optional ``(N,)`` integer labels; without them every point has one colour.
        class_names: optional names indexed by label, shown in the legend.
        method: ``"pca"`` (scikit-learn PCA, fast) or ``"tsne"`` (t-SNE, after a PCA to
            50 dimensions when ``D > 50``).
        max_points: a seeded random subsample of at most this many points is drawn.
        seed: seed of the subsample and of the projection.

    Returns:
        A :class:`matplotlib.figure.Figure` with one scatter per class.
    """
    if method not in EMBEDDING_METHODS:
        raise UsageError(f"method={method!r}: expected one of {', '.join(EMBEDDING_METHODS)}")
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0:
        raise UsageError(f"features: expected a non-empty (N, D) array, got shape "
                         f"{features.shape}")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != features.shape[0]:
            raise UsageError(f"labels: {labels.shape[0]} labels for {features.shape[0]} "
                             "feature rows")
    max_points = int(max_points)
    if max_points < 1:
        raise UsageError(f"max_points={max_points}: must be >= 1")
    rng = np.random.default_rng(seed)
    if features.shape[0] > max_points:
        keep = np.sort(rng.choice(features.shape[0], max_points, replace=False))
        features = features[keep]
        labels = labels[keep] if labels is not None else None
    features = np.nan_to_num(features)
    points = _project_2d(features, method, seed)

    fig, ax = _figure(7.2, 5.6)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.7, linewidths=0)
    else:
        classes = np.unique(labels)
        colours = _class_colours(len(classes))
        for colour, label in zip(colours, classes):
            mask = labels == label
            ax.scatter(points[mask, 0], points[mask, 1], s=8, alpha=0.7, linewidths=0,
                       color=colour, label=_class_name(class_names, label))
        if len(classes) <= _LEGEND_MAX_CLASSES:
            ax.legend(title="class", loc="center left", bbox_to_anchor=(1.0, 0.5),
                      fontsize="small", markerscale=2, frameon=False,
                      ncols=1 if len(classes) <= 15 else 2)
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title(f"Test embeddings ({name}, {points.shape[0]} points)")
    return fig


def plot_confusion_matrix(matrix, class_names=None, normalize=True):
    """The confusion matrix of a classifier: true class on y, predicted class on x.

    Args:
        matrix: ``(C, C)`` counts, ``matrix[i][j]`` = examples of class ``i`` predicted
            as ``j``.
        class_names: optional ``C`` names for the ticks.
        normalize: show each row as fractions of its class (rows sum to 1), else counts.

    Returns:
        A :class:`matplotlib.figure.Figure`; cells are annotated up to 20 classes.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise UsageError(f"confusion matrix: expected a square (C, C) array, got shape "
                         f"{counts.shape}")
    counts = np.nan_to_num(counts)
    num = counts.shape[0]
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        vmax = 1.0
    else:
        values = counts
        vmax = max(float(counts.max()), 1.0)
    size = min(4.0 + 0.45 * num, 14.0)
    fig, ax = _figure(size + 1.2, size)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="fraction of true class" if normalize else "examples")
    names = [_class_name(class_names, i) for i in range(num)]
    if num <= 50:
        ax.set_xticks(range(num), names, rotation=45 if num > 5 else 0, ha="right"
                      if num > 5 else "center", rotation_mode="anchor", fontsize="small")
        ax.set_yticks(range(num), names, fontsize="small")
    if num <= _ANNOTATE_MAX_CLASSES:
        for i in range(num):
            for j in range(num):
                text = f"{values[i, j]:.2f}" if normalize else f"{int(round(values[i, j]))}"
                ax.text(j, i, text, ha="center", va="center", fontsize="x-small",
                        color="white" if values[i, j] > 0.5 * vmax else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = counts.sum()
    acc = f": accuracy {np.trace(counts) / total:.3f}" if total > 0 else ""
    ax.set_title(f"Confusion matrix{acc}")
    return fig


def plot_robustness(robustness):
    """Accuracy under corruption: one line per corruption, accuracy vs severity.

    Args:
        robustness: dict with ``corruptions`` (``{name: [accuracy per severity]}``) and
            optionally ``severities`` (default 1, 2, ...), ``clean`` (drawn as a dashed
            horizontal line), ``mean_corruption_accuracy`` and ``probe``.

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    corruptions = (robustness or {}).get("corruptions") or {}
    if not corruptions:
        raise UsageError("robustness: no corruptions to plot")
    longest = max(len(v or ()) for v in corruptions.values())
    severities = list(robustness.get("severities") or range(1, longest + 1))
    fig, ax = _figure(8.0, 5.0)
    colours = _class_colours(len(corruptions))
    markers = "osD^v<>ph*"
    for i, (name, accs) in enumerate(sorted(corruptions.items())):
        accs = [_number(a) for a in accs or ()][:len(severities)]
        ax.plot(severities[:len(accs)], accs, marker=markers[i % len(markers)],
                color=colours[i], label=str(name))
    clean = _number(robustness.get("clean"))
    if math.isfinite(clean):
        ax.axhline(clean, color="black", linestyle="--", linewidth=1.2,
                   label=f"clean ({clean:.3f})")
    ax.set_xticks(severities)
    ax.set_xlabel("corruption severity")
    probe = robustness.get("probe")
    probe = PROBE_NAMES.get(probe, probe)
    ax.set_ylabel(f"{probe} top-1 accuracy" if probe else "top-1 accuracy")
    values = [_number(a) for accs in corruptions.values() for a in accs or ()] + [clean]
    top = max([v for v in values if math.isfinite(v)] or [1.0])
    ax.set_ylim(0.0, 1.02 if top <= 1.0 else None)
    mean = _number(robustness.get("mean_corruption_accuracy"))
    if not math.isfinite(mean):
        values = [_number(a) for accs in corruptions.values() for a in accs or ()]
        values = [v for v in values if math.isfinite(v)]
        mean = float(np.mean(values)) if values else math.nan
    title = "Robustness to corruptions"
    if math.isfinite(mean):
        title += f": mean corruption accuracy {mean:.3f}"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    return fig


def _percent(fraction):
    pct = 100.0 * fraction
    return f"{pct:.0f}%" if pct >= 1 and abs(pct - round(pct)) < 1e-9 else f"{pct:.3g}%"


def plot_label_fractions(finetune):
    """Fine-tuning accuracy vs fraction of labels, pretrained vs from scratch.

    Args:
        finetune: dict with ``label_fractions``: list of ``{"fraction", "num_labels",
            "pretrained", "scratch"}`` (``scratch``: the same architecture trained from
            random initialisation).

    Returns:
        A :class:`matplotlib.figure.Figure` with a log-scaled x axis in percent.
    """
    rows = [r for r in (finetune or {}).get("label_fractions") or ()
            if _number(r.get("fraction")) > 0]
    if not rows:
        raise UsageError("finetune: no label_fractions to plot")
    rows = sorted(rows, key=lambda r: float(r["fraction"]))
    fractions = [float(r["fraction"]) for r in rows]
    fig, ax = _figure()
    for key, label, style in (("pretrained", "pretrained encoder", "-"),
                              ("scratch", "from scratch (random init)", "--")):
        accs = [_number(r.get(key)) for r in rows]
        if any(math.isfinite(a) for a in accs):
            ax.plot(fractions, accs, marker="o", linestyle=style, label=label)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(fractions))
    ax.xaxis.set_minor_locator(NullLocator())
    ticks = []
    for r, f in zip(rows, fractions):
        n = r.get("num_labels")
        ticks.append(_percent(f) + (f"\n({int(n)})" if n is not None else ""))
    ax.set_xticklabels(ticks)
    if len(fractions) == 1:
        ax.set_xlim(fractions[0] / 2, fractions[0] * 2)
    ax.set_xlabel("fraction of training labels (number of labels)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_title("Fine-tuning with few labels: pretrained vs scratch")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def save_figure(fig, path, dpi=100):
    """Writes ``fig`` as a PNG to ``path`` atomically (temporary file + rename).

    Returns:
        ``path``.
    """
    from tfssl.runs.files import write_atomic

    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi), binary=True)
    return path
