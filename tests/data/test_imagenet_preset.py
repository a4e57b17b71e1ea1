"""``--preset=simclr_imagenet`` (``tfds:imagenet2012``) on a machine that has the data.

tensorflow-datasets' real ``imagenet2012`` builder prepares the dataset from the two
archives a user downloads by hand (``ILSVRC2012_img_train.tar`` of per-synset tars and
``ILSVRC2012_img_val.tar``). The test writes such archives with a few small JPEGs of
three real synsets, prepares the real builder in a temporary ``data_dir`` (no network),
then runs the preset through ``tfssl-pretrain`` with only the sizes scaled down: the
images are streamed from the TFRecord shards, the ``validation`` split is the held-out
set, and the run is evaluated.
"""

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf

SYNSETS = ["n01440764", "n01443537", "n01484850"]  # the first three of the 1,000 classes


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def imagenet_dir(tmp_path_factory):
    import tensorflow_datasets as tfds

    root = tmp_path_factory.mktemp("imagenet")
    manual = root / "manual"
    manual.mkdir()
    rng = np.random.default_rng(0)

    def jpeg(h, w):
        return tf.io.encode_jpeg(rng.integers(0, 255, (h, w, 3), np.uint8)).numpy()

    with tarfile.open(manual / "ILSVRC2012_img_train.tar", "w") as outer:
        for synset in SYNSETS:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as inner:
                for i in range(8):
                    _add(inner, f"{synset}_{i}.JPEG", jpeg(40 + 3 * i, 50))
            _add(outer, f"{synset}.tar", buf.getvalue())
    with tarfile.open(manual / "ILSVRC2012_img_val.tar", "w") as val:
        for i in range(1, 7):
            _add(val, f"ILSVRC2012_val_{i:08d}.JPEG", jpeg(48, 36))
    data_dir = root / "tfds"
    tfds.builder("imagenet2012", data_dir=str(data_dir)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    return data_dir


def test_simclr_imagenet_preset_streams_the_prepared_dataset(imagenet_dir, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "tfssl.cli.pretrain", "--preset=simclr_imagenet",
         f"--data_dir={imagenet_dir}", f"--model_dir={run}", "--image_input=stream",
         # the recipe as it is, scaled to 24 images on a CPU:
         "--image_size=16", "--encoder=convnet", "--width=0.25", "--batch_size=8",
         "--epochs=1", "--projection_hidden_dim=16", "--knn_k=3"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "tfds:imagenet2012" and config["method"] == "simclr"
    assert config["optimizer"] == "lars" and config["projection_layers"] == 3
    assert config["image_input"] == "stream"
    assert (config["train_examples"], config["eval_examples"]) == (24, 6)  # validation
    assert len(config["class_names"]) == 1000
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 3 and np.isfinite(metrics["final_loss"])
    assert 0 <= metrics["knn_top1"] <= 1

    from tfssl.eval import evaluate_run

    report = evaluate_run(str(run), protocol="knn,label_free", data_dir=str(imagenet_dir),
                          write_report=False, verbose=False)
    p = report["protocols"]
    assert p["knn"]["top1"] == pytest.approx(metrics["knn_top1"], abs=1e-6)
    assert (report["train_examples"], report["eval_examples"]) == (24, 6)
    assert p["label_free"]["rankme"] >= 1
