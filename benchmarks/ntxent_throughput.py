"""NT-Xent forward + backward time, comparable with ../shared/bench/peer_ntxent.py.

    python benchmarks/ntxent_throughput.py --batch_size=4096 --dim=128

``tfssl.losses.NTXent(temperature=0.5)(z1, z2)`` on two random normal ``(N, D)``
projections (2N = 8192 embeddings of 128 by default, as the peer), and the gradients
with respect to both inputs, in one ``tf.function``: by default the path that
``NTXent`` and ``SimCLR``'s train step take without XLA (blocked, analytic gradient);
``--jit_compile`` XLA-compiles the whole function, which takes the dense formula. The
``path`` field says which ran ("blocked" or "dense", read from the traced graph). Like
the peer: 2 untimed calls, then the mean over ``--steps`` (5) calls, each ending by
reading the loss back to Python (the peer's ``loss.item()``).

Prints exactly one JSON line on stdout; everything else goes to stderr.
"""

import json
import os
import sys
import time

from absl import app, flags

from _common import define_threads_flag, set_threads  # benchmarks/_common.py

flags.DEFINE_integer("batch_size", 4096, "N: images per view (2N embeddings); the peer's BATCH.")
flags.DEFINE_integer("dim", 128, "Projection width D; the peer's DIM.")
flags.DEFINE_float("temperature", 0.5, "NT-Xent temperature.")
flags.DEFINE_integer("steps", 5, "Timed calls.")
flags.DEFINE_integer("warmup_steps", 2, "Untimed calls first (tracing, compilation).")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the forward + backward function.")
define_threads_flag()
flags.DEFINE_integer("seed", 0, "Random seed of the inputs.")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the one JSON line
    import tensorflow as tf

    set_threads(FLAGS.threads)
    import tfssl.losses

    if FLAGS.steps < 1 or FLAGS.warmup_steps < 0 or FLAGS.batch_size < 2:
        raise app.UsageError("need --steps >= 1, --warmup_steps >= 0, --batch_size >= 2")
    loss_fn = tfssl.losses.NTXent(temperature=FLAGS.temperature)
    shape = (FLAGS.batch_size, FLAGS.dim)
    z1 = tf.random.normal(shape, seed=FLAGS.seed)
    z2 = tf.random.normal(shape, seed=FLAGS.seed + 1)

    @tf.function(jit_compile=FLAGS.jit_compile)
    def forward_backward(z1, z2):
        with tf.GradientTape() as tape:
            tape.watch([z1, z2])
            loss = loss_fn(z1, z2)
        g1, g2 = tape.gradient(loss, [z1, z2])
        return loss, g1, g2  # the gradients are outputs, so they are computed

    graph = forward_backward.get_concrete_function(z1, z2).graph
    # The blocked path loops over blocks of anchors; the dense one has no loop.
    path = "blocked" if any(op.type in ("While", "StatelessWhile")
                            for op in graph.get_operations()) else "dense"
    for _ in range(FLAGS.warmup_steps):
        float(forward_backward(z1, z2)[0])
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        loss = float(forward_backward(z1, z2)[0])
    ms = 1e3 * (time.perf_counter() - start) / FLAGS.steps

    result = {
        "benchmark": "ntxent_throughput",
        "batch_size": FLAGS.batch_size,
        "embeddings": 2 * FLAGS.batch_size,
        "dim": FLAGS.dim,
        "temperature": FLAGS.temperature,
        "steps": FLAGS.steps,
        "warmup_steps": FLAGS.warmup_steps,
        "ms_per_step": round(ms, 2),
        "jit_compile": FLAGS.jit_compile,
        "path": path,
        "threads": FLAGS.threads,
        "loss": round(loss, 4),
        "tf": tf.__version__,
    }
    print(json.dumps(result), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)  # bad input (UsageError): one line on stderr, exit 2
