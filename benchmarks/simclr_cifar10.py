"""SimCLR quality on CIFAR-10 for a fixed wall-clock budget: kNN top-1, pretrained vs random.

    python benchmarks/simclr_cifar10.py                 # 15 minutes, defaults for 2 CPU cores
    python benchmarks/simclr_cifar10.py --minutes=60 --encoder=resnet18 --width=0.5

Pretrains tfssl's SimCLR on the shared CIFAR-10 training archive (``--archive``, default
``<repo>/../shared/data/cifar10/train.tar.gz``) minus its deterministic held-out slice
(``tfssl.data.load_images(..., split="train")`` vs ``split="test"``, a stratified 10 %
that never depends on ``--seed``). Training runs ``model.fit`` until ``--minutes`` of
wall-clock time are spent (a callback sets ``model.stop_training`` at the end of the
batch that crosses the budget; the clock starts when ``fit`` starts, so tracing counts).
The learning rate follows a warm-up + cosine schedule over that time budget rather than
over a step count nobody knows in advance.

Then the kNN top-1 (cosine, temperature-weighted votes, ``tfssl.eval.evaluate_knn``) on
the held-out slice, with the training slice as memory bank, for the pretrained encoder
and for the same encoder at the random initialisation it started from (same seed).

Defaults are chosen for a 2-core CPU and 15 minutes: the small ``convnet`` encoder
(~0.3 M parameters, about 7x fewer FLOPs than a half-width ResNet-18), batch 256,
AdamW, temperature 0.2, 32 px with the CIFAR SimCLR augmentation (crop scale 0.08-1,
colour jitter 0.5, no blur).

Prints exactly one JSON line on stdout; everything else goes to stderr. No archive:
one line on stderr, exit 2.
"""

import json
import os
import sys
import time

from absl import app, flags

from _common import default_archive, set_threads  # benchmarks/_common.py

flags.DEFINE_string("archive", None, "CIFAR-10 archive of class folders (default: "
                    "<repo>/../shared/data/cifar10/train.tar.gz).")
flags.DEFINE_float("minutes", 15.0, "Wall-clock training budget in minutes.")
flags.DEFINE_string("encoder", "convnet", "convnet | resnet18 | resnet34 | resnet50")
flags.DEFINE_float("width", 1.0, "Channel-width multiplier of the encoder.")
flags.DEFINE_integer("batch_size", 256, "Images per step (each seen as two views).")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_enum("optimizer", "adamw", ["adam", "adamw", "sgd", "lars"], "Optimizer.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak learning rate.")
flags.DEFINE_float("weight_decay", 1e-4, "Weight decay.")
flags.DEFINE_float("warmup_fraction", 0.05, "Linear warm-up, as a fraction of the budget.")
flags.DEFINE_float("temperature", 0.2, "NT-Xent temperature.")
flags.DEFINE_integer("projection_dim", 128, "Projection output width.")
flags.DEFINE_integer("projection_hidden_dim", 512, "Projection hidden width.")
flags.DEFINE_integer("projection_layers", 2, "Dense layers in the projection head.")
flags.DEFINE_float("min_crop_scale", 0.08, "Smallest area fraction of the random crop.")
flags.DEFINE_float("color_jitter", 0.5, "Colour-jitter strength.")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN.")
flags.DEFINE_integer("limit", 0, "Use at most this many images of each split, a seeded "
                     "random subset (0: all); for quick checks.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Keras dtype policy (bfloat16 pays off for ResNets on AMX CPUs, not for "
                  "the small convnet).")
flags.DEFINE_enum("jit_compile", "auto", ["true", "false", "auto"], "XLA for the train step.")
flags.DEFINE_integer("threads", 0, "TF intra- and inter-op threads (0: TensorFlow's "
                     "default, all cores).")
flags.DEFINE_integer("seed", 0, "Seed of weights, data order and augmentation.")

FLAGS = flags.FLAGS



def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the one JSON line
    archive = FLAGS.archive or default_archive()
    if not os.path.isfile(archive):
        print(f"simclr_cifar10: no CIFAR-10 archive at {archive}", file=sys.stderr)
        sys.exit(2)
    if FLAGS.minutes <= 0:
        raise app.UsageError(f"--minutes={FLAGS.minutes}: must be > 0")

    import numpy as np
    import tensorflow as tf

    set_threads(FLAGS.threads)
    import keras

    import tfssl.data
    import tfssl.encoders
    import tfssl.eval
    import tfssl.layers
    import tfssl.methods
    import tfssl.optimizers
    from tfssl.runs.budget import WallClockBudget

    keras.config.set_dtype_policy(FLAGS.precision)
    t0 = time.perf_counter()
    spec = "folder:" + archive
    train = tfssl.data.load_images(spec, FLAGS.image_size, split="train")
    test = tfssl.data.load_images(spec, FLAGS.image_size, split="test")
    if FLAGS.limit > 0:
        rng = np.random.default_rng(FLAGS.seed)
        train = train.subset(np.sort(rng.permutation(len(train))[:FLAGS.limit]))
        test = test.subset(np.sort(rng.permutation(len(test))[:FLAGS.limit]))
    load_s = time.perf_counter() - t0
    print(f"loaded {len(train)} training and {len(test)} held-out images in {load_s:.1f} s",
          file=sys.stderr, flush=True)

    def build_encoder():
        keras.utils.set_random_seed(FLAGS.seed)
        return tfssl.encoders.image_encoder(FLAGS.encoder, FLAGS.image_size,
                                            train.images.shape[-1], width=FLAGS.width)

    random_encoder = build_encoder()
    encoder = build_encoder()  # same seed: starts from random_encoder's weights
    head = tfssl.layers.ProjectionHead(FLAGS.projection_dim, FLAGS.projection_hidden_dim,
                                       num_layers=FLAGS.projection_layers)
    model = tfssl.methods.SimCLR(encoder, head, temperature=FLAGS.temperature)
    optimizer = tfssl.optimizers.build_optimizer(
        FLAGS.optimizer, FLAGS.learning_rate, total_steps=None,
        weight_decay=FLAGS.weight_decay)  # the budget callback drives the learning rate
    jit = {"true": True, "false": False, "auto": "auto"}[FLAGS.jit_compile]
    model.compile(optimizer=optimizer, jit_compile=jit)

    dataset = tfssl.data.simclr_dataset(
        train, FLAGS.batch_size, FLAGS.image_size, seed=FLAGS.seed,
        min_scale=FLAGS.min_crop_scale, color_jitter=FLAGS.color_jitter)
    steps_per_epoch = len(train) // FLAGS.batch_size
    budget = WallClockBudget(60.0 * FLAGS.minutes, FLAGS.learning_rate,
                             FLAGS.warmup_fraction)
    model.fit(dataset, epochs=10**6, callbacks=[budget], verbose=0, shuffle=False)

    t1 = time.perf_counter()
    knn_pre = tfssl.eval.evaluate_knn(model.encoder, train, test, k=FLAGS.knn_k)
    knn_rand = tfssl.eval.evaluate_knn(random_encoder, train, test, k=FLAGS.knn_k)
    eval_s = time.perf_counter() - t1

    result = {
        "benchmark": "simclr_cifar10",
        "encoder": FLAGS.encoder,
        "width": FLAGS.width,
        "params": int(encoder.count_params()),
        "batch_size": FLAGS.batch_size,
        "image_size": FLAGS.image_size,
        "optimizer": FLAGS.optimizer,
        "learning_rate": FLAGS.learning_rate,
        "temperature": FLAGS.temperature,
        "budget_minutes": FLAGS.minutes,
        "minutes": round(budget.elapsed / 60.0, 3),
        "steps": budget.steps,
        "epochs": round(budget.steps / max(1, steps_per_epoch), 3),
        "images_seen": budget.steps * FLAGS.batch_size,
        "train_images": len(train),
        "test_images": len(test),
        "knn_k": FLAGS.knn_k,
        "knn_top1": round(knn_pre, 4),
        "knn_top1_random_init": round(knn_rand, 4),
        "final_loss": round(budget.logs.get("loss", float("nan")), 4),
        "final_contrastive_accuracy": round(
            budget.logs.get("contrastive_accuracy", float("nan")), 4),
        "load_s": round(load_s, 1),
        "eval_s": round(eval_s, 1),
        "jit_compile": bool(model.jit_compile),
        "precision": FLAGS.precision,
        "tf": tf.__version__,
    }
    print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)  # bad input (UsageError): one line on stderr, exit 2
