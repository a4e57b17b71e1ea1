"""The zoo's catalogue: named entries, each a recipe over a preset, and their results.

An entry names a preset of :mod:`tfssl.presets` and only the settings it changes; its
full settings are :func:`entry_settings` (``resolve_settings(preset=..., **overrides)``).
``registered`` lists settings taken from the method's own registered defaults rather than
from the preset (the CIFAR-10 benchmark keeps each method's registered AdamW rate).

Measured numbers live in :data:`tfssl.zoo.results.RESULTS` (written by a script from
each trained entry's card); an entry without a measurement has ``results`` None.
"""

from tfssl.errors import UsageError

__all__ = ["CATALOGUE", "entry_names", "get_entry", "entry_settings", "catalogue_lines"]

# Paths are relative to the checkout (the shared data sits next to the project).
CIFAR10_ARCHIVE = "../shared/data/cifar10/train.tar.gz"
WIKITEXT2 = "../shared/data/wikitext2/wiki.{}.raw"

# What benchmarks/methods_cifar10.py shares between methods: the archive, the small
# convnet, batch 256, AdamW at the method's registered rate, temperature 0.2 where the
# method has one, bfloat16 compute, 10 minutes of training.
_CIFAR10_CONVNET = dict(
    dataset="folder:" + CIFAR10_ARCHIVE, encoder="convnet", width=1.0, image_size=32,
    batch_size=256, optimizer="adamw", min_crop_scale=0.08, color_jitter=0.5,
    precision="mixed_bfloat16", epochs=10**6, budget_minutes=10.0, knn_k=20)


def _cifar10(method, **extra):
    return dict(
        preset=f"{method}_cifar10", overrides=dict(_CIFAR10_CONVNET, **extra),
        registered=("learning_rate", "weight_decay"), data="cifar10",
        description=f"{method} on CIFAR-10 (the shared JPEG copy minus a held-out slice), "
                    "small convnet, 10 minutes of training")


CATALOGUE = {
    "simclr_cifar10_convnet": _cifar10("simclr", temperature=0.2),
    "byol_cifar10_convnet": _cifar10("byol"),
    "vicreg_cifar10_convnet": _cifar10("vicreg"),
    "moco_cifar10_convnet": _cifar10("moco", temperature=0.2),
    "deepcluster_digits": dict(
        preset="deepcluster_digits", overrides={}, registered=(), data="digits",
        description="DeepCluster on scikit-learn's embedded 8x8 digits (at 16 px), "
                    "width-1/4 CIFAR ResNet-18"),
    "mlm_bert_tiny_wikitext2": dict(
        preset="mlm_python_docs",
        overrides=dict(dataset="textfile:" + WIKITEXT2.format("train"),
                       eval_dataset="textfile:" + WIKITEXT2.format("valid"),
                       encoder="bert_tiny"),
        registered=(), data="wikitext2",
        description="BERT tiny masked language model on WikiText-2 (raw), one line a "
                    "document"),
}


def entry_names():
    """The catalogue's entry names, sorted."""
    return sorted(CATALOGUE)


def get_entry(name):
    """The entry called ``name``: its recipe, ``settings`` and ``results`` (or None)."""
    from tfssl.zoo.results import RESULTS

    if name not in CATALOGUE:
        raise UsageError(f"zoo entry {name!r}: expected one of {', '.join(entry_names())}")
    entry = dict(CATALOGUE[name], name=name, results=RESULTS.get(name))
    entry["overrides"] = dict(entry["overrides"])
    return entry


def entry_settings(name, **overrides):
    """The complete run settings of entry ``name`` (``model_dir`` etc. as overrides)."""
    from tfssl.presets import get_preset, resolve_settings

    entry = get_entry(name)
    method = get_preset(entry["preset"])["method"]
    own = resolve_settings(method=method)
    values = {k: own[k] for k in entry["registered"]}
    values.update(entry["overrides"])
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("model_dir", f"tfssl_runs/{name}")
    return resolve_settings(preset=entry["preset"], **values)


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def format_results(results):
    """One phrase of measured numbers, e.g. ``knn 0.555 (random init 0.412), 10 min on
    2 CPU cores``; ``not trained yet`` when there are none."""
    if not results:
        return "not trained yet"
    parts = []
    if results.get("knn_top1") is not None:
        text = f"knn {results['knn_top1']:.3f}"
        if results.get("knn_top1_random_init") is not None:
            text += f" (random init {results['knn_top1_random_init']:.3f})"
        parts.append(text)
    if results.get("masked_accuracy") is not None:
        parts.append(f"masked accuracy {results['masked_accuracy']:.3f}")
    if results.get("linear_top1") is not None:
        parts.append(f"linear {results['linear_top1']:.3f}")
    out = ", ".join(parts) or "measured"
    if results.get("train_seconds") is not None:
        out += f", {_minutes(results['train_seconds'])}"
        hw = results.get("hardware") or {}
        if hw.get("gpus"):
            out += f" on {hw['gpus'][0]}"
        elif hw.get("cpu_cores"):
            out += f" on {hw['cpu_cores']} CPU cores"
    return out


def catalogue_lines():
    """One line per zoo entry, then one per plain preset (``tfssl-pretrain
    --list_presets``)."""
    from tfssl.presets import get_preset, preset_names, resolve_settings

    lines = ["# zoo entries: name  method  encoder  data  results"]
    for name in entry_names():
        entry = get_entry(name)
        s = entry_settings(name)
        lines.append(f"{name}  {s['method']}  {s['encoder']}  {s['dataset']}  "
                     f"{format_results(entry['results'])}")
    lines.append("# presets (--preset=NAME): name  method  encoder  data")
    for name in preset_names():
        s = resolve_settings(preset=name)
        lines.append(f"{name}  {get_preset(name)['method']}  {s['encoder']}  "
                     f"{s['dataset']}")
    return lines
