"""The evaluation report: ``report.json``, ``report.md`` and PNG plots in one folder.

:func:`write_report` turns the report dict built by an evaluation (see
:func:`tfssl.eval.evaluate_run`) into files; :func:`report_markdown` gives the same
Markdown text for a notebook (``IPython.display.Markdown(report_markdown(report))``) and
:func:`report_figures` the same figures.

Every section of the report is optional, and so is every number in it: what is missing
gets no row / no plot, a missing or NaN number reads ``—``.
"""

import math
import os
import warnings

import numpy as np

from tfssl.errors import UsageError
from tfssl.eval.plots import PROBE_NAMES
from tfssl.runs.files import write_json_atomic, write_text_atomic

__all__ = ["write_report", "report_markdown", "report_figures", "to_jsonable",
           "REPORT_FILES", "PLOT_FILES"]

REPORT_FILES = {"json": "report.json", "markdown": "report.md"}
# Plot name -> file name, in the order they appear in report.md.
PLOT_FILES = {
    "knn_history": "knn_history.png",
    "embedding_map": "embedding_map.png",
    "confusion_matrix": "confusion_matrix.png",
    "robustness": "robustness.png",
    "label_fractions": "label_fractions.png",
}
DASH = "—"


def to_jsonable(obj):
    """A copy of ``obj`` that :func:`json.dump` writes as strict JSON.

    NumPy scalars and arrays become Python numbers and lists, tuples lists, dict keys
    strings, NaN and infinities ``None`` (JSON has no token for them); anything else
    unknown becomes its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt(value, spec=".3f"):
    value = _finite(value)
    return DASH if value is None else format(value, spec)


def _int(value):
    value = _finite(value)
    return DASH if value is None else f"{int(value):,}"


def _seconds(value):
    value = _finite(value)
    if value is None:
        return DASH
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _percent(fraction):
    value = _finite(fraction)
    if value is None:
        return DASH
    pct = 100.0 * value
    return f"{pct:.0f}%" if pct >= 1 and abs(pct - round(pct)) < 1e-9 else f"{pct:.3g}%"


def _rows(protocols):
    """``(protocol, metric, this encoder, baseline)`` rows of the results table."""
    rows = []
    knn = protocols.get("knn")
    if knn:
        setting = [f"k={knn['k']}" if knn.get("k") is not None else None,
                   f"T={_fmt(knn.get('temperature'), 'g')}"
                   if _finite(knn.get("temperature")) is not None else None]
        setting = ", ".join(s for s in setting if s)
        rows.append((f"kNN ({setting})" if setting else "kNN", "top-1 accuracy",
                     _fmt(knn.get("top1")), _fmt(knn.get("top1_random_init"))))
    linear = protocols.get("linear")
    if linear:
        epochs = linear.get("epochs")
        name = f"linear probe ({epochs} epochs)" if epochs is not None else "linear probe"
        rows.append((name, "top-1 accuracy", _fmt(linear.get("top1")),
                     _fmt(linear.get("top1_random_init"))))
    finetune = protocols.get("finetune")
    if finetune:
        setting = []
        if finetune.get("epochs") is not None:
            setting.append(f"{finetune['epochs']} epochs")
        if _finite(finetune.get("learning_rate")) is not None:
            setting.append(f"lr {_fmt(finetune['learning_rate'], 'g')}")
        name = f"fine-tune ({', '.join(setting)})" if setting else "fine-tune"
        fractions = sorted(finetune.get("label_fractions") or (),
                           key=lambda r: _finite(r.get("fraction")) or 0.0)
        for row in fractions:
            labels = row.get("num_labels")
            metric = f"top-1 accuracy, {_percent(row.get('fraction'))} of labels"
            if _finite(labels) is not None:
                metric += f" ({_int(labels)} labels)"
            rows.append((name, metric, _fmt(row.get("pretrained")),
                         _fmt(row.get("scratch"))))
    free = protocols.get("label_free")
    if free:
        dims = free.get("dims")
        rankme = f"RankMe (effective rank of {_int(dims)} dims)" if dims else "RankMe"
        for key, metric, spec, baseline in (
                ("rankme", rankme, ".1f", "rankme_random_init"),
                ("alignment", "alignment (lower = views closer)", ".3f", None),
                ("uniformity", "uniformity (lower = more spread)", ".3f", None),
                ("std_mean", "mean per-dimension std", ".4f", None),
                ("std_min", "min per-dimension std", ".4f", None),
                ("collapsed_fraction", "fraction of collapsed dims", ".3f", None),
                ("nmi", "NMI of k-means clusters vs labels", ".3f", None)):
            if key in free:
                rows.append(("label-free", metric, _fmt(free.get(key), spec),
                             _fmt(free.get(baseline), spec) if baseline else DASH))
    robust = protocols.get("robustness")
    if robust:
        probe = robust.get("probe")
        probe = PROBE_NAMES.get(probe, probe)
        name = f"robustness ({probe} probe)" if probe else "robustness"
        severities = robust.get("severities") or ()
        span = (f", severities {severities[0]}–{severities[-1]}"
                if len(severities) > 1 else "")
        count = len(robust.get("corruptions") or {})
        rows.append((name, "clean accuracy", _fmt(robust.get("clean")), DASH))
        rows.append((name, f"mean corruption accuracy ({count} corruptions{span})",
                     _fmt(robust.get("mean_corruption_accuracy")), DASH))
    return rows


def _plot_text(report):
    """Plot name -> (section title, caption, one sentence on how to read it)."""
    protocols = report.get("protocols") or {}
    probe = (protocols.get("robustness") or {}).get("probe") or "evaluation"
    probe = PROBE_NAMES.get(probe, probe)
    return {
        "knn_history": (
            "kNN accuracy during pretraining", "kNN top-1 over pretraining epochs",
            "Each point is the kNN top-1 accuracy on held-out data after that many "
            "pretraining epochs; a curve still rising at the end says that longer "
            "pretraining would likely help."),
        "embedding_map": (
            "Map of the test embeddings", "2-D map of the test embeddings by label",
            "Each dot is one test example projected to two dimensions, coloured by its "
            "label; compact, well-separated colours mean the classes are easy to tell "
            "apart from the features alone (t-SNE keeps neighbourhoods, not distances)."),
        "confusion_matrix": (
            "Confusion matrix of the linear probe", "confusion matrix of the linear probe",
            "Row i, column j is the share of test examples of true class i that the probe "
            "predicts as class j (rows sum to 1); weight off the diagonal shows which "
            "classes the representation confuses."),
        "robustness": (
            "Robustness to corruptions", "accuracy per corruption vs severity",
            f"Each line is the {probe} probe's accuracy on test data with one corruption "
            "at increasing severity, and the dashed line is the clean accuracy, so the "
            "drop below it is what that corruption costs."),
        "label_fractions": (
            "Fine-tuning with few labels", "accuracy vs fraction of labels",
            "Accuracy after fine-tuning on a fraction of the training labels (log scale), "
            "for the pretrained encoder and for the same architecture from random "
            "initialisation; the gap between the lines is what pretraining buys at each "
            "label budget."),
    }


def report_markdown(report):
    """The Markdown text of ``report.md``: title, settings, results table, plots.

    Plots are referenced from ``report["plots"]`` (``{name: file}``, as
    :func:`write_report` adds it); without it the text has no plot section.
    """
    report = report or {}
    method = report.get("method") or "encoder"
    lines = [f"# Evaluation of {method}: `{report.get('model_dir') or DASH}`", ""]
    modality = report.get("modality")
    lines.append(
        f"Evaluated on **{report.get('dataset') or DASH}** "
        f"({_int(report.get('eval_examples'))} examples) with "
        f"**{report.get('train_dataset') or DASH}** "
        f"({_int(report.get('train_examples'))} examples) for training the probes"
        + (f"; {modality} modality" if modality else "")
        + f"; wall time {_seconds(report.get('wall_seconds'))}.")
    lines.append("")
    rows = _rows(report.get("protocols") or {})
    lines.append("## Results")
    lines.append("")
    if rows:
        lines.append("| protocol | metric | this encoder | baseline (random init / scratch) |")
        lines.append("|---|---|---:|---:|")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
        lines.append("Accuracies are fractions of the evaluation set (1.000 = all correct); "
                     "the baseline is the same architecture from random initialisation "
                     f"(fine-tuning: trained from scratch); {DASH} = not measured.")
    else:
        lines.append("No protocol results in this report.")
    lines.append("")
    plots = report.get("plots") or {}
    texts = _plot_text(report)
    names = [n for n in PLOT_FILES if n in plots] + [n for n in plots if n not in PLOT_FILES]
    if names:
        lines.append("## Plots")
        lines.append("")
    for name in names:
        title, caption, sentence = texts.get(name, (name, name, ""))
        lines += [f"### {title}", "", f"![{caption}]({plots[name]})", ""]
        if sentence:
            lines += [sentence, ""]
    errors = report.get("plot_errors") or {}
    if errors:
        lines.append("Plots not drawn: " + "; ".join(
            f"{name} ({error})" for name, error in errors.items()) + ".")
    return "\n".join(lines).rstrip("\n") + "\n"


def _figure_makers(report, embedding, embedding_method):
    """``[(plot name, function returning its Figure)]`` for every applicable plot."""
    from tfssl.eval import plots as p

    report = report or {}
    protocols = report.get("protocols") or {}
    makers = []
    if report.get("knn_history"):
        makers.append(("knn_history", lambda: p.plot_knn_history(report["knn_history"])))
    if embedding is not None and embedding.get("features") is not None:
        makers.append(("embedding_map", lambda: p.plot_embedding_map(
            embedding["features"], embedding.get("labels"), embedding.get("class_names"),
            method=embedding.get("method", embedding_method))))
    linear = protocols.get("linear") or {}
    if linear.get("confusion_matrix") is not None and len(linear["confusion_matrix"]):
        makers.append(("confusion_matrix", lambda: p.plot_confusion_matrix(
            linear["confusion_matrix"], linear.get("class_names"))))
    robust = protocols.get("robustness") or {}
    if robust.get("corruptions"):
        makers.append(("robustness", lambda: p.plot_robustness(robust)))
    finetune = protocols.get("finetune") or {}
    if finetune.get("label_fractions"):
        makers.append(("label_fractions", lambda: p.plot_label_fractions(finetune)))
    return makers


def report_figures(report, embedding=None, embedding_method="pca"):
    """Every applicable figure of ``report`` as ``{plot name: matplotlib Figure}``.

    ``embedding``: optional ``dict(features=(N, D) array, labels=(N,) array,
    class_names=list)`` for the embedding map. The same figures as :func:`write_report`
    writes, for a notebook.
    """
    return {name: make() for name, make in _figure_makers(report, embedding,
                                                          embedding_method)}


def write_report(out_dir, report, embedding=None):
    """Writes the evaluation report into ``out_dir`` (created if needed).

    First every applicable plot as a PNG (see :data:`PLOT_FILES`): ``knn_history.png``
    when ``report["knn_history"]`` is non-empty, ``embedding_map.png`` when
    ``embedding`` is given, ``confusion_matrix.png`` when the linear probe has one,
    ``robustness.png`` and ``label_fractions.png`` when those protocols ran. Then
    ``report.json`` (the report plus ``"plots": {name: file}``, strict JSON) and last
    ``report.md`` (:func:`report_markdown`), each through a temporary file and a
    rename, so a failure never leaves a half-written report behind. A plot that fails
    to draw is left out with a warning and its error under ``"plot_errors"``.

    Args:
        out_dir: the folder, e.g. ``MODEL_DIR/eval``.
        report: the report dict (header keys, ``protocols``, ``knn_history``).
        embedding: optional ``dict(features=(N, D), labels=(N,), class_names=list)`` of
            test embeddings for the 2-D map (``method="tsne"`` in it for t-SNE).

    Returns:
        The report as written to ``report.json`` (JSON types, with ``"plots"``).
    """
    from tfssl.eval.plots import EMBEDDING_METHODS, save_figure

    if embedding is not None and embedding.get("method", "pca") not in EMBEDDING_METHODS:
        raise UsageError(f"embedding method={embedding['method']!r}: expected one of "
                         f"{', '.join(EMBEDDING_METHODS)}")
    os.makedirs(out_dir, exist_ok=True)
    plots, errors = {}, {}
    for name, make in _figure_makers(report, embedding, "pca"):
        # A plot that cannot be drawn from odd data must not cost the evaluation's
        # numbers: it is left out, named in "plot_errors", and a warning says why.
        try:
            save_figure(make(), os.path.join(out_dir, PLOT_FILES[name]))
        except Exception as e:  # noqa: BLE001
            errors[name] = f"{type(e).__name__}: {e}"
            warnings.warn(f"evaluation report: no {PLOT_FILES[name]}: {errors[name]}",
                          stacklevel=2)
            continue
        plots[name] = PLOT_FILES[name]
    written = dict(report or {})
    written["plots"] = plots
    if errors:
        written["plot_errors"] = errors
    written = to_jsonable(written)
    markdown = report_markdown(written)  # before any report file is replaced
    write_json_atomic(os.path.join(out_dir, REPORT_FILES["json"]), written)
    write_text_atomic(os.path.join(out_dir, REPORT_FILES["markdown"]), markdown)
    return written
