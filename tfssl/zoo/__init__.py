"""The model zoo: named recipes with their results, model cards, one loading call.

    import tfssl.zoo

    entry = tfssl.zoo.load("tfssl_runs/simclr")       # a run folder, or an export, or a URL
    features = entry.model(uint8_images)              # preprocessing included
    entry.encoder, entry.card, entry.kind             # raw encoder, model card, image|text

    tfssl.zoo.export_run("tfssl_runs/simclr", "zoo/simclr")   # = tfssl-export
    card = tfssl.zoo.card_from_run("tfssl_runs/simclr")
    settings = tfssl.zoo.entry_settings("simclr_cifar10_convnet", model_dir="runs/x")
    tfssl.pretrain(settings)                          # trains the catalogue's recipe

Every run folder written by ``tfssl-pretrain`` is already a loadable entry;
``tfssl-export`` packs one into a self-contained directory (``encoder.keras``,
``saved_model/``, ``card.json``, ``README.md``, ``vocab.txt`` for text).
"""

from tfssl.zoo.card import card_from_run, render_readme, write_card  # noqa: F401
from tfssl.zoo.catalogue import (  # noqa: F401
    CATALOGUE, catalogue_lines, entry_names, entry_settings, format_results, get_entry)
from tfssl.zoo.load import CACHE_ENV, ZooEntry, cache_dir, load  # noqa: F401
from tfssl.zoo.pack import export_run  # noqa: F401

__all__ = ["load", "ZooEntry", "card_from_run", "write_card", "render_readme",
           "export_run", "CATALOGUE", "entry_names", "get_entry", "entry_settings",
           "catalogue_lines", "format_results", "cache_dir", "CACHE_ENV"]
