"""``evaluate_run`` / ``tfssl-evaluate --protocol=all`` on tiny real runs of both modalities:
every protocol, the report with its plots, the CLI's bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from suite_helpers import raises_one_line_usage_error

from tfssl.errors import UsageError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
SMALL = dict(linear_epochs=3, label_fractions="0.1,1.0", finetune_steps=3,
             finetune_batch_size=16, severities="1,5", label_free_examples=120)


def evaluate(*args):
    return subprocess.run([sys.executable, "-m", "tfssl.cli.evaluate", *args],
                          capture_output=True, text=True, env=ENV, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    from tfssl.runs import pretrain

    run = tmp_path_factory.mktemp("img") / "run"
    pretrain(method="simclr", dataset="digits", encoder="convnet", width=0.25,
             image_size=8, epochs=2, steps_per_epoch=2, batch_size=16, projection_dim=8,
             projection_hidden_dim=16, knn_every=1, label_free_every=1,
             model_dir=str(run))
    return run


def test_image_protocol_all_writes_the_report(image_run):
    from tfssl.eval import evaluate_run

    report = evaluate_run(str(image_run), protocol="all",
                          corruptions="gaussian_noise,jpeg", verbose=False, **SMALL)
    p = report["protocols"]
    assert list(p) == ["knn", "linear", "finetune", "label_free", "robustness"]
    metrics = json.loads((image_run / "metrics.json").read_text())
    # The runner's kNN numbers are reproduced (same encoder, same random init).
    np.testing.assert_allclose(p["knn"]["top1"], metrics["knn_top1"], atol=1e-6)
    np.testing.assert_allclose(p["knn"]["top1_random_init"],
                               metrics["knn_top1_random_init"], atol=1e-6)
    assert np.asarray(p["linear"]["confusion_matrix"]).sum() == report["eval_examples"]
    rows = p["finetune"]["label_fractions"]
    assert [r["fraction"] for r in rows] == [0.1, 1.0]
    assert rows[0]["num_labels"] < rows[1]["num_labels"] == report["train_examples"]
    assert all(0 <= r[k] <= 1 for r in rows for k in ("pretrained", "scratch"))
    lf = p["label_free"]
    assert 1 <= lf["rankme"] <= lf["dims"] and lf["alignment"] >= 0 and "nmi" in lf
    rob = p["robustness"]
    assert set(rob["corruptions"]) == {"gaussian_noise", "jpeg"}
    assert all(len(v) == 2 for v in rob["corruptions"].values())
    assert report["knn_history"] == metrics["knn_history"]
    # Label-free metrics as a callback during pretraining (--label_free_every).
    assert [h["epoch"] for h in metrics["label_free_history"]] == [1, 2]
    assert all(1 <= h["rankme"] <= h["dims"] for h in metrics["label_free_history"])
    out = image_run / "eval"
    written = json.loads((out / "report.json").read_text())
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "report.json").stat().st_mode & 0o777 == 0o666 & ~umask  # not 0600
    assert written["summary"]["knn_top1"] == p["knn"]["top1"]
    for png in ("knn_history", "embedding_map", "confusion_matrix", "robustness",
                "label_fractions"):
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"{png}.png" in (out / "report.md").read_text()
    assert metrics["evaluations"][-1] == {k: v for k, v in report["summary"].items()}
    # A later evaluation of fewer protocols replaces the report folder: no plot of the
    # earlier one is left next to its report.
    evaluate_run(str(image_run), protocol="knn", verbose=False)
    left = set(os.listdir(out))
    assert {"report.json", "report.md", "knn_history.png"} <= left, left
    assert not left & {"confusion_matrix.png", "robustness.png", "label_fractions.png"}


def test_cli_bad_protocol_and_settings(image_run):
    """One bad flag through the real command line (exit 2, one line, no traceback); the
    others through evaluate_run, the one call the command line makes after parsing."""
    from tfssl.eval import evaluate_run

    r = evaluate(f"--model_dir={image_run}", "--protocol=knn,bogus")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "--protocol='knn,bogus': expected" in r.stderr.strip().splitlines()[-1]
    for settings, message in (
            (dict(protocol="robustness", corruptions="typo"),
             "--corruptions=typo: expected some of"),
            (dict(protocol="finetune", label_fractions="0.1,3"),
             "--label_fraction=3: expected a number in (0, 1]")):
        with raises_one_line_usage_error(message):
            evaluate_run(str(image_run), verbose=False, **settings)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A tiny MLM run folder (the real pretraining command is tested in test_mlm_cli)."""
    from tfssl.encoders.bert import bert_tiny
    from tfssl.runs.files import write_json_atomic
    from tfssl.text.vocab import save_vocabulary, train_vocabulary

    d = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    good, bad = ["great", "fine", "lovely", "superb"], ["awful", "dull", "poor", "bad"]
    for name, n in (("train.txt", 40), ("dev.txt", 16)):
        lines = []
        for i in range(n):
            label = i % 2
            words = list(rng.choice(good if label else bad, 3)) + ["film", "plot"]
            lines.append(f"{label} {' '.join(rng.permutation(words))}")
        (d / name).write_text("\n".join(lines) + "\n")
    run = d / "run"
    run.mkdir()
    vocab = train_vocabulary([" ".join(good + bad + ["film", "plot"])] * 5, 80)
    save_vocabulary(vocab, str(run / "vocab.txt"))
    bert_tiny(len(vocab), max_length=12).save(str(run / "encoder.keras"))
    write_json_atomic(str(run / "config.json"), {
        "method": "mlm", "encoder": "bert_tiny", "encoder_file": "encoder.keras",
        "vocab_file": "vocab.txt", "max_length": 12, "positions": 12, "lowercase": True,
        "seed": 0})
    return d


def test_text_protocol_all(text_run):
    from tfssl.eval import evaluate_run

    report = evaluate_run(str(text_run / "run"), protocol="all",
                          train_dataset=f"labeled_text:{text_run / 'train.txt'}",
                          dataset=f"labeled_text:{text_run / 'dev.txt'}", verbose=False,
                          **dict(SMALL, label_fractions="1.0", severities="5"))
    p = report["protocols"]
    assert list(p) == ["knn", "linear", "finetune", "label_free", "robustness"]
    assert report["modality"] == "text" and report["eval_examples"] == 16
    assert set(p["robustness"]["corruptions"]) == {"typo", "word_dropout", "word_swap"}
    assert p["label_free"]["alignment"] >= 0  # word-dropout views
    assert [r["num_labels"] for r in p["finetune"]["label_fractions"]] == [40]
    assert (text_run / "run" / "eval" / "report.md").is_file()


def test_text_run_needs_disjoint_labelled_files(text_run):
    from tfssl.eval import evaluate_run

    with pytest.raises(UsageError, match="--train_dataset=labeled_text:PATH is required"):
        evaluate_run(str(text_run / "run"), verbose=False)
    same = f"labeled_text:{text_run / 'train.txt'}"
    with pytest.raises(UsageError, match="disjoint"):
        evaluate_run(str(text_run / "run"), train_dataset=same, dataset=same,
                     verbose=False)


def _png_tree(root, mode, per_class=6):
    from PIL import Image

    rng = np.random.default_rng(1)
    for c in ("0", "1"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            shape = (10, 10) if mode == "L" else (10, 10, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / c / f"{i}.png")
    return root


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_transfer_to_folders_of_another_channel_count(image_run, tmp_path, mode):
    """A digits run (1 channel) evaluated on gray and on colour PNG folders: transfer
    through --train_dataset / --dataset, the colour images converted to luminance."""
    train = _png_tree(tmp_path / "train", mode)
    test = _png_tree(tmp_path / "test", mode, per_class=3)
    r = evaluate(f"--model_dir={image_run}", f"--train_dataset=folder:{train}",
                 f"--dataset=folder:{test}")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["train_examples"] == 12 and result["eval_examples"] == 6  # used whole
    assert ("converted 6 images from 3 to 1 channel" in r.stderr) == (mode == "RGB")
    assert ("converted 12 images from 3 to 1 channel" in r.stderr) == (mode == "RGB")
