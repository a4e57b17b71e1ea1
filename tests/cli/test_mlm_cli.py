"""``tfssl-pretrain --method=mlm`` end to end on tiny settings, and its bad input."""

import json
import os
import subprocess
import sys
import tempfile

import pytest
import tensorflow as tf
from suite_helpers import raises_one_line_usage_error

from tfssl.runs.budget import validation_every

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
       # vocabularies are cached here, not in the user's ~/.cache/tfssl
       "TFSSL_CACHE": tempfile.mkdtemp(prefix="tfssl_cache_")}
CORPUS = "\n".join(
    f"line {i}: the {w} model reads text and predicts the masked {w} words again"
    for i, w in enumerate(["quick", "slow", "tiny", "large", "clever", "plain"] * 8))


def pretrain(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "-m", "tfssl.cli.pretrain", "--method=mlm",
                           *args], capture_output=True, text=True, env=env or ENV,
                          cwd=cwd, timeout=300)


TINY_SETTINGS = {"encoder": "bert_tiny", "max_length": 16, "vocab_size": 120, "epochs": 2,
                 "steps_per_epoch": 2, "batch_size": 4}
TINY = [f"--{k}={v}" for k, v in TINY_SETTINGS.items()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    (d / "train.txt").write_text(CORPUS)
    return d


def test_end_to_end_tiny(corpus, tmp_path):
    run = tmp_path / "run"
    r = pretrain(f"--dataset=textfile:{corpus / 'train.txt'}", f"--model_dir={run}", *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    v, b = metrics["validation"], metrics["baseline"]
    assert 0 <= v["masked_accuracy"] <= 1 and v["perplexity"] > 1
    assert 0 <= b["masked_accuracy"] <= 1 and b["most_frequent_token"]
    config = json.loads((run / "config.json").read_text())
    assert config["method"] == "mlm" and config["max_length"] == 16
    # A few validation batches next to 2-step epochs: fit validates less often than
    # every epoch (the rule itself: tests/runs/test_validation_every.py).
    batches = -(-config["validation_sequences"] // 4)
    assert config["validation_every_epochs"] == validation_every(
        tf.data.Dataset.range(batches), 2) > 1
    assert (run / "vocab.txt").read_text().split("\n")[:5] == [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert (run / "keras" / "encoder.keras").is_file()
    assert (run / "keras" / "model.keras").is_file()
    assert (run / "export" / "encoder" / "saved_model.pb").is_file()
    assert os.listdir(run / "logs")
    assert not (run / "backup").exists() or not os.listdir(run / "backup")

    # The exported SavedModel takes raw strings.
    check = (
        "import tensorflow as tf; from tfssl.export.text import load_text_encoder;"
        f"f = load_text_encoder({str(run / 'export' / 'encoder')!r});"
        "o = f(text=tf.constant(['the quick model', 'words']));"
        "print(o['pooled_output'].shape, o['sequence_output'].shape)")
    r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                       env=ENV, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(2, 128) (2, 16, 128)" in r.stdout


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "error:" in last
    for n in needles:
        assert n in last, last
    return last


def test_bad_flag_from_the_command_line(tmp_path):
    r = pretrain(f"--model_dir={tmp_path / 'run'}", *TINY,
                 "--dataset=textfile:/nonexistent/x.txt")
    _one_line_error(r, "does not exist")


@pytest.mark.parametrize("settings,needles", [
    ({"vocab_size": 4}, ["--vocab_size=4", "special"]),
    ({"max_length": 1000}, ["--max_length=1000", "positions"]),
    ({"encoder": "resnet18"}, ["resnet18"]),
    # Found after the vocabulary was trained: vocab.txt used to be written by then.
    ({"batch_size": 100000}, ["--batch_size=100000", "training sequences"]),
    ({"max_span_length": 0}, ["--max_span_length=0", "whole number from 1"]),
])
def test_bad_settings(settings, needles, corpus, tmp_path, monkeypatch):
    """The same checks in the test process (resolve_settings + tfssl.runs.pretrain, all the
    command line does after parsing): the UsageError's message is the CLI's one line, as
    test_bad_flag_from_the_command_line shows for one case."""
    import tfssl
    from tfssl.presets import resolve_settings

    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    with raises_one_line_usage_error(*needles):
        tfssl.runs.pretrain(resolve_settings(
            method="mlm", dataset=f"textfile:{corpus / 'train.txt'}", model_dir=str(run),
            **{**TINY_SETTINGS, **settings}))
    assert not run.exists() or os.listdir(run) == []  # nothing written, no vocab.txt


def test_validation_text_with_nothing_to_mask(corpus, tmp_path, monkeypatch):
    """Latin-1 text read as UTF-8 is all [UNK]: the run used to exit 0 with perplexity
    1.0 and a NaN baseline in metrics.json."""
    import tfssl
    from tfssl.presets import resolve_settings

    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("\n".join(["caf\u00e9 r\u00e9sum\u00e9 na\u00efve"] * 40).encode("latin-1"))
    run = tmp_path / "run"
    with raises_one_line_usage_error(f"--eval_dataset=textfile:{latin1}", "no token to mask"):
        tfssl.runs.pretrain(resolve_settings(
            method="mlm", dataset=f"textfile:{corpus / 'train.txt'}",
            eval_dataset=f"textfile:{latin1}", model_dir=str(run), **TINY_SETTINGS))
    assert not run.exists() or os.listdir(run) == []


def test_empty_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    r = pretrain(f"--dataset=textfile:{empty}", f"--model_dir={tmp_path / 'run'}", *TINY)
    _one_line_error(r, "empty")


def test_vocabulary_trained_once_per_corpus(corpus, tmp_path):
    """A second command-line run on the same text reuses the cached vocabulary (that
    another setting or text gets another key: tests/text/test_vocab_cache.py)."""
    env = {**ENV, "TFSSL_CACHE": str(tmp_path / "cache")}
    text = f"--dataset=textfile:{corpus / 'train.txt'}"
    # What is tested is the vocabulary: the shortest run (one step, no XLA compile).
    tiny = [a for a in TINY if not a.startswith(("--epochs", "--steps_per_epoch"))] + [
        "--epochs=1", "--steps_per_epoch=1", "--jit_compile=false"]
    metas = []
    for i in range(2):
        run = tmp_path / f"run{i}"
        r = pretrain(text, f"--model_dir={run}", *tiny, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        metas.append(json.loads((run / "vocab.json").read_text()))
        assert (run / "vocab.txt").read_text() == \
            open(metas[-1]["cache_file"], encoding="utf-8").read()
    assert [m["cache_hit"] for m in metas] == [False, True]
    assert metas[0]["cache_file"] == metas[1]["cache_file"]
    assert os.listdir(tmp_path / "cache" / "vocab") == [
        os.path.basename(metas[0]["cache_file"])]
