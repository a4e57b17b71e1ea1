"""Every registered image method on CIFAR-10 for the same wall-clock budget.

    python benchmarks/methods_cifar10.py                       # 10 minutes per method
    python benchmarks/methods_cifar10.py --minutes=3 --methods=simclr,byol

Each method is pretrained through the library runner (``tfssl.runs.pretrain``, the same
call as ``tfssl-pretrain``) on the shared CIFAR-10 training archive minus its
deterministic held-out slice, with the same encoder (``--encoder``, default the small
``convnet``), data, batch size and augmentation strength, for ``--minutes`` of wall-clock
training (``budget_minutes``: the learning rate warms up and decays over the budget).
Each method keeps its own registered hyper-parameters (heads, temperature, momentum,
...); ``--projection_dim`` / ``--projection_hidden_dim`` apply to the methods that have
them. Then kNN top-1 on the held-out slice, pretrained vs the same encoder at its random
initialisation.

Prints one JSON line per method on stdout; everything else goes to stderr. No archive:
one line on stderr, exit 2.
"""

import json
import os
import sys
import tempfile

from absl import app, flags

from _common import default_archive, set_threads  # benchmarks/_common.py

flags.DEFINE_string("archive", None, "CIFAR-10 archive of class folders (default: "
                    "<repo>/../shared/data/cifar10/train.tar.gz).")
flags.DEFINE_float("minutes", 10.0, "Wall-clock training budget per method, in minutes.")
flags.DEFINE_list("methods", None, "Methods to run (default: every registered image "
                  "method).")
flags.DEFINE_string("encoder", "convnet", "Encoder shared by every method.")
flags.DEFINE_float("width", 1.0, "Channel-width multiplier of the encoder.")
flags.DEFINE_integer("batch_size", 256, "Images per step.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("projection_dim", 128, "Projection width, for methods that have one "
                     "(Barlow Twins and VICReg: 4x, as their papers use wide projectors).")
flags.DEFINE_integer("projection_hidden_dim", 512, "Hidden width of the heads.")
flags.DEFINE_float("min_crop_scale", 0.08, "Smallest area fraction of the random crop.")
flags.DEFINE_float("color_jitter", 0.5, "Colour-jitter strength.")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN.")
flags.DEFINE_integer("threads", 0, "TF threads (0: TensorFlow's default).")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("work_dir", None, "Where the run folders go (default: a temporary "
                    "directory).")

FLAGS = flags.FLAGS
WIDE = ("barlow_twins", "vicreg")  # redundancy-reduction methods want wide projectors


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the JSON lines
    archive = FLAGS.archive or default_archive()
    if not os.path.isfile(archive):
        print(f"methods_cifar10: no CIFAR-10 archive at {archive}", file=sys.stderr)
        sys.exit(2)
    if FLAGS.minutes <= 0:
        raise app.UsageError(f"--minutes={FLAGS.minutes}: must be > 0")
    set_threads(FLAGS.threads)
    import keras

    from tfssl.methods import registry
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    methods = FLAGS.methods or registry.names("image")
    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="tfssl-methods-cifar10-")
    for name in methods:
        defaults = resolve_settings(method=name)
        heads = {k: v for k, v in dict(
            projection_dim=FLAGS.projection_dim * (4 if name in WIDE else 1),
            projection_hidden_dim=FLAGS.projection_hidden_dim * (2 if name in WIDE else 1),
        ).items() if k in defaults}
        settings = resolve_settings(
            method=name, dataset="folder:" + archive, encoder=FLAGS.encoder,
            width=FLAGS.width, image_size=FLAGS.image_size, batch_size=FLAGS.batch_size,
            epochs=10**6, budget_minutes=FLAGS.minutes, min_crop_scale=FLAGS.min_crop_scale,
            color_jitter=FLAGS.color_jitter, knn_k=FLAGS.knn_k, seed=FLAGS.seed,
            model_dir=os.path.join(work, name), **heads)
        keras.backend.clear_session()
        metrics = pretrain(settings)
        result = {"benchmark": "methods_cifar10", "method": name,
                  "encoder": FLAGS.encoder, "width": FLAGS.width,
                  "batch_size": FLAGS.batch_size, "budget_minutes": FLAGS.minutes,
                  "train_seconds": metrics["train_seconds"], "steps": metrics["steps"],
                  "knn_k": FLAGS.knn_k, "knn_top1": round(metrics["knn_top1"], 4),
                  "knn_top1_random_init": round(metrics["knn_top1_random_init"], 4),
                  "final_loss": round(metrics.get("final_loss", float("nan")), 4),
                  "final_embedding_std": round(
                      metrics.get("final_embedding_std", float("nan")), 4),
                  **{k: v for k, v in heads.items()}}
        print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)
