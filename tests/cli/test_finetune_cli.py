"""``tfssl-finetune`` on a tiny pretrained run; bad labels exit 2 with one line."""

import json
import os
import subprocess
import sys

import pytest

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
    d = tmp_path_factory.mktemp("ft")
    corpus = d / "corpus.txt"
    corpus.write_text("\n".join((POS + NEG) * 6))
    for name, n in (("train.txt", 4), ("dev.txt", 2)):
        (d / name).write_text("".join(f"1 {t}\n0\t{t2}\n" for t, t2 in
                                      list(zip(POS, NEG)) * n))
    (d / "bad_dev.txt").write_text("1 good\nneutral so so\n")
    r = _run("tfssl.cli.pretrain", "--method=mlm", f"--dataset=textfile:{corpus}",
             f"--model_dir={d / 'run'}", "--max_length=16", "--vocab_size=150",
             "--epochs=1", "--steps_per_epoch=2", "--batch_size=4")
    assert r.returncode == 0, r.stderr[-3000:]
    return d


@pytest.mark.parametrize("mode", ["finetune", "linear"])
def test_finetune_writes_metrics(run_dir, mode):
    r = _run("tfssl.cli.finetune", f"--model_dir={run_dir / 'run'}",
             f"--train=labeled_text:{run_dir / 'train.txt'}",
             f"--validation=labeled_text:{run_dir / 'dev.txt'}", f"--mode={mode}",
             "--epochs=1", "--batch_size=8")
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run_dir / "run" / "metrics.json").read_text())
    section = metrics["finetune"][mode]
    for key in ("pretrained", "scratch"):
        assert 0.0 <= section[key]["accuracy"] <= 1.0
        assert section[key]["epochs"] == 1
    assert section["label_names"] == ["0", "1"]
    assert "validation" in metrics  # the pretraining section is kept


def test_unknown_validation_label(run_dir):
    r = _run("tfssl.cli.finetune", f"--model_dir={run_dir / 'run'}",
             f"--train=labeled_text:{run_dir / 'train.txt'}",
             f"--validation=labeled_text:{run_dir / 'bad_dev.txt'}", "--epochs=1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "bad_dev.txt:2: unknown label 'neutral'" in last


def test_missing_run(tmp_path, run_dir):
    r = _run("tfssl.cli.finetune", f"--model_dir={tmp_path / 'nope'}",
             f"--train={run_dir / 'train.txt'}", f"--validation={run_dir / 'dev.txt'}")
    assert r.returncode == 2 and "run_config.json" in r.stderr.strip().splitlines()[-1]
