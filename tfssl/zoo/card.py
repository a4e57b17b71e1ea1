"""Model cards: what a run is, how it was trained, what it measured, how to load it.

Every run folder written by ``tfssl-pretrain`` carries what a card needs
(``config.json`` and ``metrics.json``): :func:`card_from_run` builds the card as a dict
and :func:`write_card` writes it as ``card.json`` plus a human ``README.md``.
"""

import datetime
import os

from tfssl.errors import UsageError
from tfssl.runs.files import read_json_object
from tfssl.runs.machine import hardware, versions  # noqa: F401 (re-exported)

__all__ = ["card_from_run", "write_card", "render_readme", "data_licence", "hardware",
           "CARD_FILE", "README_FILE"]

CARD_FILE = "card.json"
README_FILE = "README.md"
CARD_VERSION = 1

# Dataset spec fragment -> (name, licence as stated by its source).
_LICENCES = (
    ("digits", "scikit-learn digits (UCI optical recognition of handwritten digits)",
     "BSD-3-Clause, as shipped inside scikit-learn (data from the UCI repository)"),
    ("cifar10", "CIFAR-10 (Krizhevsky, 2009)",
     "MIT-like terms as commonly distributed; the shared copy states none: see "
     "../shared/data/README.md"),
    ("wikitext", "WikiText-2 (raw)", "CC BY-SA 3.0"),
    ("wiki.", "WikiText-2 (raw)", "CC BY-SA 3.0"),
    ("python_docs", "CPython documentation", "PSF License (Python Software Foundation)"),
    ("sst2", "SST-2", "see ../shared/data/sst2/LICENSE.source-repo"),
)

# Settings that say how a run was trained (shown on the card; all settings are kept).
_TRAINING_KEYS = ("preset", "epochs", "steps_per_epoch", "budget_minutes", "batch_size",
                  "optimizer", "learning_rate", "weight_decay", "warmup_epochs",
                  "precision", "strategy", "seed")


def data_licence(spec):
    """``{"name", "licence"}`` of a dataset spec, or an "unknown" licence."""
    text = (spec or "").lower()
    for needle, name, licence in _LICENCES:
        if needle in text:
            return {"name": name, "licence": licence}
    return {"name": spec, "licence": "unknown: check the data's own terms"}


def _read_json(path, flag, what):
    try:
        return read_json_object(path, flag)
    except OSError:
        raise UsageError(f"{flag}: no {os.path.basename(path)}; {what}") from None


def _evaluation_command(summary):
    if summary.get("command"):
        return summary["command"]
    cmd = "tfssl-evaluate --model_dir=RUN"
    for key, flag in (("protocol", "protocol"), ("dataset", "dataset"),
                      ("train_dataset", "train_dataset")):
        if summary.get(key) is not None:
            cmd += f" --{flag}={summary[key]}"
    return cmd


def _headline(metrics, modality):
    if modality == "image":
        keys = ("knn_top1", "knn_top1_random_init", "knn_k")
        return {k: metrics[k] for k in keys if metrics.get(k) is not None}
    v, b = metrics.get("validation") or {}, metrics.get("baseline") or {}
    out = {"masked_accuracy": v.get("masked_accuracy"), "perplexity": v.get("perplexity"),
           "baseline_masked_accuracy": b.get("masked_accuracy"),
           "unigram_perplexity": b.get("unigram_perplexity")}
    return {k: x for k, x in out.items() if x is not None}


def card_from_run(model_dir, encoder=None, name=None):
    """The model card of a finished ``tfssl-pretrain`` run, as a JSON-able dict.

    Args:
        model_dir: the run folder (``config.json``, ``metrics.json``,
            ``keras/encoder.keras``).
        encoder: the run's encoder when the caller has loaded it already (its parameters
            are counted); None loads ``keras/encoder.keras``.
        name: the card's name (default: the run folder's name).

    Returns:
        ``{"name", "method", "modality", "encoder", "parameters", "input", "data",
        "training", "results", "evaluations", "finetune", "hardware", "versions",
        "settings", ...}``. ``hardware`` is the run's record where it has one, else this
        machine's (``hardware["recorded"]`` says which).

    Raises:
        UsageError: not a run folder, or a run that has not finished.
    """
    from tfssl.runs import RUN_FILES, load_run_config

    flag = f"--model_dir={model_dir}"
    config, spec = load_run_config(model_dir)
    metrics = _read_json(os.path.join(model_dir, RUN_FILES["metrics"]), flag,
                         "the run has not finished")
    encoder_file = config.get("encoder_file", RUN_FILES["encoder"])
    if encoder is None:
        encoder = load_encoder_file(os.path.join(model_dir, encoder_file), flag)
    modality = spec.modality
    if modality == "image":
        inputs = {"image_size": config["image_size"], "channels": config.get("channels",
                  int(encoder.input_shape[-1])), "dtype": "float32 in [0, 1]",
                  "class_names": config.get("class_names")}
        examples = {k: config.get(k) for k in ("train_examples", "eval_examples")}
    else:
        inputs = {"max_length": config["max_length"], "lowercase": config["lowercase"],
                  "vocab_size": config.get("vocab_size_actual"), "vocab_file": "vocab.txt"}
        examples = {k: config.get(k) for k in (
            "train_documents", "validation_documents", "train_sequences",
            "validation_sequences")}
    settings = {k: v for k, v in config.items()}
    recorded = config.get("hardware") or metrics.get("hardware")
    hw = dict(recorded, recorded="by the run") if recorded else dict(
        hardware(), recorded="machine that wrote the card (the run did not record its own)")
    evaluations = [dict({k: v for k, v in e.items() if k != "report"},
                        command=_evaluation_command(e))
                   for e in metrics.get("evaluations", []) if isinstance(e, dict)]
    finetune = {}
    for mode, result in (metrics.get("finetune") or {}).items():
        if isinstance(result, dict):
            finetune[mode] = {
                "pretrained": (result.get("pretrained") or {}).get("accuracy"),
                "scratch": (result.get("scratch") or {}).get("accuracy"),
                "command": f"tfssl-finetune --model_dir=RUN --mode={mode} ..."}
    return {
        "card_version": CARD_VERSION,
        "name": name or os.path.basename(os.path.normpath(os.path.abspath(model_dir))),
        "method": spec.name, "modality": modality, "encoder": config["encoder"],
        "parameters": int(encoder.count_params()),
        "input": inputs,
        "data": dict(data_licence(config["dataset"]), dataset=config["dataset"],
                     eval_dataset=config.get("eval_dataset"),
                     eval_licence=data_licence(config["eval_dataset"])
                     if config.get("eval_dataset") else None, **examples),
        "training": dict({k: config.get(k) for k in _TRAINING_KEYS},
                         steps=metrics.get("steps"), epochs_done=metrics.get("epochs"),
                         train_seconds=metrics.get("train_seconds"),
                         wall_seconds=metrics.get("wall_seconds")),
        "results": _headline(metrics, modality),
        "evaluations": evaluations,
        "finetune": finetune,
        "hardware": hw,
        "versions": versions(),
        "settings": settings,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }


def load_encoder_file(path, flag):
    """``keras.saving.load_model`` of an encoder file, with tfssl's classes registered.

    Raises:
        UsageError: naming ``path`` (after ``flag``) when it is missing or cannot be
            loaded (a truncated or foreign file).
    """
    import keras

    import tfssl  # noqa: F401  (registers the tfssl layers with Keras)

    if not os.path.isfile(path):
        raise UsageError(f"{flag}: {path} is missing (did the pretraining finish?)")
    try:
        return keras.saving.load_model(path)
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file, named in one line
        why = (str(e).strip().splitlines() or [""])[0][:200]
        raise UsageError(f"{flag}: {path} cannot be loaded as a Keras model "
                         f"({type(e).__name__}: {why})") from None


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return "" if value is None else str(value)


def _table(rows):
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows if v is not None]
    return lines


def render_readme(card):
    """The human model card (Markdown) of a card dict."""
    c, t, d, hw = card, card["training"], card["data"], card["hardware"]
    image = c["modality"] == "image"
    title = f"# {c['name']}: {c['method']} / {c['encoder']}"
    what = (f"A {c['encoder']} {'image' if image else 'text'} encoder "
            f"({c['parameters']:,} parameters) pretrained with self-supervised "
            f"**{c['method']}** by tfssl {c['versions']['tfssl']}. ")
    if image:
        i = c["input"]
        what += (f"It maps {i['image_size']}x{i['image_size']}x{i['channels']} images "
                 "(float32 in [0, 1]) to a feature vector.")
    else:
        what += (f"It maps WordPiece token ids (up to {c['input']['max_length']}, "
                 "vocabulary in `vocab.txt`) to `sequence_output` and `pooled_output`.")
    out = [title, "", "## What", "", what, "", "## Data", "",
           f"Trained on `{d['dataset']}`: {d['name']}. Licence: {d['licence']}."]
    if d.get("eval_dataset"):
        out.append(f"Evaluated on `{d['eval_dataset']}`.")
    counts = [(k, d.get(k)) for k in ("train_examples", "eval_examples", "train_documents",
                                      "validation_documents", "train_sequences",
                                      "validation_sequences")]
    if any(v is not None for _, v in counts):
        out += [""] + _table(counts)
    out += ["", "## How it was trained", ""] + _table(
        [(k, t.get(k)) for k in ("preset",) + _TRAINING_KEYS[1:] + (
            "steps", "epochs_done", "train_seconds", "wall_seconds")])
    out += ["", f"Hardware ({hw.get('recorded')}): {hw.get('cpu')}, "
            f"{hw.get('cpu_cores')} cores"
            + (f", GPU {', '.join(hw['gpus'])}" if hw.get("gpus") else ", no GPU")
            + f"; {hw.get('platform')}. TensorFlow {c['versions']['tensorflow']}, "
            f"Keras {c['versions']['keras']}. All settings: `card.json` (`settings`)."]
    out += ["", "## Results", ""]
    if c["results"]:
        out += _table(list(c["results"].items()))
        if image and "knn_top1" in c["results"]:
            out += ["", "kNN top-1 on the held-out images, the pretrained encoder next to "
                    "the same network at its random initialisation."]
    else:
        out.append("No results were recorded for this run.")
    for e in c["evaluations"]:
        out += ["", f"`{e['command']}`", ""] + _table(
            [(k, v) for k, v in e.items() if k != "command"])
    for mode, f in c["finetune"].items():
        out += ["", f"Fine-tuning ({mode}): accuracy {_fmt(f['pretrained'])}"
                + (f" (random init {_fmt(f['scratch'])})" if f.get("scratch") is not None
                   else "")]
    load = ["```python", "import tfssl.zoo", "", 'entry = tfssl.zoo.load("PATH_OR_URL")']
    if image:
        load += ["features = entry.model(uint8_images)   # Rescaling(1/255) + encoder",
                 "encoder = entry.encoder                # [0, 1] input, for fine-tuning"]
    else:
        load += ['pooled = entry.model(["some text"])    # raw strings -> pooled_output',
                 "encoder = entry.encoder                # token ids -> outputs"]
    load += ["```", "",
             "Serving with TensorFlow alone: `tf.saved_model.load(\"saved_model\")`"]
    load[-1] += (" then `.serve(float_images)`, `.serve_uint8(uint8_images_any_size)` or "
                 "`.serve_bytes(jpeg_or_png_strings)`." if image else
                 " then `.signatures[\"serving_default\"](text=strings)` (import "
                 "`tensorflow_text` first).")
    out += ["", "## How to load", ""] + load
    out += ["", "## Licence", "",
            f"The weights were trained on {d['name']} ({d['licence']}); use them within "
            "the data's terms.", "", "## Limitations", "",
            "- A small research model trained briefly: results are for comparing methods "
            "on this data, not state of the art.",
            "- Self-supervised features carry the biases of the training data; measure "
            "them on yours before relying on them."]
    if image:
        out.append("- Inputs must be resized to the encoder's size (`serve_uint8` and "
                   "`serve_bytes` do so with an antialiased bilinear resize).")
    else:
        out.append(f"- Texts are truncated to {c['input']['max_length'] - 2} WordPiece "
                   "tokens; the vocabulary comes from the training text only.")
    return "\n".join(out) + "\n"


def write_card(directory, card):
    """Writes ``card.json`` and ``README.md`` into ``directory``, each atomically."""
    from tfssl.runs.files import write_json_atomic, write_text_atomic

    readme = render_readme(card)
    write_json_atomic(os.path.join(directory, CARD_FILE), card)
    write_text_atomic(os.path.join(directory, README_FILE), readme)
    return directory
