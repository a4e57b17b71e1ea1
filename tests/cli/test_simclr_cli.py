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
    assert not (run / "metrics.json").exists()
    proc = cli("pretrain", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Epoch 1/40" not in proc.stdout
    assert f"Epoch {done + 1}/40" in proc.stdout
    assert (run / "metrics.json").exists()


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
])
def test_bad_settings(tmp_path, settings, message):
    """The other checks in the test process: resolve_settings + tfssl.runs.pretrain is all
    the command line does after parsing, and the UsageError's message is its one line."""
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    run = tmp_path / "run"
    with raises_one_line_usage_error(message):
        pretrain(resolve_settings(model_dir=str(run), **{**TINY_SETTINGS, **settings}))
    assert not (run / "metrics.json").exists()


def test_evaluate_bad_model_dir(tmp_path):
    proc = cli("evaluate", f"--model_dir={tmp_path}")
    assert proc.returncode == 2
    assert "no config.json" in error_lines(proc)[0]
