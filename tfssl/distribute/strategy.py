"""Strategy factory: one name in, one ``tf.distribute.Strategy`` out."""

import tensorflow as tf

from tfssl.errors import UsageError

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


def make_strategy(name="auto", tpu_address=None):
    """Builds a strategy by name.

    Args:
        name: ``auto`` (mirrored over the local GPUs when there are several, else the
            default strategy), ``default``, ``one_device`` (first GPU, else CPU),
            ``mirrored`` (all local GPUs, or all logical CPUs when there is no GPU),
            ``multi_worker`` (``MultiWorkerMirroredStrategy`` configured from
            ``TF_CONFIG``) or ``tpu`` (``TPUStrategy``; ``tpu_address`` or the local TPU).

    Returns:
        a ``tf.distribute.Strategy``.
    """
    if name not in STRATEGIES:
        raise UsageError(f"--strategy={name!r}: expected one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError, RuntimeError) as e:
        raise UsageError(f"--strategy=tpu: no TPU found ({str(e).splitlines()[0]})") from None
    return tf.distribute.TPUStrategy(resolver)


def default_jit_compile(jit_compile=None):
    """``--jit_compile`` left unset: XLA on GPUs and TPUs, off on CPU-only machines.

    On CPU, XLA-compiled convolution training steps measured about 3x slower than
    TensorFlow's oneDNN kernels here (see benchmarks/), so the hot path is compiled only
    where it pays.
    """
    if jit_compile is not None:
        return bool(jit_compile)
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
