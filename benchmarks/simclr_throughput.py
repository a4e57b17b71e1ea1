"""SimCLR train-step throughput, comparable with ../shared/bench/peer_lightly_simclr.py.

    python benchmarks/simclr_throughput.py --encoder=resnet18 --batch_size=128 --steps=5

Same model as the Lightly peer: CIFAR ResNet-18 (3x3 stride-1 stem, no max-pool),
projection head 512-512-128 (Dense-BN-ReLU-Dense, as Lightly's SimCLRProjectionHead),
NT-Xent with temperature 0.5, SGD (lr 0.06, momentum 0.9, weight decay 5e-4), batch 128
of 32x32 images. Inputs are pre-made random views held in memory (``--data=random``), as
in the peer, so that only the train step is timed; ``--data=cifar10`` feeds real images
through tfssl's augmentation pipeline instead (then the tf.data work competes for the
same cores and is part of the measurement).

The step is tfssl's own ``SimCLR.train_step`` run by ``model.fit`` (verbose 0) over a
repeated in-memory dataset: what a user's ``fit`` does. The first ``--warmup_steps``
steps (tracing, XLA compilation; 2 as in the peer) are excluded; the clock runs from the
end of the last warm-up step to the end of the last timed step, and every step ends by
reading the loss back to Python (the peer's ``loss.item()``). Images are counted as in
the peer: both views, so ``images_per_s = 2 * batch_size / s_per_step``.

Prints exactly one JSON line on stdout; everything else goes to stderr.
"""

import json
import os
import sys
import time

from absl import app, flags

from _common import (default_archive, define_threads_flag, op_profile,  # benchmarks/_common.py
                     set_threads)

flags.DEFINE_string("encoder", "resnet18", "convnet | resnet18 | resnet34 | resnet50")
flags.DEFINE_float("width", 1.0, "Channel-width multiplier of the encoder.")
flags.DEFINE_integer("batch_size", 128, "Images per view per step (the peer's BATCH).")
flags.DEFINE_integer("steps", 5, "Timed steps (the peer's STEPS).")
flags.DEFINE_integer("warmup_steps", 2, "Untimed steps first (tracing, compilation); "
                     "2 as in the peer.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("projection_dim", 128, "Projection output width.")
flags.DEFINE_integer("projection_hidden_dim", 512, "Projection hidden width.")
flags.DEFINE_float("temperature", 0.5, "NT-Xent temperature.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Keras dtype policy.")
flags.DEFINE_enum("jit_compile", "auto", ["true", "false", "auto"],
                  "XLA for the train step; auto is Keras' default (XLA when supported).")
define_threads_flag()
flags.DEFINE_enum("data", "random", ["random", "cifar10"],
                  "random: pre-made random views in memory (as the peer); cifar10: the "
                  "held-out slice of --archive through tfssl's augmentation pipeline.")
flags.DEFINE_string("archive", None, "CIFAR-10 archive for --data=cifar10 (default: "
                    "<repo>/../shared/data/cifar10/train.tar.gz).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_bool("profile", False, "Then trace --steps more steps with TensorFlow's "
                  "profiler and add the op types' time per step (\"profile\").")

FLAGS = flags.FLAGS



def step_timer(warmup_steps):
    """A Keras callback that syncs on the loss after every step (the peer's
    ``loss.item()``) and notes when the warm-up ends and the last step ends."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        done, start, end, loss, fit_start = 0, None, None, None, None

        def on_train_begin(self, logs=None):
            self.fit_start = time.perf_counter()
            if warmup_steps == 0:
                self.start = self.fit_start

        def on_train_batch_end(self, batch, logs=None):
            self.loss = float(logs["loss"])
            self.done += 1
            self.end = time.perf_counter()
            if self.done == warmup_steps:
                self.start = self.end

    return StepTimer()


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the one JSON line
    import tensorflow as tf

    set_threads(FLAGS.threads)
    import keras

    import tfssl.encoders
    import tfssl.layers
    import tfssl.methods
    import tfssl.optimizers

    if FLAGS.steps < 1 or FLAGS.warmup_steps < 0 or FLAGS.batch_size < 2:
        raise app.UsageError("need --steps >= 1, --warmup_steps >= 0, --batch_size >= 2")
    keras.config.set_dtype_policy(FLAGS.precision)
    keras.utils.set_random_seed(FLAGS.seed)

    n, size = FLAGS.batch_size, FLAGS.image_size
    if FLAGS.data == "random":
        v1 = tf.random.uniform((n, size, size, 3), seed=FLAGS.seed)
        v2 = tf.random.uniform((n, size, size, 3), seed=FLAGS.seed + 1)
        dataset = tf.data.Dataset.from_tensors((v1, v2)).repeat()
    else:
        import tfssl.data

        archive = FLAGS.archive or default_archive()
        if not os.path.isfile(archive):
            print(f"simclr_throughput: no CIFAR-10 archive at {archive}", file=sys.stderr)
            sys.exit(2)
        images = tfssl.data.load_images("folder:" + archive, size, split="test")
        dataset = tfssl.data.simclr_dataset(images, n, size, seed=FLAGS.seed).repeat()

    encoder = tfssl.encoders.image_encoder(FLAGS.encoder, size, 3, width=FLAGS.width)
    head = tfssl.layers.ProjectionHead(FLAGS.projection_dim, FLAGS.projection_hidden_dim,
                                       num_layers=2, last_bn=False)
    model = tfssl.methods.SimCLR(encoder, head, temperature=FLAGS.temperature)
    optimizer = tfssl.optimizers.build_optimizer("sgd", 0.06, total_steps=None,
                                                 weight_decay=5e-4, momentum=0.9)
    jit = {"true": True, "false": False, "auto": "auto"}[FLAGS.jit_compile]
    model.compile(optimizer=optimizer, jit_compile=jit)

    timer = step_timer(FLAGS.warmup_steps)
    model.fit(dataset, epochs=1, steps_per_epoch=FLAGS.warmup_steps + FLAGS.steps,
              callbacks=[timer], verbose=0, shuffle=False)
    s_per_step = (timer.end - timer.start) / FLAGS.steps

    result = {
        "benchmark": "simclr_throughput",
        "encoder": FLAGS.encoder,
        "width": FLAGS.width,
        "params": int(encoder.count_params() + head.count_params()),
        "batch_size": n,
        "image_size": size,
        "data": FLAGS.data,
        "steps": FLAGS.steps,
        "warmup_steps": FLAGS.warmup_steps,
        "images_per_s": round(2 * n / s_per_step, 2),
        "step_ms": round(1e3 * s_per_step, 2),
        "warmup_s": round(timer.start - timer.fit_start, 2),
        "jit_compile": bool(model.jit_compile),
        "precision": FLAGS.precision,
        "threads": FLAGS.threads,
        "final_loss": round(timer.loss, 4),
        "tf": tf.__version__,
        "keras": keras.__version__,
    }
    if FLAGS.profile:
        result["profile"] = op_profile(lambda: model.fit(
            dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0), FLAGS.steps)
    print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)  # bad input (UsageError): one line on stderr, exit 2
