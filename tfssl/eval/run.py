"""Evaluation of a run folder written by ``tfssl-pretrain`` (what ``tfssl-evaluate`` calls).

One entry point, :func:`evaluate_run`, runs the requested protocols on a run's encoder
for either modality and writes the report (``MODEL_DIR/eval/report.json``, ``report.md``
and its plots). What depends on the modality (loading the data, features, fine-tuning,
corruptions) lives in :class:`ImageEvaluation` and :class:`TextEvaluation`, which expose
the same small interface; the protocols themselves are written once.

Protocols:

- ``knn``: weighted kNN top-1 (memory bank: ``train_dataset``), pretrained vs random init.
- ``linear``: linear probe on frozen features, pretrained vs random init, with the
  confusion matrix of the pretrained probe.
- ``finetune``: the whole encoder fine-tuned on class-balanced, seeded fractions of the
  training labels, next to the same architecture trained from scratch on the same labels.
- ``label_free``: RankMe, alignment, uniformity, per-dimension std (collapse) and, with
  labels, the NMI of k-means clusters; no label is used except for the NMI.
- ``robustness``: kNN accuracy under corruptions generated on the fly (images: noise,
  blur, contrast, brightness, JPEG, pixelation; text: typos, word dropout, word swap), 5
  severities each; the mean corruption accuracy and the curves.
- ``all``: every protocol that applies (only ``label_free`` without labels).
"""

import os
import time

import numpy as np

from tfssl.errors import UsageError, check_number
from tfssl.eval.knn import DEFAULT_K, DEFAULT_TEMPERATURE, check_knn
from tfssl.eval.robustness import IMAGE_CORRUPTIONS, TEXT_CORRUPTIONS

__all__ = ["evaluate_run", "parse_protocols", "PROTOCOLS", "ImageEvaluation",
           "TextEvaluation"]

PROTOCOLS = ("knn", "linear", "finetune", "label_free", "robustness")
LABELLED_PROTOCOLS = ("knn", "linear", "finetune", "robustness")
EVAL_DIR = "eval"


def parse_protocols(value):
    """``"knn,linear"`` / ``"all"`` / a sequence -> protocol names in canonical order."""
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [i.strip() for i in items if i.strip()]
    if "all" in items:
        return list(PROTOCOLS)
    unknown = [i for i in items if i not in PROTOCOLS]
    if unknown or not items:
        raise UsageError(f"--protocol={value!r}: expected all or a comma-separated list "
                         f"of {', '.join(PROTOCOLS)}")
    return [p for p in PROTOCOLS if p in items]


class ImageEvaluation:
    """The image side: data specs, the Keras encoder, features, fine-tuning, corruptions."""

    modality = "image"
    corruptions = IMAGE_CORRUPTIONS

    def __init__(self, model_dir, config, dataset=None, train_dataset=None, data_dir=None,
                 download=False, seed=0):
        from tfssl.data import load_train_test, match_channels

        self.config = config
        self.seed = seed
        self.flip = bool(config.get("flip", True))
        self.dataset = dataset or config.get("eval_dataset") or config["dataset"]
        self.train_dataset = train_dataset or config["dataset"]
        self.train, self.test = load_train_test(
            self.train_dataset, self.dataset, image_size=config["image_size"],
            data_dir=data_dir, download=download,
            image_input=config.get("image_input", "memory"),
            image_cache_dir=config.get("image_cache_dir"))
        channels = config["channels"]
        self.train = match_channels(self.train, channels)
        self.test = match_channels(self.test, channels)
        self.encoder = _load_keras_encoder(model_dir, config)

    @property
    def labelled(self):
        return self.gap is None

    @property
    def gap(self):
        """Why labelled protocols cannot run, or None (:func:`evaluation_gap`)."""
        from tfssl.data.images import evaluation_gap

        return evaluation_gap(self.train, self.test)

    def class_names(self):
        return list(self.train.class_names or self.test.class_names)

    def features(self, encoder, data):
        from tfssl.eval.features import extract_features

        return extract_features(encoder, data)

    def finetune(self, subset, encoder, settings):
        from tfssl.eval.finetune import finetune_image_encoder

        return finetune_image_encoder(
            encoder, subset, self.test, steps=settings["finetune_steps"],
            batch_size=settings["finetune_batch_size"],
            learning_rate=settings["finetune_learning_rate"], flip=self.flip,
            seed=self.seed)

    def corrupt(self, data, name, severity, seed=0):
        from tfssl.eval.robustness import corrupt_images

        return corrupt_images(data, name, severity, seed=seed)

    def label_free(self, encoder, data, max_examples):
        from tfssl.eval.label_free import image_label_free_metrics

        return image_label_free_metrics(encoder, data, max_examples=max_examples,
                                        seed=self.seed)


class TextEvaluation:
    """The text side: ``labeled_text:`` specs, the run's vocabulary, pooled features."""

    modality = "text"
    corruptions = TEXT_CORRUPTIONS
    labelled = True  # labeled_text: files always carry labels

    def __init__(self, model_dir, config, dataset=None, train_dataset=None, data_dir=None,
                 download=False, seed=0):
        from tfssl.data.text import load_labeled_text
        from tfssl.methods.text_classifier import load_run

        del data_dir, download  # labelled text is read from files
        self.seed = seed
        for flag, spec in (("--train_dataset", train_dataset), ("--dataset", dataset)):
            if not spec:
                raise UsageError(f"{flag}=labeled_text:PATH is required to evaluate a "
                                 "text run (its pretraining text has no labels)")
        if os.path.realpath(_path_of(train_dataset)) == os.path.realpath(_path_of(dataset)):
            raise UsageError(f"--dataset={dataset} is also --train_dataset: evaluation "
                             "texts must be disjoint from the kNN memory bank and the "
                             "classifier's training texts")
        self.train_dataset, self.dataset = train_dataset, dataset
        self.train = load_labeled_text(train_dataset)
        self.test = load_labeled_text(dataset, label_names=self.train.label_names)
        _, self.vocab, self.encoder = load_run(model_dir)
        self.max_length = config["max_length"]
        self.lowercase = config.get("lowercase", True)

    def class_names(self):
        return list(self.train.label_names)

    def features(self, encoder, data):
        from tfssl.eval.text import text_features

        return text_features(encoder, self.vocab, data.texts, self.max_length,
                             lowercase=self.lowercase)

    def finetune(self, subset, encoder, settings):
        import keras

        from tfssl.methods.text_classifier import finetune_text_classifier

        copy = keras.models.clone_model(encoder)  # fine-tuning changes the weights
        copy.set_weights(encoder.get_weights())
        _, result = finetune_text_classifier(
            copy, self.vocab, subset, self.test, max_length=self.max_length,
            lowercase=self.lowercase, steps=settings["finetune_steps"],
            batch_size=settings["finetune_batch_size"],
            learning_rate=settings["finetune_learning_rate"], seed=self.seed, verbose=0)
        return result["accuracy"]

    def corrupt(self, data, name, severity, seed=0):
        from tfssl.eval.robustness import corrupt_texts

        texts = corrupt_texts(data.texts, name, severity, seed=seed)
        return data.subset(range(len(data)), texts=texts)

    def label_free(self, encoder, data, max_examples):
        from tfssl.eval.label_free import label_free_metrics

        from tfssl.eval.label_free import subsample_indices

        index = subsample_indices(len(data), max_examples, self.seed)
        subset = data.subset(index)
        noisy = self.corrupt(subset, "word_dropout", 1, seed=self.seed)
        feats = self.features(encoder, subset)
        return label_free_metrics(feats, labels=np.asarray(subset.labels),
                                  view_pairs=(feats, self.features(encoder, noisy)),
                                  max_examples=max_examples, seed=self.seed)


def _path_of(spec):
    return spec[len("labeled_text:"):] if spec.startswith("labeled_text:") else spec


def _load_keras_encoder(model_dir, config):
    from tfssl.runs import RUN_FILES
    from tfssl.zoo.card import load_encoder_file

    return load_encoder_file(
        os.path.join(model_dir, config.get("encoder_file", RUN_FILES["encoder"])),
        f"--model_dir={model_dir}")


EVALUATIONS = {"image": ImageEvaluation, "text": TextEvaluation}

DEFAULTS = dict(knn_k=DEFAULT_K, knn_temperature=DEFAULT_TEMPERATURE, linear_epochs=100,
                label_fractions="0.01,0.1,1.0", finetune_steps=300, finetune_batch_size=64,
                finetune_learning_rate=None, corruptions=None, severities="1,2,3,4,5",
                label_free_examples=2048, embedding_map="pca", seed=0)


def _check_settings(settings, side):
    """The protocol settings, defaults filled in and checked; ``side`` is the run's
    evaluation class (:data:`EVALUATIONS`), only its ``modality`` and ``corruptions``
    are read."""
    from tfssl.data.subsets import parse_fractions

    s = dict(DEFAULTS, **{k: v for k, v in settings.items() if v is not None})
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown evaluation settings: {', '.join(sorted(unknown))}")
    s["knn_k"], s["knn_temperature"] = check_knn(s["knn_k"], s["knn_temperature"])
    s["label_fractions"] = parse_fractions(s["label_fractions"], "label_fraction")
    for key in ("linear_epochs", "finetune_steps", "finetune_batch_size",
                "label_free_examples"):
        if int(s[key]) != s[key] or s[key] < 1:
            raise UsageError(f"--{key}={s[key]}: expected a whole number >= 1")
        s[key] = int(s[key])
    if s["finetune_learning_rate"] is None:
        s["finetune_learning_rate"] = 1e-3 if side.modality == "image" else 1e-4
    s["finetune_learning_rate"] = check_number("finetune_learning_rate",
                                               s["finetune_learning_rate"])
    corruptions = s["corruptions"] or list(side.corruptions)
    if isinstance(corruptions, str):
        corruptions = [c.strip() for c in corruptions.split(",") if c.strip()]
    bad = [c for c in corruptions if c not in side.corruptions]
    if bad or not corruptions:
        raise UsageError(f"--corruptions={','.join(corruptions)}: expected some of "
                         f"{', '.join(side.corruptions)} for a {side.modality} run")
    s["corruptions"] = list(corruptions)
    severities = s["severities"]
    if isinstance(severities, str):
        severities = [v.strip() for v in severities.split(",") if v.strip()]
    try:
        severities = sorted({int(v) for v in severities})
    except ValueError:
        severities = []
    if not severities or min(severities) < 1 or max(severities) > 5:
        raise UsageError(f"--severities={s['severities']}: expected numbers in 1..5")
    s["severities"] = severities
    if s["embedding_map"] not in ("pca", "tsne"):
        raise UsageError(f"--embedding_map={s['embedding_map']!r}: expected pca or tsne")
    return s


def evaluate_run(model_dir, dataset=None, train_dataset=None, protocol="knn",
                 data_dir=None, download=False, write_report=True, verbose=True,
                 **settings):
    """Evaluates the encoder of a ``tfssl-pretrain`` run folder; returns the report dict.

    Args:
        model_dir: the run folder.
        dataset: labelled evaluation data (images: default the run's held-out data;
            text: a ``labeled_text:`` file, required). Disjoint from ``train_dataset``:
            the same spec gives its held-out split, a different one is used whole.
        train_dataset: labelled data for the kNN memory bank, the probe and the
            fine-tuning (images: default the run's training data).
        protocol: ``all`` or comma-separated names from :data:`PROTOCOLS`.
        write_report: write ``MODEL_DIR/eval/report.{json,md}`` and the plots.
        **settings: protocol settings (see ``DEFAULTS``): ``knn_k``, ``knn_temperature``,
            ``linear_epochs``, ``label_fractions``, ``finetune_steps``,
            ``finetune_batch_size``, ``finetune_learning_rate``, ``corruptions``,
            ``severities``, ``label_free_examples``, ``embedding_map``, ``seed``.

    Returns:
        The report (see :func:`tfssl.eval.report.write_report`), with a flat ``summary``
        of the headline numbers, also appended to ``metrics.json`` under
        ``evaluations``.
    """
    from tfssl.eval.features import float32_copy
    from tfssl.eval.finetune import label_fraction_curve, random_init_copy
    from tfssl.eval.knn import knn_accuracy
    from tfssl.eval.linear import linear_probe
    from tfssl.runs import (RUN_FILES, load_run_config, read_run_metrics,
                            replace_dir_atomic, update_json_atomic)

    start = time.time()
    protocols = parse_protocols(protocol)
    config, spec = load_run_config(model_dir)
    knn_history = read_run_metrics(model_dir).get("knn_history", [])
    seed = int(settings.get("seed") or 0)
    side_of = EVALUATIONS[spec.modality]
    s = _check_settings(settings, side_of)  # before the data and the encoder are read
    side = side_of(model_dir, config, dataset=dataset, train_dataset=train_dataset,
                   data_dir=data_dir, download=download, seed=seed)
    if not side.labelled:
        explicit = [p for p in protocols if p in LABELLED_PROTOCOLS]
        if explicit and protocol != "all":
            raise UsageError(f"--protocol={','.join(explicit)} needs labelled images: "
                             f"{side.gap}")
        protocols = [p for p in protocols if p not in LABELLED_PROTOCOLS]

    def log(message):
        if verbose:
            print(f"tfssl-evaluate: {message} ({time.time() - start:.0f} s)", flush=True)

    encoder = float32_copy(side.encoder)
    random_encoder = random_init_copy(encoder, seed=config.get("seed", 0))
    labels = {"train": np.asarray(side.train.labels), "test": np.asarray(side.test.labels)}
    num_classes = len(side.class_names()) or int(max(labels["train"].max(),
                                                     labels["test"].max())) + 1
    features = {}

    def feats(which, random=False):
        key = (which, random)
        if key not in features:
            data = side.train if which == "train" else side.test
            features[key] = side.features(random_encoder if random else encoder, data)
        return features[key]

    results = {}
    if "knn" in protocols:
        k, t = s["knn_k"], s["knn_temperature"]
        results["knn"] = {
            "top1": knn_accuracy(feats("train"), labels["train"], feats("test"),
                                 labels["test"], k, t, num_classes),
            "top1_random_init": knn_accuracy(feats("train", True), labels["train"],
                                             feats("test", True), labels["test"], k, t,
                                             num_classes),
            "k": k, "temperature": t}
        log(f"knn top-1 {results['knn']['top1']:.4f}")
    if "linear" in protocols:
        probe = linear_probe(feats("train"), labels["train"], feats("test"),
                             labels["test"], num_classes, epochs=s["linear_epochs"],
                             seed=seed)
        results["linear"] = {
            "top1": probe["top1"],
            "top1_random_init": linear_probe(
                feats("train", True), labels["train"], feats("test", True),
                labels["test"], num_classes, epochs=s["linear_epochs"], seed=seed)["top1"],
            "epochs": s["linear_epochs"],
            "confusion_matrix": probe["confusion_matrix"].tolist(),
            "class_names": side.class_names()}
        log(f"linear top-1 {results['linear']['top1']:.4f}")
    if "finetune" in protocols:
        curve = label_fraction_curve(
            lambda subset, pretrained: side.finetune(
                subset, encoder if pretrained else random_init_copy(encoder, seed), s),
            side.train, s["label_fractions"], seed=seed)
        results["finetune"] = {"label_fractions": curve, "steps": s["finetune_steps"],
                               "batch_size": s["finetune_batch_size"],
                               "learning_rate": s["finetune_learning_rate"]}
        log("fine-tuning " + ", ".join(
            f"{r['fraction']:g}: {r['pretrained']:.3f} vs {r['scratch']:.3f}"
            for r in curve))
    if "label_free" in protocols:
        lf = side.label_free(encoder, side.test, s["label_free_examples"])
        lf_random = side.label_free(random_encoder, side.test, s["label_free_examples"])
        results["label_free"] = dict(lf, rankme_random_init=lf_random["rankme"],
                                     examples=min(len(side.test), s["label_free_examples"]))
        log(f"RankMe {lf['rankme']:.1f} of {lf['dims']} dimensions")
    if "robustness" in protocols:
        from tfssl.eval.robustness import robustness_curve

        k, t = s["knn_k"], s["knn_temperature"]

        def accuracy(data):
            return knn_accuracy(feats("train"), labels["train"],
                                side.features(encoder, data), np.asarray(data.labels), k,
                                t, num_classes)

        curve = robustness_curve(accuracy, side.test, s["corruptions"], s["severities"],
                                 corrupt_fn=side.corrupt, seed=seed)
        results["robustness"] = dict(curve, probe="knn")
        log(f"mean corruption accuracy {curve['mean_corruption_accuracy']:.4f} "
            f"(clean {curve['clean']:.4f})")

    metrics_path = os.path.join(model_dir, RUN_FILES["metrics"])
    report = {"model_dir": os.path.abspath(model_dir), "method": spec.name,
              "modality": spec.modality,
              # What was used: "SPEC held-out 10%" / "SPEC without the held-out 10%"
              # when both come from one source.
              "dataset": getattr(side.test, "source", None) or side.dataset,
              "train_dataset": getattr(side.train, "source", None) or side.train_dataset,
              "train_examples": len(side.train),
              "eval_examples": len(side.test), "protocols": results,
              "settings": dict(s), "knn_history": knn_history}
    report["summary"] = summarize(report)
    report["wall_seconds"] = round(time.time() - start, 1)
    report["summary"]["wall_seconds"] = report["wall_seconds"]
    if write_report:
        from tfssl.eval.report import write_report as write

        embedding = None
        if side.labelled or "label_free" in protocols:
            embedding = dict(features=feats("test"), labels=labels["test"],
                             class_names=side.class_names(), method=s["embedding_map"])
        out_dir = os.path.join(model_dir, EVAL_DIR)
        written = {}
        # The folder is replaced whole: an earlier evaluation's plots (of protocols this
        # one did not run) would otherwise sit next to this report.
        replace_dir_atomic(lambda d: written.update(write(d, report, embedding=embedding)),
                           out_dir)
        report = written
        report["summary"]["report"] = os.path.join(out_dir, "report.md")
    update_json_atomic(metrics_path, lambda m: m.setdefault("evaluations", []).append(
        report["summary"]))
    return report


def summarize(report):
    """The headline numbers of a report, flat (one JSON line, ``metrics.json``)."""
    p = report["protocols"]
    out = {"protocol": ",".join(p), "dataset": report["dataset"],
           "train_dataset": report["train_dataset"],
           "train_examples": report["train_examples"],
           "eval_examples": report["eval_examples"]}
    for name in ("knn", "linear"):
        if name in p:
            out[f"{name}_top1"] = p[name]["top1"]
            out[f"{name}_top1_random_init"] = p[name]["top1_random_init"]
    if "knn" in p:
        out["knn_k"] = p["knn"]["k"]
    for row in p.get("finetune", {}).get("label_fractions", []):
        out[f"finetune_f{row['fraction']:g}_pretrained"] = row["pretrained"]
        out[f"finetune_f{row['fraction']:g}_scratch"] = row["scratch"]
    if "label_free" in p:
        for key in ("rankme", "rankme_random_init", "alignment", "uniformity", "nmi"):
            if p["label_free"].get(key) is not None:
                out[key] = p["label_free"][key]
    if "robustness" in p:
        out["robustness_clean"] = p["robustness"]["clean"]
        out["mean_corruption_accuracy"] = p["robustness"]["mean_corruption_accuracy"]
    return out
