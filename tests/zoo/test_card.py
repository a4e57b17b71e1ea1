"""Model cards built from real run folders: contents, README, unfinished runs."""

import json
import os
import shutil

import pytest

from tfssl.errors import UsageError
from tfssl.zoo import card_from_run, write_card
from tfssl.zoo.card import data_licence


def test_image_card(image_run):
    import keras

    card = card_from_run(str(image_run))
    metrics = json.loads((image_run / "metrics.json").read_text())
    encoder = keras.saving.load_model(image_run / "keras" / "encoder.keras")
    assert (card["name"], card["method"], card["modality"], card["encoder"]) == (
        "simclr_tiny", "simclr", "image", "convnet")
    assert card["parameters"] == encoder.count_params() > 0
    assert card["input"]["image_size"] == 8 and card["input"]["channels"] == 1
    assert card["data"]["dataset"] == "digits" and "BSD-3" in card["data"]["licence"]
    t = card["training"]
    assert (t["steps"], t["epochs_done"], t["batch_size"], t["precision"]) == (
        2, 1, 16, "float32")
    assert t["train_seconds"] == metrics["train_seconds"]
    assert t["wall_seconds"] == metrics["wall_seconds"]
    assert card["results"]["knn_top1"] == metrics["knn_top1"]
    assert card["results"]["knn_top1_random_init"] == metrics["knn_top1_random_init"]
    hw = card["hardware"]
    assert hw["cpu_cores"] == os.cpu_count() and isinstance(hw["gpus"], list) and hw["cpu"]
    assert set(card["versions"]) >= {"tfssl", "tensorflow", "keras"}
    assert card["settings"]["width"] == 0.25
    assert card["evaluations"] == [] and card["finetune"] == {}
    json.dumps(card)  # JSON-able


def test_card_lists_recorded_evaluations(image_run, tmp_path):
    from tfssl.eval.run import evaluate_run

    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    report = evaluate_run(str(run), protocol="knn", write_report=False)
    card = card_from_run(str(run))
    (e,) = card["evaluations"]
    assert e["knn_top1"] == report["summary"]["knn_top1"]
    assert e["command"].startswith("tfssl-evaluate --model_dir=RUN --protocol=knn")


def test_write_card(image_run, tmp_path):
    card = card_from_run(str(image_run))
    write_card(str(tmp_path / "out"), card)
    assert sorted(os.listdir(tmp_path / "out")) == ["README.md", "card.json"]
    assert json.loads((tmp_path / "out" / "card.json").read_text()) == card
    readme = (tmp_path / "out" / "README.md").read_text()
    for section in ("## What", "## Data", "## How it was trained", "## Results",
                    "## How to load", "## Licence", "## Limitations"):
        assert section in readme
    assert "tfssl.zoo.load" in readme and "serve_uint8" in readme
    assert f"{card['results']['knn_top1']:.4f}" in readme


def test_text_card(text_run):
    card = card_from_run(str(text_run))
    metrics = json.loads((text_run / "metrics.json").read_text())
    assert (card["method"], card["modality"], card["encoder"]) == ("mlm", "text",
                                                                   "bert_tiny")
    assert card["input"]["max_length"] == 16 and card["input"]["vocab_file"] == "vocab.txt"
    assert card["results"]["masked_accuracy"] == metrics["validation"]["masked_accuracy"]
    assert card["data"]["train_sequences"] > 0


def test_unfinished_or_missing_run(image_run, tmp_path):
    with pytest.raises(UsageError, match="no config.json"):
        card_from_run(str(tmp_path))
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    os.remove(run / "metrics.json")
    with pytest.raises(UsageError, match="no metrics.json; the run has not finished"):
        card_from_run(str(run))


def test_data_licences():
    assert "BSD-3" in data_licence("digits")["licence"]
    assert "CC BY-SA" in data_licence("textfile:../shared/data/wikitext2/wiki.train.raw")[
        "licence"]
    assert "PSF" in data_licence("python_docs")["licence"]
    assert "../shared/data" in data_licence("folder:../shared/data/cifar10/train.tar.gz")[
        "licence"]
    assert data_licence("folder:/mine")["licence"].startswith("unknown")
