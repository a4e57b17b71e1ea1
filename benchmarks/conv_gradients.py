"""Convolution gradients of CIFAR ResNet-18's shapes: TensorFlow's kernels vs tfssl's.

For each convolution shape of the CIFAR ResNet-18 (batch ``--batch_size``, both SimCLR
views in one pass by default), times the forward kernel, TensorFlow's input gradient
(``Conv2DBackpropInput``), the input gradient that ``tfssl.layers.Conv2D`` computes from
forward convolutions (when its rule takes it for that shape) and the kernel gradient
(``Conv2DBackpropFilter``), in ms per call; prints one JSON line.

    python benchmarks/conv_gradients.py
"""

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import define_threads_flag, set_threads  # noqa: E402

flags.DEFINE_integer("batch_size", 256, "Images per call (SimCLR batch 128, two views).")
flags.DEFINE_integer("image_size", 32, "Input side of the network in pixels.")
flags.DEFINE_float("width", 1.0, "Channel-width multiplier (64 channels at 1.0).")
flags.DEFINE_integer("repeats", 5, "Timed calls per kernel (after 2 untimed).")
define_threads_flag()
FLAGS = flags.FLAGS


def shapes(size, base):
    """(in channels, out channels, input side, kernel, stride) of ResNet-18's convolutions,
    one entry per distinct shape."""
    out = []
    for stage in range(4):
        c, s = base * 2**stage, size // 2**stage
        if stage:
            out += [(c // 2, c, 2 * s, 3, 2), (c // 2, c, 2 * s, 1, 2)]
        out.append((c, c, s, 3, 1))
    return out


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr
    import tensorflow as tf

    set_threads(FLAGS.threads)
    from tfssl.layers import Conv2D
    from tfssl.layers.convolution import input_gradient

    def timed(fn):
        fn = tf.function(fn)
        for _ in range(2):
            fn().numpy()
        start = time.perf_counter()
        for _ in range(FLAGS.repeats):
            fn().numpy()
        return round(1e3 * (time.perf_counter() - start) / FLAGS.repeats, 1)

    rows = []
    base = max(1, int(round(64 * FLAGS.width)))
    for cin, cout, side, k, stride in shapes(FLAGS.image_size, base):
        n = FLAGS.batch_size
        layer = Conv2D(cout, k, strides=stride, padding="same", use_bias=False)
        layer.build((n, side, side, cin))
        x = tf.random.normal([n, side, side, cin])
        kernel = tf.convert_to_tensor(layer.kernel)
        dy = tf.random.normal([n, side // stride, side // stride, cout])
        strides = [1, stride, stride, 1]

        row = {"in": cin, "out": cout, "side": side, "kernel": k, "stride": stride,
               "forward_ms": timed(lambda: tf.nn.conv2d(x, kernel, stride, "SAME")),
               "tf_input_grad_ms": timed(lambda: tf.raw_ops.Conv2DBackpropInput(
                   input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                   strides=strides, padding="SAME")),
               "tfssl_input_grad_ms": None,
               "kernel_grad_ms": timed(lambda: tf.raw_ops.Conv2DBackpropFilter(
                   input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                   strides=strides, padding="SAME"))}
        if layer._fast_gradient(x.shape):
            row["tfssl_input_grad_ms"] = timed(
                lambda: input_gradient(dy, kernel, stride, tf.shape(x)))
        rows.append(row)
        print(row, file=sys.stderr)
    print(json.dumps({"benchmark": "conv_gradients", "batch_size": FLAGS.batch_size,
                      "threads": FLAGS.threads, "tf": tf.__version__, "shapes": rows}),
          file=stdout, flush=True)


if __name__ == "__main__":
    app.run(main)
