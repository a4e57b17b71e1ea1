"""The zoo: named recipes (method + encoder + hyper-parameters + data source).

``tfssl-pretrain --preset=NAME`` starts from a recipe; every flag given explicitly
overrides the recipe's value. ``tfssl-pretrain`` with no flags runs ``simclr_digits``.
"""

from tfssl.errors import UsageError

PRESETS = {
    # The quick start: a width-1/4 CIFAR ResNet-18 on the embedded digits, 16 px
    # (the originals are 8 px). About 2 minutes on 2 CPU cores; see README for numbers.
    "simclr_digits": dict(
        method="simclr", dataset="digits", encoder="resnet18", width=0.25, image_size=16,
        epochs=20, batch_size=128, optimizer="adamw", learning_rate=2e-3,
        weight_decay=1e-4, warmup_epochs=1.5, temperature=0.2, projection_dim=64,
        projection_hidden_dim=256, projection_layers=2, min_crop_scale=0.3,
        color_jitter=0.5, flip=True),
    # SimCLR on CIFAR-10-like 32 px images (folder:, tfds:cifar10): the paper's CIFAR
    # recipe (ResNet-18 CIFAR stem, LARS, batch 512, temperature 0.5).
    "simclr_cifar10": dict(
        method="simclr", dataset="tfds:cifar10", encoder="resnet18", width=1.0,
        image_size=32, epochs=500, batch_size=512, optimizer="lars", learning_rate=0.3 * 512 / 256,
        weight_decay=1e-6, warmup_epochs=10, temperature=0.5, projection_dim=128,
        projection_hidden_dim=512, projection_layers=2, min_crop_scale=0.08,
        color_jitter=0.5, flip=True),
    # ImageNet-style recipe at 224 px (SimCLR v2 head: 3 layers).
    "simclr_imagenet": dict(
        method="simclr", dataset="tfds:imagenet2012", encoder="resnet50", width=1.0,
        image_size=224, epochs=100, batch_size=4096, optimizer="lars",
        learning_rate=0.3 * 4096 / 256, weight_decay=1e-6, warmup_epochs=10,
        temperature=0.1, projection_dim=128, projection_hidden_dim=2048,
        projection_layers=3, min_crop_scale=0.08, color_jitter=1.0, flip=True),
}

DEFAULT_PRESET = {"simclr": "simclr_digits"}


def get_preset(name):
    """The recipe called ``name`` (a copy)."""
    if name not in PRESETS:
        raise UsageError(f"--preset={name!r}: expected one of {', '.join(sorted(PRESETS))}")
    return dict(PRESETS[name])
