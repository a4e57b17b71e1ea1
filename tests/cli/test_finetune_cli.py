"""``tfssl-finetune`` (and ``finetune_run``) on a tiny run; bad labels exit 2, one line."""

import json
import os
import subprocess
import sys

import pytest
from suite_helpers import raises_one_line_usage_error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
POS = ["a wonderful and moving film", "great acting and a clever plot", "loved it",
       "a joy to watch", "funny warm and smart"]
NEG = ["a dull and lifeless film", "terrible acting and a silly plot", "hated it",
       "a chore to sit through", "boring cold and stupid"]


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, env=ENV, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as tfssl-pretrain --method=mlm leaves it (built in-process;
    tests/cli/test_mlm_cli.py runs the real pretraining command)."""
    from tfssl.runs.files import write_json_atomic
    from tfssl.encoders.bert import bert_tiny
    from tfssl.text.vocab import save_vocabulary, train_vocabulary

    d = tmp_path_factory.mktemp("ft")
    for name, n in (("train.txt", 4), ("dev.txt", 2)):
        (d / name).write_text("".join(f"1 {t}\n0\t{t2}\n" for t, t2 in
                                      list(zip(POS, NEG)) * n))
    (d / "bad_dev.txt").write_text("1 good\nneutral so so\n")
    run = d / "run"
    run.mkdir()
    vocab = train_vocabulary((POS + NEG) * 6, 150)
    save_vocabulary(vocab, str(run / "vocab.txt"))
    bert_tiny(len(vocab), max_length=16).save(str(run / "encoder.keras"))
    write_json_atomic(str(run / "config.json"), {
        "method": "mlm", "encoder": "bert_tiny", "encoder_file": "encoder.keras",
        "vocab_file": "vocab.txt", "max_length": 16, "positions": 16, "lowercase": True})
    write_json_atomic(str(run / "metrics.json"), {"validation": {"masked_accuracy": 0.1}})
    return d


def test_finetune_cli_writes_metrics(run_dir):
    """The command line's flags reach finetune_run and the result is merged into
    metrics.json (the refusals below run in the test process, one through the CLI)."""
    r = _run("tfssl.cli.finetune", f"--model_dir={run_dir / 'run'}",
             f"--train=labeled_text:{run_dir / 'train.txt'}",
             f"--validation=labeled_text:{run_dir / 'dev.txt'}", "--mode=finetune",
             "--steps=2", "--batch_size=4", "--pooling=cls", "--layer_decay=0.8",
             "--reinit_layers=1")
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run_dir / "run" / "metrics.json").read_text())
    section = metrics["finetune"]["finetune"]
    for key in ("pretrained", "scratch"):
        assert 0.0 <= section[key]["accuracy"] <= 1.0 and section[key]["mode"] == "finetune"
    p = section["pretrained"]
    assert (p["steps"], p["pooling"], p["layer_decay"], p["reinit_layers"]) == \
        (2, "cls", 0.8, 1)
    assert section["label_names"] == ["0", "1"]
    assert metrics["validation"] == {"masked_accuracy": 0.1}  # other sections kept
    assert "accuracy" in r.stdout


def test_linear_probe_python_api(run_dir):
    from tfssl.methods.text_classifier import finetune_run

    out = finetune_run(str(run_dir / "run"), f"labeled_text:{run_dir / 'train.txt'}",
                       str(run_dir / "dev.txt"), mode="linear", epochs=2, batch_size=8,
                       scratch_baseline=False, verbose=0)
    assert "scratch" not in out
    assert out["pretrained"]["mode"] == "linear" and out["pretrained"]["epochs"] == 2
    assert 0.0 <= out["pretrained"]["accuracy"] <= 1.0


def test_label_fraction_and_fixed_steps(run_dir):
    from tfssl.methods.text_classifier import finetune_run

    out = finetune_run(str(run_dir / "run"), str(run_dir / "train.txt"),
                       str(run_dir / "dev.txt"), batch_size=4, label_fraction=0.25,
                       scratch_baseline=False, verbose=0)
    assert out["pretrained"]["num_train"] == 10 and out["label_fraction"] == 0.25  # of 40


@pytest.mark.parametrize("settings,message", [
    (dict(label_fraction=0.0), "--label_fraction=0.0: expected a number in (0, 1]"),
    (dict(layer_decay=0.0), "layer_decay=0.0: expected 0 < decay <= 1"),
    (dict(reinit_layers=3), "reinit_layers=3: expected a whole number from 0 to the "
                            "encoder's 2 transformer layers"),
    # Accepted silently (a negative rate) or a NumPy traceback before the checks:
    (dict(learning_rate=-1.0), "learning_rate=-1.0: must be finite and > 0"),
    (dict(learning_rate=0.0), "learning_rate=0.0: must be finite and > 0"),
    (dict(max_length=-3), "max_length=-3: expected a whole number >= 8"),
    (dict(max_length=0), "max_length=0: expected a whole number >= 8"),
])
def test_bad_settings(run_dir, settings, message):
    """In the test process: finetune_run is the one call the command line makes, and its
    UsageError's message is the command line's one line (exit 2: the test below)."""
    from tfssl.methods.text_classifier import finetune_run

    with raises_one_line_usage_error(message):
        finetune_run(str(run_dir / "run"), str(run_dir / "train.txt"),
                     str(run_dir / "dev.txt"), steps=2, verbose=0, **settings)


@pytest.mark.parametrize("damage", ["metrics.json", "encoder.keras"])
def test_damaged_run_files_refused_before_training(tmp_path, run_dir, damage):
    """A truncated metrics.json (where the command line merges the result) is refused
    before any training, not after it; a truncated encoder file is named in one line
    (it was a traceback saying 'File not found' of a file that exists)."""
    import shutil

    from tfssl.methods.text_classifier import finetune_run

    run = tmp_path / "run"
    shutil.copytree(run_dir / "run", run)
    data = (run / damage).read_bytes()
    (run / damage).write_bytes(data[: len(data) // 3])
    message = "is not valid JSON" if damage == "metrics.json" else \
        "cannot be loaded as a Keras model"
    with raises_one_line_usage_error(str(run / damage), message):
        finetune_run(str(run), str(run_dir / "train.txt"), str(run_dir / "dev.txt"),
                     steps=2, verbose=0)


def test_unknown_validation_label(run_dir):
    r = _run("tfssl.cli.finetune", f"--model_dir={run_dir / 'run'}",
             f"--train=labeled_text:{run_dir / 'train.txt'}",
             f"--validation=labeled_text:{run_dir / 'bad_dev.txt'}", "--epochs=1")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert "bad_dev.txt:2: unknown label 'neutral'" in last


def test_missing_run(tmp_path, run_dir):
    from tfssl.errors import UsageError
    from tfssl.methods.text_classifier import finetune_run

    with pytest.raises(UsageError, match="config.json"):
        finetune_run(str(tmp_path / "nope"), str(run_dir / "train.txt"),
                     str(run_dir / "dev.txt"))
