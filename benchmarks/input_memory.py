"""Peak resident memory of a one-epoch run, streamed vs in memory, at several set sizes.

    python benchmarks/input_memory.py --sizes=5000,25000,50000

For each size N, the first N / 10 images of every class of the shared CIFAR-10 archive
(``../shared/data/cifar10/train.tar.gz``) are written once as a class-folder tree under
``--work_dir``; then ``tfssl-pretrain`` runs one epoch on ``folder:TREE`` in a child
process for each ``--image_input`` (``stream``: files decoded while training;
``memory``: decoded once into memory), and the child's peak resident set size is read
from ``wait4``. The run is the whole command: loading, one epoch of SimCLR, the kNN
evaluation against random init, the export. With streaming the peak should stay flat as N
grows; in memory it grows with the decoded images (and their copies).

Prints exactly one JSON line on stdout (a row per size and input); everything else goes
to stderr.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

from _common import default_archive, write_tree  # benchmarks/_common.py

flags.DEFINE_string("archive", None, "CIFAR-10 archive (default: the shared one).")
flags.DEFINE_list("sizes", ["5000", "25000", "50000"], "Set sizes N (multiples of 10).")
flags.DEFINE_list("inputs", ["stream", "memory"], "--image_input values to compare.")
flags.DEFINE_string("work_dir", "/tmp/tfssl-input-memory", "Where the trees and runs go.")
flags.DEFINE_string("encoder", "convnet", "Encoder of the runs.")
flags.DEFINE_float("width", 0.25, "Width of the encoder (small: the input is measured).")
flags.DEFINE_integer("batch_size", 256, "Global batch size.")

FLAGS = flags.FLAGS


def run_once(tree, image_input, model_dir):
    """One epoch through tfssl-pretrain in a child; ``(peak RSS MiB, seconds, metrics)``."""
    args = [sys.executable, "-m", "tfssl.cli.pretrain", "--method=simclr",
            f"--dataset=folder:{tree}", f"--image_input={image_input}",
            f"--encoder={FLAGS.encoder}", f"--width={FLAGS.width}", "--image_size=32",
            f"--batch_size={FLAGS.batch_size}", "--epochs=1", f"--model_dir={model_dir}"]
    start = time.time()
    proc = subprocess.Popen(args, stdout=sys.stderr, stderr=sys.stderr,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tfssl-pretrain failed ({image_input}, {tree})")
    with open(os.path.join(model_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return usage.ru_maxrss / 1024.0, seconds, metrics  # ru_maxrss is in KiB on Linux


def main(argv):
    del argv
    archive = FLAGS.archive or default_archive()
    if not os.path.isfile(archive):
        raise app.UsageError(f"--archive={archive}: no such file (see ../shared/data)")
    rows = []
    for size in (int(s) for s in FLAGS.sizes):
        if size <= 0 or size % 10:
            raise app.UsageError(f"--sizes: {size} is not a positive multiple of 10")
        tree = os.path.join(FLAGS.work_dir, f"cifar10_{size}")
        write_tree(archive, size, tree)
        for image_input in FLAGS.inputs:
            run_dir = os.path.join(FLAGS.work_dir, f"run_{size}_{image_input}")
            peak, seconds, metrics = run_once(tree, image_input, run_dir)
            rows.append({"images": size, "image_input": image_input,
                         "peak_rss_mib": round(peak, 1), "wall_s": round(seconds, 1),
                         "train_s": metrics["train_seconds"], "steps": metrics["steps"]})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "input_memory", "encoder": FLAGS.encoder,
                      "width": FLAGS.width, "batch_size": FLAGS.batch_size,
                      "rows": rows}), flush=True)


if __name__ == "__main__":
    app.run(main)
