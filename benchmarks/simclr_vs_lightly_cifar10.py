"""SimCLR at equal wall clock: tfssl against Lightly, kNN on the same held-out CIFAR-10 slice.

    bash ../shared/bench/setup_peers.sh /tmp/tfssl-peers        # once: Lightly + PyTorch
    python benchmarks/simclr_vs_lightly_cifar10.py --seconds=561 \\
        --peer_python=/tmp/tfssl-peers/bin/python [--precision=mixed_bfloat16]

1. Writes tfssl's split of the shared CIFAR-10 archive (``split="train"`` and its
   deterministic stratified held-out ``split="test"``) as PNG class folders, so that both
   systems train and are scored on exactly the same images.
2. Runs ``../shared/bench/peer_lightly_cifar10.py`` (Lightly's SimCLR with the encoder of
   tfssl's ``convnet``, its SimCLRTransform, projection head 128-512-128, NTXentLoss(0.2),
   AdamW 2e-3 with warm-up + cosine over the budget, batch 256) for ``--seconds`` and
   reads back its features.
3. Runs tfssl's SimCLR through the library runner for the same seconds
   (``budget_minutes``) with the same encoder, batch, optimizer, temperature and head.
4. kNN top-1 (``tfssl.eval.knn_accuracy``, k=20, cosine, temperature-weighted votes) of
   both on the same held-out slice.

Prints one JSON line on stdout; everything else goes to stderr.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

from _common import SHARED_DATA, default_archive

flags.DEFINE_string("archive", None, "CIFAR-10 archive (default: the shared one).")
flags.DEFINE_float("seconds", 561.0, "Wall-clock training budget of each system.")
flags.DEFINE_string("peer_python", "/tmp/tfssl-peers/bin/python",
                    "Python of the peer venv (../shared/bench/setup_peers.sh).")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "tfssl's dtype policy (the peer runs float32).")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN.")
flags.DEFINE_string("work_dir", None, "Scratch directory (default: a temporary one).")
flags.DEFINE_bool("overwrite", False, "Replace finished runs left in --work_dir by an "
                  "earlier call (else a second call is refused).")

FLAGS = flags.FLAGS


def write_split(data, root):
    """ImageData -> ``root/<class>/<i>.png`` (lossless: the decoded pixels exactly)."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(data.images, data.labels)):
        folder = os.path.join(root, data.class_names[label])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image).save(os.path.join(folder, f"{i:05d}.png"))


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr
    archive = FLAGS.archive or default_archive()
    if not os.path.isfile(archive):
        print(f"simclr_vs_lightly_cifar10: no CIFAR-10 archive at {archive}", file=sys.stderr)
        sys.exit(2)
    import numpy as np

    from tfssl.data import load_images
    from tfssl.eval import knn_accuracy
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="tfssl-vs-lightly-")
    spec = "folder:" + archive
    train = load_images(spec, 32, split="train")
    test = load_images(spec, 32, split="test")
    dirs = {name: os.path.join(work, name) for name in ("train", "test")}
    if not os.path.isdir(dirs["test"]):
        write_split(train, dirs["train"])
        write_split(test, dirs["test"])

    peer_out = os.path.join(work, "lightly.npz")
    peer = subprocess.run(
        [FLAGS.peer_python, os.path.join(SHARED_DATA, "..", "bench",
                                         "peer_lightly_cifar10.py"),
         dirs["train"], dirs["test"], peer_out, str(FLAGS.seconds)],
        capture_output=True, text=True)
    if peer.returncode != 0:
        print(peer.stderr[-3000:], file=sys.stderr)
        sys.exit(1)
    peer_line = json.loads(peer.stdout.strip().splitlines()[-1])
    f = np.load(peer_out)
    peer_knn = knn_accuracy(f["train_x"], f["train_y"], f["test_x"], f["test_y"],
                            FLAGS.knn_k, num_classes=10)

    settings = resolve_settings(
        method="simclr", dataset=spec, encoder="convnet", width=1.0, image_size=32,
        batch_size=256, optimizer="adamw", learning_rate=2e-3, weight_decay=1e-4,
        temperature=0.2, projection_dim=128, projection_hidden_dim=512,
        projection_layers=2, min_crop_scale=0.08, color_jitter=0.5, epochs=10**6,
        budget_minutes=FLAGS.seconds / 60.0, precision=FLAGS.precision,
        knn_k=FLAGS.knn_k, overwrite=FLAGS.overwrite, model_dir=os.path.join(work, "tfssl"))
    ours = pretrain(settings)
    print(json.dumps({
        "benchmark": "simclr_vs_lightly_cifar10", "seconds": FLAGS.seconds,
        "train_images": len(train), "test_images": len(test), "knn_k": FLAGS.knn_k,
        "tfssl_knn_top1": round(ours["knn_top1"], 4),
        "tfssl_knn_top1_random_init": round(ours["knn_top1_random_init"], 4),
        "tfssl_steps": ours["steps"], "tfssl_train_seconds": ours["train_seconds"],
        "tfssl_precision": FLAGS.precision,
        "lightly_knn_top1": round(peer_knn, 4), "lightly_steps": peer_line["steps"],
        "lightly_train_seconds": peer_line["train_seconds"],
    }), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)
