"""2-D convolution whose input gradient is computed by forward convolutions.

For a stride-1 convolution with "same" padding and an odd kernel, the gradient with
respect to the input is itself a stride-1 "same" convolution of the output gradient with
the kernel flipped in space and with its input and output channels swapped. For stride
2 it is four such convolutions, one per output phase (even / odd row and column), each
with the taps of the kernel that reach that phase, interleaved by ``depth_to_space``:
the same arithmetic as the forward pass. TensorFlow computes the gradient with
``Conv2DBackpropInput`` instead, which on some CPUs is several times slower than the
forward kernel for the same arithmetic: on a 2-core AMD EPYC (2026-12-02, oneDNN,
float32, 256 images) 1,636 vs 232 ms at 512 channels and 4x4 pixels, 453 vs 291 ms at 64
channels and 32x32, and 607 ms for a stride-2 256 -> 512 convolution at 8x8 whose
forward pass takes 90 (``benchmarks/README.md``). :class:`Conv2D` is Keras's layer
(same weights, config and results up to float rounding) that takes forward kernels for
that gradient where the identity holds on a machine without a GPU or TPU, and Keras's
own path everywhere else (cuDNN's and XLA's gradient kernels are not measured slow, and
``benchmarks/gpu_check.sh`` has not yet run on a GPU).
"""

import keras
import tensorflow as tf

from tfssl.runs.machine import has_accelerator

__all__ = ["Conv2D", "conv2d_same", "input_gradient"]

# Stride-2 input gradients by phases only up to this many input pixels (3x3 and larger
# kernels; 1x1): on the machine above the phase form of the 3x3 is 5x faster at 8x8,
# 1.8x at 16x16 and slower at 32x32; the 1x1's is 3.3x faster at 8x8, 2x slower at 16x16.
_STRIDE2_MAX_PIXELS = (16 * 16, 8 * 8)


def _tap_phase(size, pad, phase):
    """For one output phase of a stride-2 "same" convolution along one axis (kernel
    ``size``, ``pad`` padding before): the first tap that reaches it (every second tap
    from there does), how many, and the padding (before, after) of the output gradient."""
    first = (phase + pad) % 2
    shift = (phase + pad - first) // 2
    taps = len(range(first, size, 2))
    return first, taps, taps - 1 - shift, shift


def _input_gradient_stride2(dy, kernel, x_shape):
    kh, kw, cin = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    pads = (max(kh - 2, 0) // 2, max(kw - 2, 0) // 2)  # TensorFlow's "same", even input
    swapped = tf.transpose(kernel, [0, 1, 3, 2])
    phases = []
    for row in (0, 1):
        r0, rows, top, bottom = _tap_phase(kh, pads[0], row)
        for col in (0, 1):
            c0, cols, left, right = _tap_phase(kw, pads[1], col)
            if rows == 0 or cols == 0:  # no tap reaches this phase (a 1x1 kernel)
                phases.append(tf.zeros(
                    tf.stack([x_shape[0], x_shape[1] // 2, x_shape[2] // 2, cin]),
                    dy.dtype))
                continue
            taps = tf.reverse(swapped[r0::2, c0::2], [0, 1])
            padded = tf.pad(dy, [[0, 0], [top, bottom], [left, right], [0, 0]])
            phases.append(tf.nn.conv2d(padded, taps, 1, "VALID"))
    return tf.nn.depth_to_space(tf.concat(phases, -1), 2)


def input_gradient(dy, kernel, stride, x_shape):
    """The gradient of ``tf.nn.conv2d(x, kernel, stride, "SAME")`` with respect to ``x``
    (of shape ``x_shape``) for the output gradient ``dy``, by forward convolutions."""
    if stride == 1:
        flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
        return tf.nn.conv2d(dy, flipped, 1, "SAME")
    return _input_gradient_stride2(dy, kernel, x_shape)


def conv2d_same(x, kernel, stride=1):
    """``tf.nn.conv2d(x, kernel, stride, "SAME")`` (NHWC, odd kernel; stride 1, or 2 on
    an even height and width) with the input gradient computed by forward convolutions
    and the kernel gradient by TensorFlow's own kernel."""

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, stride, "SAME")

        def grad(dy):
            dx = input_gradient(dy, kernel, stride, tf.shape(x))
            dkernel = tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                strides=[1, stride, stride, 1], padding="SAME")
            return dx, dkernel

        return y, grad

    return conv(x, kernel)


@keras.saving.register_keras_serializable(package="tfssl")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose input gradient is computed by forward convolutions
    where it can be.

    The fast gradient applies on the TensorFlow backend to ``padding="same"``,
    ``dilation_rate=1``, ``groups=1``, ``channels_last`` and odd kernel sizes, with
    ``strides=1``, or ``strides=2`` on an input of even height and width of at most
    16x16 pixels (8x8 for a 1x1 kernel); every other configuration (and every other
    backend) runs Keras's ``convolution_op`` unchanged, as does a machine with a GPU or a
    TPU. The forward result and the kernel gradient are TensorFlow's own kernels either
    way.
    """

    def _fast_gradient(self, input_shape=None):
        if not (keras.backend.backend() == "tensorflow" and self.padding == "same"
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                and self.data_format == "channels_last"
                and all(k % 2 == 1 for k in self.kernel_size)) or has_accelerator():
            return False
        if tuple(self.strides) == (1, 1):
            return True
        if tuple(self.strides) != (2, 2) or input_shape is None:
            return False
        h, w = input_shape[1], input_shape[2]
        return (h is not None and w is not None and h % 2 == 0 and w % 2 == 0
                and h * w <= _STRIDE2_MAX_PIXELS[max(self.kernel_size) == 1])

    def convolution_op(self, inputs, kernel):
        inputs = tf.convert_to_tensor(inputs)
        if not self._fast_gradient(inputs.shape):
            return super().convolution_op(inputs, kernel)
        return conv2d_same(inputs, tf.cast(kernel, inputs.dtype), self.strides[0])
