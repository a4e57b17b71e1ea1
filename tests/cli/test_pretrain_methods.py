"""``tfssl-pretrain --method=NAME`` end to end for every registered image method, and
how settings resolve (registry defaults, presets that name their method, explicit
values), as real subprocesses on tiny settings."""

import json
import os
import subprocess
import sys

import pytest

from tfssl.methods import registry
from tfssl.presets import get_preset, preset_names, resolve_settings
from tfssl.errors import UsageError

TINY_SETTINGS = dict(encoder="convnet", width=0.25, image_size=8, epochs=1, steps_per_epoch=2,
                     batch_size=16)
TINY = [f"--{k}={v}" for k, v in TINY_SETTINGS.items()]
SMALL_HEADS = dict(projection_dim=8, projection_hidden_dim=16, prediction_hidden_dim=8,
                   queue_size=32, num_clusters=4)


def pretrain(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "tfssl.cli.pretrain", *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("name", [n for n in registry.names("image") if n != "simclr"])
def test_every_image_method_runs_end_to_end(name, tmp_path):
    """In this process, through the settings the command line resolves
    (``resolve_settings`` then ``tfssl.runs.pretrain``, all ``tfssl-pretrain`` does after
    parsing): a subprocess per method cost ~8 s of start-up each. The command line itself
    runs BYOL below and SimCLR in test_simclr_cli.py."""
    import tfssl

    run = tmp_path / "run"
    extra = {k: v for k, v in SMALL_HEADS.items() if k in resolve_settings(method=name)}
    tfssl.runs.pretrain(resolve_settings(method=name, model_dir=str(run), **TINY_SETTINGS,
                                         **extra))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == name
    assert 0 < metrics["knn_top1"] <= 1 and 0 < metrics["knn_top1_random_init"] <= 1
    assert metrics["final_embedding_std"] >= 0
    config = json.loads((run / "config.json").read_text())
    assert config["method"] == name and config["modality"] == "image"
    for path in ("keras/model.keras", "keras/encoder.keras",
                 "export/encoder/saved_model.pb"):
        assert (run / path).is_file(), path


def test_cli_passes_method_flags_to_the_same_run(tmp_path):
    """``tfssl-pretrain --method=byol`` with BYOL's own flags writes them into config.json
    and trains exactly as the library does with the same settings."""
    import tfssl

    cli, lib = tmp_path / "cli", tmp_path / "lib"
    flags = dict(projection_dim=8, projection_hidden_dim=16, prediction_hidden_dim=8,
                 base_momentum=0.9)
    proc = pretrain("--method=byol", f"--model_dir={cli}", *TINY,
                    *(f"--{k}={v}" for k, v in flags.items()))
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads((cli / "config.json").read_text())
    assert config["method"] == "byol" and config["base_momentum"] == 0.9
    tfssl.runs.pretrain(resolve_settings(method="byol", model_dir=str(lib), **TINY_SETTINGS,
                                         **flags))
    one, two = (json.loads((d / "metrics.json").read_text()) for d in (cli, lib))
    assert one["final_loss"] == pytest.approx(two["final_loss"], rel=1e-6)
    assert one["knn_top1"] == two["knn_top1"]


def test_settings_resolve_in_order():
    s = resolve_settings(method="byol")
    assert s["base_momentum"] == registry.get("byol").defaults["base_momentum"]
    assert s["dataset"] == "digits" and s["model_dir"] == os.path.join("tfssl_runs", "byol")
    assert "temperature" not in s  # BYOL has none
    # A preset names its method; explicit values win over it.
    s = resolve_settings(preset="simclr_cifar10", epochs=3)
    assert s["method"] == "simclr" and s["epochs"] == 3 and s["temperature"] == 0.5
    # Every registered method has a preset on its modality's default data.
    for name in registry.names():
        preset = [p for p in preset_names() if get_preset(p) == {"method": name}]
        assert len(preset) == 1, name


@pytest.mark.parametrize("kwargs,message", [
    (dict(method="byol", temperature=0.1), "--temperature: not a setting of method 'byol'"),
    (dict(method="byol", preset="simclr_cifar10"), "contradicts --preset=simclr_cifar10"),
    (dict(method="nope"), "--method='nope': expected one of"),
    (dict(preset="nope"), "--preset='nope'"),
])
def test_settings_errors(kwargs, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_settings(**kwargs)


def test_cli_flag_for_a_setting_the_method_lacks_is_one_line(tmp_path):
    proc = pretrain("--method=vicreg", "--temperature=0.1", f"--model_dir={tmp_path / 'r'}")
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("tfssl-pretrain: error:")]
    assert len(lines) == 1 and "not a setting of method 'vicreg'" in lines[0]
    assert not (tmp_path / "r").exists()


def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path, capsys):
    """``--strategy=mirrored --num_cpu_replicas=2`` trains like one device (synchronised
    batch norm in encoder and head, negatives gathered from both replicas), also with a
    batch of 15 that the replicas split 8 + 7. The one-device run is the library call
    the command line makes (in the test process, on its default one-device strategy)."""
    import tfssl

    settings = dict(TINY_SETTINGS, batch_size=15, projection_dim=8, projection_hidden_dim=16)
    tfssl.runs.pretrain(resolve_settings(method="simclr", model_dir=str(tmp_path / "one"),
                                         **settings))
    assert "1 replica(s)" in capsys.readouterr().out
    proc = pretrain("--method=simclr", f"--model_dir={tmp_path / 'two'}",
                    *(f"--{k}={v}" for k, v in settings.items()), "--strategy=mirrored",
                    "--num_cpu_replicas=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 replica(s)" in proc.stdout
    one, two = (json.loads((tmp_path / d / "metrics.json").read_text())
                for d in ("one", "two"))
    assert one["steps"] == two["steps"] == 2
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-4)
    assert two["knn_top1"] == one["knn_top1"]
