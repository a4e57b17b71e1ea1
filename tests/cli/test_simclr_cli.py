"""tfssl-pretrain / tfssl-evaluate end to end, as real subprocesses on tiny settings."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from suite_helpers import raises_one_line_usage_error

TINY_SETTINGS = dict(encoder="convnet", width=0.25, image_size=8, epochs=1,
                     steps_per_epoch=2, batch_size=16, projection_dim=8,
                     projection_hidden_dim=16)
TINY = [f"--{k}={v}" for k, v in TINY_SETTINGS.items()]


def cli(module, *args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-m", f"tfssl.cli.{module}", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    proc.program = f"tfssl-{module}"
    return proc


def error_lines(proc):
    """Lines of our own error reports (TensorFlow's C++ start-up chatter aside)."""
    return [l for l in proc.stderr.splitlines() if l.startswith(f"{proc.program}: error:")]


def test_pretrain_evaluate_and_export(tmp_path):
    run = tmp_path / "run"
    proc = cli("pretrain", f"--model_dir={run}", "--knn_every=1", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("knn_top1", "knn_top1_random_init", "final_loss",
                "final_contrastive_accuracy", "final_embedding_std"):
        assert key in metrics
    assert 0 < metrics["knn_top1"] <= 1
    assert [h["epoch"] for h in metrics["knn_history"]] == [1]  # for the report's curve
    assert metrics["hardware"]["cpu_cores"] >= 1 and metrics["versions"]["tensorflow"]
    assert (run / "keras" / "model.keras").is_file()
    assert not (run / "backup").exists()  # removed after a completed run
    assert list((run / "logs").glob("train/events.out.tfevents*"))

    # The exported SavedModel equals the saved Keras encoder.
    import keras
    import tensorflow as tf

    import tfssl  # noqa: F401  (registers the tfssl classes with Keras)

    model = keras.saving.load_model(run / "keras" / "model.keras")
    images = np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype("float32")
    reloaded = tf.saved_model.load(str(run / "export" / "encoder"))
    served = reloaded.serve(images)
    np.testing.assert_allclose(served.numpy(), model.encoder(images).numpy(), rtol=1e-5,
                               atol=1e-5)

    proc = cli("evaluate", f"--model_dir={run}", "--protocol=knn")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["protocol"] == "knn"
    np.testing.assert_allclose(result["knn_top1"], metrics["knn_top1"], atol=1e-6)
    np.testing.assert_allclose(result["knn_top1_random_init"],
                               metrics["knn_top1_random_init"], atol=1e-6)
    proc = cli("evaluate", f"--model_dir={run}", "--protocol=linear", "--linear_epochs=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(json.loads((run / "metrics.json").read_text())["evaluations"]) == 2


def test_rerun_after_kill_resumes(tmp_path):
    run = tmp_path / "run"
    args = [f"--model_dir={run}", *TINY[:3], "--epochs=40", "--steps_per_epoch=1",
            "--batch_size=8", "--projection_dim=4", "--projection_hidden_dim=4"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "-m", "tfssl.cli.pretrain", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    meta = run / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if meta.exists():
            try:
                if json.loads(meta.read_text())["epoch"] >= 2:
                    break
            except (ValueError, KeyError):
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(meta.read_text())["epoch"]
    assert not (run / "metrics.json").exists() and not (run / "config.json").exists()
    # Other settings do not resume this backup (it used to fail in Keras' restore with
    # a traceback, after config.json had been replaced by the new settings).
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    other = dict(TINY_SETTINGS, model_dir=str(run), epochs=40, steps_per_epoch=1,
                 batch_size=8, projection_dim=4, projection_hidden_dim=4, width=0.5)
    with raises_one_line_usage_error("backup/ holds an interrupted run of other "
                                     "settings", "width: 0.25 there, 0.5 now"):
        pretrain(resolve_settings(**other))
    assert json.loads(meta.read_text())["epoch"] == done
    proc = cli("pretrain", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Epoch 1/40" not in proc.stdout
    assert f"Epoch {done + 1}/40" in proc.stdout
    assert (run / "metrics.json").exists()


def _digest(path):
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


def test_finished_run_kept_unless_overwrite(tmp_path):
    """A second run into a finished run's folder used to replace its checkpoint silently,
    and a failing one rewrote its config.json first. Now: refused (one line) unless
    overwrite, and a failing run writes nothing."""
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    run = tmp_path / "run"
    pretrain(resolve_settings(model_dir=str(run), **TINY_SETTINGS))
    (run / "metrics.json").write_text(json.dumps(dict(
        json.loads((run / "metrics.json").read_text()), evaluations=[{"knn": 1}])))
    (run / "eval").mkdir()
    kept = {name: _digest(run / name) for name in ("keras/model.keras", "config.json",
                                                   "metrics.json")}
    with raises_one_line_usage_error("holds a finished run", "--overwrite"):
        pretrain(resolve_settings(model_dir=str(run), **dict(TINY_SETTINGS, width=0.5)))
    with raises_one_line_usage_error("min_crop_scale=2.0"):  # checked before any write
        pretrain(resolve_settings(model_dir=str(run), overwrite=True,
                                  **dict(TINY_SETTINGS, min_crop_scale=2.0)))
    assert {name: _digest(run / name) for name in kept} == kept
    pretrain(resolve_settings(model_dir=str(run), overwrite=True,
                              **dict(TINY_SETTINGS, width=0.5)))
    assert _digest(run / "keras" / "model.keras") != kept["keras/model.keras"]
    assert json.loads((run / "config.json").read_text())["width"] == 0.5
    # The old encoder's evaluations and report are gone with it.
    assert "evaluations" not in json.loads((run / "metrics.json").read_text())
    assert not (run / "eval").exists()


def test_bad_input_one_line_exit_2(tmp_path):
    """One bad flag through the real command line: exit 2, one line, no traceback."""
    proc = cli("pretrain", f"--model_dir={tmp_path / 'run'}", *TINY,
               "--dataset=folder:/no/such/dir")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = error_lines(proc)
    assert len(lines) == 1 and "no such folder" in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize("settings,message", [
    ({"temperature": 0.0}, "temperature=0.0: must be finite and > 0"),
    ({"batch_size": 5000}, "--batch_size=5000 is larger than the 1438 training images"),
    ({"encoder": "vgg"}, "--encoder='vgg'"),
    # Each was a Keras, NumPy or tf.data traceback (exit 1), some after config.json:
    ({"projection_layers": 0}, "projection_layers=0: expected >= 1"),
    ({"width": 0.0}, "--width=0.0: expected a channel multiplier of at least 0.03125"),
    ({"image_size": 2}, "--image_size=2: expected a whole number of at least 8 pixels"),
    ({"seed": -1}, "--seed=-1: expected a whole number from 0 to 2**32 - 1"),
    ({"warmup_epochs": -1.0}, "--warmup_epochs=-1.0: must be >= 0"),
    ({"budget_minutes": 0.0}, "--budget_minutes=0.0: must be > 0"),
    ({"knn_every": -3}, "--knn_every=-3: expected a whole number >= 0"),
    ({"min_crop_scale": 2.0}, "min_crop_scale=2.0, max_crop_scale=1.0"),
    ({"solarize": 1.5}, "solarize=1.5: expected a probability in [0, 1]"),
    ({"color_jitter": -0.5}, "color_jitter=-0.5: must be finite and >= 0"),
])
def test_bad_settings(tmp_path, settings, message):
    """The other checks in the test process: resolve_settings + tfssl.runs.pretrain is all
    the command line does after parsing, and the UsageError's message is its one line."""
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    run = tmp_path / "run"
    with raises_one_line_usage_error(message):
        pretrain(resolve_settings(model_dir=str(run), **{**TINY_SETTINGS, **settings}))
    assert not run.exists() or os.listdir(run) == []  # nothing written


def test_evaluate_bad_model_dir(tmp_path):
    proc = cli("evaluate", f"--model_dir={tmp_path}")
    assert proc.returncode == 2
    assert "no config.json" in error_lines(proc)[0]
