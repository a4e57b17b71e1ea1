"""Shared by the benchmark scripts: shared-data paths and thread settings."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))


def default_archive():
    """``<repo>/../shared/data/cifar10/train.tar.gz``."""
    return os.path.join(SHARED_DATA, "cifar10", "train.tar.gz")


def set_threads(threads):
    """TensorFlow intra- and inter-op threads (the peers' THREADS); 0 leaves TF's choice."""
    import tensorflow as tf

    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
