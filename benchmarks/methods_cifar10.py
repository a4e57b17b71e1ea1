"""Every registered image method on CIFAR-10 for the same wall-clock budget.

    python benchmarks/methods_cifar10.py                       # 10 minutes per method
    python benchmarks/methods_cifar10.py --minutes=3 --methods=simclr,byol

Each method is pretrained through the library runner (``tfssl.runs.pretrain``, the same
call as ``tfssl-pretrain``) on the shared CIFAR-10 training archive minus its
deterministic held-out slice, with the same encoder (``--encoder``, default the small
``convnet``), data, batch size and augmentation strength, for ``--minutes`` of wall-clock
training (``budget_minutes``: the learning rate warms up and decays over the budget).
Each method keeps its own CIFAR-10 recipe (the ``METHOD_cifar10`` preset: heads,
momentum, clusters, ...) and registered learning rate; ``--settings=KEY=VALUE`` applies
to every method that has the setting. Then kNN top-1 on the held-out slice, pretrained vs the same encoder at its random
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
flags.DEFINE_list("settings", ["temperature=0.2"], "KEY=VALUE method settings applied "
                  "to every method that has KEY (SimCLR and MoCo at batch 256: 0.2).")
flags.DEFINE_string("optimizer", "adamw", "Optimizer shared by every method (each keeps "
                    "its registered learning rate).")
flags.DEFINE_float("min_crop_scale", 0.08, "Smallest area fraction of the random crop.")
flags.DEFINE_float("color_jitter", 0.5, "Colour-jitter strength.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Dtype policy of every method (bfloat16 is ~2x faster on CPUs with "
                  "AMX, slower without).")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN.")
flags.DEFINE_integer("threads", 0, "TF threads (0: TensorFlow's default).")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("work_dir", None, "Where the run folders go (default: a temporary "
                    "directory).")
flags.DEFINE_bool("overwrite", False, "Replace finished runs left in --work_dir by an "
                  "earlier call (else a second call is refused).")

FLAGS = flags.FLAGS


def parse_settings(items):
    """``["k=v", ...]`` -> dict, values parsed as JSON numbers/booleans where they are."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise app.UsageError(f"--settings={item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


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
    from tfssl.presets import preset_names, resolve_settings
    from tfssl.runs import pretrain

    methods = FLAGS.methods or registry.names("image")
    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="tfssl-methods-cifar10-")
    extra = parse_settings(FLAGS.settings)
    presets = set(preset_names())
    for name in methods:
        # The method's CIFAR-10 recipe (heads, momentum, clusters, ...) where one exists,
        # with what every method shares here: data, encoder, batch, views, optimizer.
        preset = f"{name}_cifar10" if f"{name}_cifar10" in presets else None
        registered = resolve_settings(method=name)
        own = {k: v for k, v in extra.items() if k in registered}
        settings = resolve_settings(
            method=name, preset=preset, dataset="folder:" + archive,
            encoder=FLAGS.encoder, width=FLAGS.width, image_size=FLAGS.image_size,
            batch_size=FLAGS.batch_size, epochs=10**6, budget_minutes=FLAGS.minutes,
            min_crop_scale=FLAGS.min_crop_scale, color_jitter=FLAGS.color_jitter,
            optimizer=FLAGS.optimizer, learning_rate=registered["learning_rate"],
            weight_decay=registered["weight_decay"], precision=FLAGS.precision,
            knn_k=FLAGS.knn_k, seed=FLAGS.seed,
            overwrite=FLAGS.overwrite,
            model_dir=os.path.join(work, name), **own)
        heads = {k: settings[k] for k in ("projection_dim", "projection_hidden_dim",
                                          "prediction_hidden_dim", "num_clusters")
                 if k in settings}
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
                  "preset": preset, "learning_rate": settings["learning_rate"],
                  "precision": FLAGS.precision,
                  **own, **heads}
        print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)
