"""The input pipeline alone against the train step: which one is the bottleneck?

    python benchmarks/input_throughput.py --encoder=resnet18 --batch_size=256

Pipeline: ``tfssl.data.views_dataset`` with the ``simclr_cifar10`` preset's two views
(32 px, crop scale 0.08-1, jitter 0.5, flip) over the images of
``--work_dir/cifar10_N`` (written by ``benchmarks/input_memory.py``, or here from the
shared CIFAR-10 archive), once streamed from the JPEG files (``image_input=stream``) and
once decoded into memory first; batches are pulled as fast as possible (no model) and
counted after ``--warmup_batches``. Train step: ``benchmarks/simclr_throughput.py`` in a
child process (the same encoder and batch, views pre-made in memory), whose both-views
rate is halved into source images per second. ``bottleneck`` says which side is slower
on this machine; when both share the same cores, the real run is slower than either.

Prints exactly one JSON line on stdout; everything else goes to stderr.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

from _common import (  # benchmarks/_common.py
    REPO, default_archive, define_threads_flag, set_threads, write_tree)

flags.DEFINE_integer("images", 5000, "Images in the tree (a multiple of 10).")
flags.DEFINE_string("work_dir", "/tmp/tfssl-input-memory", "Where the tree is written.")
flags.DEFINE_string("archive", None, "CIFAR-10 archive (default: the shared one).")
flags.DEFINE_string("encoder", "resnet18", "Encoder of the train step.")
flags.DEFINE_float("width", 1.0, "Width of the encoder.")
flags.DEFINE_integer("batch_size", 256, "Images per view per step.")
flags.DEFINE_integer("batches", 20, "Timed pipeline batches.")
flags.DEFINE_integer("warmup_batches", 3, "Untimed pipeline batches first.")
flags.DEFINE_integer("steps", 5, "Timed train steps (simclr_throughput.py --steps).")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Train step policy.")
define_threads_flag()

FLAGS = flags.FLAGS


def pipeline_rate(source, views):
    """Source images per second out of the augmentation pipeline."""
    import tfssl.data

    ds = tfssl.data.views_dataset(source, FLAGS.batch_size, views, seed=0, epochs=100)
    it = iter(ds)
    for _ in range(FLAGS.warmup_batches):
        next(it)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        batch = next(it)
    float(batch[0][0, 0, 0, 0])
    return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - start)


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the one JSON line
    archive = FLAGS.archive or default_archive()
    if not os.path.isfile(archive):
        raise app.UsageError(f"--archive={archive}: no such file (see ../shared/data)")
    tree = os.path.join(FLAGS.work_dir, f"cifar10_{FLAGS.images}")
    write_tree(archive, FLAGS.images, tree)
    set_threads(FLAGS.threads)
    import tfssl.data
    from tfssl.augment import views_from_settings
    from tfssl.presets import resolve_settings

    views = views_from_settings(resolve_settings(preset="simclr_cifar10"))
    rates = {}
    for image_input in ("stream", "memory"):
        source = tfssl.data.load_images(f"folder:{tree}", 32, split="all",
                                        image_input=image_input)
        rates[image_input] = pipeline_rate(source, views)
        print(f"pipeline {image_input}: {rates[image_input]:.0f} images/s", file=sys.stderr)

    step = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "simclr_throughput.py"),
         f"--encoder={FLAGS.encoder}", f"--width={FLAGS.width}",
         f"--batch_size={FLAGS.batch_size}", f"--precision={FLAGS.precision}",
         f"--threads={FLAGS.threads}", f"--steps={FLAGS.steps}", "--warmup_steps=2"],
        capture_output=True, text=True)
    if step.returncode:
        raise SystemExit(f"simclr_throughput.py failed: {step.stderr[-2000:]}")
    step = json.loads(step.stdout.strip().splitlines()[-1])
    step_rate = step["images_per_s"] / 2  # both views counted there
    slowest = min(rates["stream"], rates["memory"], step_rate)
    result = {
        "benchmark": "input_throughput",
        "images": FLAGS.images,
        "batch_size": FLAGS.batch_size,
        "pipeline_stream_images_per_s": round(rates["stream"], 1),
        "pipeline_memory_images_per_s": round(rates["memory"], 1),
        "encoder": FLAGS.encoder,
        "width": FLAGS.width,
        "precision": FLAGS.precision,
        "train_step_images_per_s": round(step_rate, 1),
        "bottleneck": "model" if slowest == step_rate else "pipeline",
        "threads": FLAGS.threads,
    }
    print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    app.run(main)
