"""The catalogue: recipes over presets, no invented numbers, --list_presets."""

import pytest

from tfssl.errors import UsageError
from tfssl.presets import preset_names, resolve_settings
from tfssl.zoo import CATALOGUE, entry_names, entry_settings, format_results, get_entry
from tfssl.zoo.results import RESULTS

from zoo_helpers import cli


def test_every_entry_resolves_over_its_preset():
    assert {"simclr_cifar10_convnet", "deepcluster_digits",
            "mlm_bert_tiny_wikitext2"} <= set(entry_names())
    assert len([n for n in entry_names() if n.endswith("_cifar10_convnet")]) >= 3
    for name in entry_names():
        entry = get_entry(name)
        assert entry["preset"] in preset_names()
        s = entry_settings(name, model_dir="somewhere")
        assert s["preset"] == entry["preset"] and s["model_dir"] == "somewhere"
        for key, value in entry["overrides"].items():
            assert s[key] == value, (name, key)
        # Only measured numbers, never invented ones.
        assert entry["results"] == RESULTS.get(name)


def test_cifar10_entries_match_the_methods_benchmark():
    for name in (n for n in entry_names() if n.endswith("_cifar10_convnet")):
        s = entry_settings(name)
        own = resolve_settings(method=s["method"])
        assert s["dataset"] == "folder:../shared/data/cifar10/train.tar.gz"
        assert (s["encoder"], s["batch_size"], s["optimizer"], s["precision"]) == (
            "convnet", 256, "adamw", "mixed_bfloat16")
        assert s["learning_rate"] == own["learning_rate"]  # the method's registered rate
        if "temperature" in s:
            assert s["temperature"] == 0.2
    simclr = entry_settings("simclr_cifar10_convnet")
    assert simclr["projection_dim"] == resolve_settings(preset="simclr_cifar10")[
        "projection_dim"]  # the rest comes from the preset
    assert "projection_dim" not in CATALOGUE["simclr_cifar10_convnet"]["overrides"]


def test_text_and_digits_entries():
    mlm = entry_settings("mlm_bert_tiny_wikitext2")
    assert mlm["method"] == "mlm" and mlm["encoder"] == "bert_tiny"
    assert "wikitext2/wiki.train.raw" in mlm["dataset"]
    assert "wikitext2/wiki.valid.raw" in mlm["eval_dataset"]
    assert entry_settings("deepcluster_digits")["dataset"] == "digits"


def test_unknown_entry():
    with pytest.raises(UsageError, match="zoo entry 'nope': expected one of"):
        get_entry("nope")


def test_format_results():
    assert format_results(None) == "not trained yet"
    assert format_results({
        "knn_top1": 0.5551, "knn_top1_random_init": 0.4119, "train_seconds": 600.4,
        "hardware": {"cpu_cores": 2, "gpus": []}}) == \
        "knn 0.555 (random init 0.412), 10 min on 2 CPU cores"
    assert format_results({"masked_accuracy": 0.31, "train_seconds": 40}) == \
        "masked accuracy 0.310, 40 s"


def test_list_presets_prints_the_catalogue_without_training(tmp_path):
    proc = cli("pretrain", "--list_presets", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    for name in entry_names():
        line = next(l for l in lines if l.startswith(name + " "))
        s = entry_settings(name)
        assert f"{s['method']}  {s['encoder']}  {s['dataset']}" in line
        assert format_results(RESULTS.get(name)) in line
    for name in preset_names():
        assert any(l.startswith(name + " ") for l in lines), name
    assert not (tmp_path / "tfssl_runs").exists()
