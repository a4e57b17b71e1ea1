"""Recipes and default settings: where every run setting gets its default.

A run's settings are resolved in this order, each layer overriding the one before:

1. :data:`RUN_DEFAULTS`, shared by every run (seed, strategy, precision, ...);
2. :data:`MODALITY_DEFAULTS` of the method's modality (data, encoder, optimizer,
   augmentation or text settings);
3. the method's registered ``defaults`` (:mod:`tfssl.methods.registry`): its own
   hyper-parameters and the recipe values it changes;
4. the named preset, when one is given (a preset names its method, so
   ``--preset=simclr_cifar10`` alone chooses the method);
5. the values the user gives explicitly (command-line flags, keyword arguments).

Every registered method also has a preset ``METHOD_DATASET`` for its modality's default
data (``simclr_digits``, ``mlm_python_docs``): the method's defaults as they are.
"""

import os

from tfssl.errors import UsageError
from tfssl.eval.knn import DEFAULT_K

RUN_DEFAULTS = dict(
    seed=0,
    strategy="auto",
    num_cpu_replicas=None,  # N: split the CPU into N logical devices (mirrored on a laptop)
    precision="auto",  # mixed_bfloat16 where measured faster (tfssl.runs.machine)
    jit_compile=None,  # None: tfssl.distribute.default_jit_compile decides
    model_dir=None,  # None: tfssl_runs/METHOD
    data_dir=None,
    download=False,
    eval_dataset=None,  # None: the held-out split of the training data
    steps_per_epoch=None,  # None: one pass over the training data
    budget_minutes=None,  # a wall-clock budget: train until it is spent (epochs a cap)
    overwrite=False,  # train into a model_dir that holds a finished or another run
)

MODALITY_DEFAULTS = {
    # The image quick start: a width-1/4 CIFAR ResNet-18 on scikit-learn's embedded
    # digits at 16 px (the originals are 8 px).
    "image": dict(
        dataset="digits", encoder="resnet18", width=0.25, stem=None, image_size=16,
        epochs=20, batch_size=128, optimizer="adamw", learning_rate=2e-3,
        weight_decay=1e-4, warmup_epochs=1.5, min_crop_scale=0.3, color_jitter=0.5,
        flip=True, blur=None, solarize=0.0, knn_every=0, knn_k=DEFAULT_K,
        label_free_every=0,
        crop_sampling="simclr",  # or "torchvision" (tfssl.augment.random_resized_crop)
        image_input="auto",  # memory | stream | auto (tfssl.data.load_images)
        image_cache_dir=None),  # streamed images decoded and resized once, kept here
    # The text quick start: BERT tiny on CPython's own documentation.
    "text": dict(
        dataset="python_docs", encoder="bert_tiny", epochs=10, batch_size=32,
        max_length=128, vocab_size=4096, optimizer="adamw", learning_rate=2e-3,
        weight_decay=0.01, warmup_epochs=1.0, whole_word_masking=False, max_span_length=1,
        lowercase=True,
        text_key="text", paragraphs=False),
}

# What every CIFAR-10 recipe shares: 32 px images of tfds:cifar10 (or a folder:/archive of
# class folders), a full-width CIFAR ResNet-18, the papers' crop range.
_CIFAR10 = dict(dataset="tfds:cifar10", encoder="resnet18", width=1.0, image_size=32,
                epochs=200, batch_size=256, min_crop_scale=0.08, color_jitter=0.5,
                flip=True, warmup_epochs=10)

PRESETS = {
    # SimCLR on CIFAR-10-like 32 px images (folder:, tfds:cifar10): the paper's CIFAR
    # recipe (ResNet-18 CIFAR stem, LARS, batch 512, temperature 0.5).
    "simclr_cifar10": dict(
        _CIFAR10, method="simclr", epochs=500, batch_size=512, optimizer="lars",
        learning_rate=0.3 * 512 / 256, weight_decay=1e-6,
        temperature=0.5, projection_dim=128, projection_hidden_dim=512,
        projection_layers=2),
    # The other image methods on CIFAR-10: each paper's head shapes scaled to a CPU
    # budget (heads of 1024 instead of 2048-8192 wide), AdamW at the modality's rate.
    "byol_cifar10": dict(
        _CIFAR10, method="byol", projection_dim=256, projection_hidden_dim=1024,
        prediction_hidden_dim=1024, base_momentum=0.99),
    "simsiam_cifar10": dict(
        _CIFAR10, method="simsiam", projection_dim=1024, projection_hidden_dim=1024,
        projection_layers=2, prediction_hidden_dim=256),
    "barlow_twins_cifar10": dict(
        _CIFAR10, method="barlow_twins", projection_dim=1024,
        projection_hidden_dim=1024, projection_layers=3, offdiag_weight=5e-3),
    "vicreg_cifar10": dict(
        _CIFAR10, method="vicreg", projection_dim=1024, projection_hidden_dim=1024,
        projection_layers=3),
    "moco_cifar10": dict(
        _CIFAR10, method="moco", projection_dim=128, projection_hidden_dim=512,
        temperature=0.2, queue_size=4096, base_momentum=0.99),
    # DeepCluster over-clusters (10x the classes) and re-clusters every other epoch.
    "deepcluster_cifar10": dict(
        _CIFAR10, method="deepcluster", num_clusters=100, pca_dim=64, cluster_every=2,
        warmup_epochs=2),
    # ImageNet-style recipe at 224 px (SimCLR v2 head: 3 layers).
    "simclr_imagenet": dict(
        method="simclr", dataset="tfds:imagenet2012", encoder="resnet50", width=1.0,
        image_size=224, epochs=100, batch_size=4096, optimizer="lars",
        learning_rate=0.3 * 4096 / 256, weight_decay=1e-6, warmup_epochs=10,
        temperature=0.1, projection_dim=128, projection_hidden_dim=2048,
        projection_layers=3, min_crop_scale=0.08, color_jitter=1.0, flip=True),
}


def _default_presets():
    """``METHOD_DATASET`` for every registered method: its defaults as they are."""
    from tfssl.methods import registry

    out = {}
    for name in registry.names():
        spec = registry.get(name)
        dataset = {**MODALITY_DEFAULTS[spec.modality], **spec.defaults}["dataset"]
        out[f"{name}_{dataset}"] = {"method": name}
    return out


def preset_names():
    """Every preset name: the method defaults and the named recipes."""
    return sorted({**_default_presets(), **PRESETS})


def get_preset(name):
    """The recipe called ``name`` (a copy); it always names its ``method``."""
    presets = {**_default_presets(), **PRESETS}
    if name not in presets:
        raise UsageError(f"--preset={name!r}: expected one of {', '.join(sorted(presets))}")
    return dict(presets[name])


def resolve_settings(method=None, preset=None, **overrides):
    """The complete settings of a run (see the module docstring for the order).

    Args:
        method: a registered method name (default: the preset's, else ``simclr``).
        preset: a preset name, or None.
        **overrides: explicit values; ``None`` means "not given".

    Returns:
        a dict with every setting the run uses, plus ``method`` and ``preset``.

    Raises:
        UsageError: unknown method or preset, a method that contradicts the preset, or a
            setting the method does not have.
    """
    from tfssl.methods import registry

    recipe = get_preset(preset) if preset else {}
    if recipe and method and method != recipe["method"]:
        raise UsageError(f"--method={method} contradicts --preset={preset}, a "
                         f"{recipe['method']} recipe; give one of them")
    method = recipe.pop("method", None) or method or "simclr"
    spec = registry.get(method)
    settings = {**RUN_DEFAULTS, **MODALITY_DEFAULTS[spec.modality], **spec.defaults,
                **recipe}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in settings:
            raise UsageError(f"--{key}: not a setting of method {method!r} "
                             f"({spec.modality}); its settings: "
                             f"{', '.join(sorted(settings))}")
        settings[key] = value
    settings["method"] = method
    settings["preset"] = preset
    if not settings["model_dir"]:
        settings["model_dir"] = os.path.join("tfssl_runs", method)
    return settings
