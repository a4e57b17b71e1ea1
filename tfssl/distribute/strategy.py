"""Strategy factory: one name in, one ``tf.distribute.Strategy`` out."""

import tensorflow as tf
from absl import logging

from tfssl.errors import UsageError
from tfssl.runs.machine import has_accelerator

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(count):
    """Splits the first physical CPU into ``count`` logical devices (``--num_cpu_replicas``).

    Then ``mirrored`` runs ``count`` replicas on a machine without GPUs, each with its own
    share of the batch. Must run before TensorFlow initialises its devices; a process
    that already has another split gets a :class:`UsageError`.
    """
    if count is None:
        return
    if count < 1:
        raise UsageError(f"--num_cpu_replicas={count}: must be >= 1")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # devices already initialised in this process
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise UsageError(f"--num_cpu_replicas={count}: this process already has {have} "
                             "logical CPU device(s); set it before any TensorFlow work"
                             ) from None


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
    if name == "multi_worker":  # before anything initialises the runtime (listing devices)
        return tf.distribute.MultiWorkerMirroredStrategy()
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
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError, RuntimeError) as e:
        raise UsageError(f"--strategy=tpu: no TPU found ({str(e).splitlines()[0]})") from None
    return tf.distribute.TPUStrategy(resolver)


def default_jit_compile(jit_compile=None, strategy=None, cpu=False):
    """The one XLA rule: ``--jit_compile`` when given, else decided per device.

    Unset: off when several replicas are in sync (``fit(jit_compile=True)`` under
    MirroredStrategy failed to place resources across logical devices), on for GPUs and
    TPUs, and on CPU-only machines ``cpu``: the task's answer, a bool or a function
    called only here (a measurement of the step on this machine,
    :func:`tfssl.runs.machine.default_cpu_xla`). XLA-compiled convolution steps were
    about 3x slower than oneDNN on CPU; BERT steps were 2.7x faster on one CPU and 1.4x
    slower on another, so text measures.
    """
    if jit_compile is not None:
        return bool(jit_compile)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        return False
    if has_accelerator():
        return True
    return bool(cpu() if callable(cpu) else cpu)


def is_chief(strategy=None):
    """Whether this process writes the run's files: True except on the non-chief workers
    of a multi-worker strategy (the chief is task ``chief``, else ``worker`` 0)."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    if resolver.task_type == "chief":
        return True
    jobs = resolver.cluster_spec().jobs
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs


def distributed_dataset(strategy, dataset_fn, global_batch):
    """The training input of ``fit`` under ``strategy``.

    ``dataset_fn(input_context)`` builds the dataset; with an ``InputContext`` it must
    batch the per-replica size and keep its input pipeline's share. When the global
    batch divides by the replicas, every worker builds its own pipeline through
    ``strategy.distribute_datasets_from_function`` (nothing is split after batching;
    each replica's batch is augmented where it is read). Otherwise (``global_batch`` 5
    on 2 replicas) one pipeline of global batches is split by Keras into uneven parts
    (3 + 2), which the methods handle exactly. One replica: the plain dataset.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return dataset_fn(None)
    if global_batch % replicas:
        logging.info("global batch %d does not divide by %d replicas: one input "
                     "pipeline, split into uneven per-replica batches", global_batch,
                     replicas)
        return dataset_fn(None)
    return strategy.distribute_datasets_from_function(dataset_fn)
