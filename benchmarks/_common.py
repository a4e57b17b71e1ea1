"""Shared by the benchmark scripts: shared-data paths and thread settings."""

import os
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))


def default_archive():
    """``<repo>/../shared/data/cifar10/train.tar.gz``."""
    return os.path.join(SHARED_DATA, "cifar10", "train.tar.gz")


def define_threads_flag():
    """``--threads``, defaulting to the peers' ``THREADS`` (2); 0 lets TensorFlow choose."""
    from absl import flags

    flags.DEFINE_integer("threads", int(os.environ.get("THREADS", "2")),
                         "TF intra- and inter-op threads (the peers' THREADS, default 2); "
                         "0 lets TensorFlow choose.")


def set_threads(threads):
    """TensorFlow intra- and inter-op threads (the peers' THREADS); 0 leaves TF's choice."""
    import tensorflow as tf

    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def write_tree(archive, n, root):
    """The first n / 10 images of each class as ``root/<class>/NNNN.jpg`` (once)."""
    done = os.path.join(root, ".complete")
    if os.path.exists(done):
        return
    per_class, counts = n // 10, {}
    with tarfile.open(archive) as tar:
        for m in tar:
            parts = m.name.split("/")
            if not m.isfile() or len(parts) != 3:
                continue
            cls = parts[1]
            if counts.get(cls, 0) >= per_class:
                continue
            counts[cls] = counts.get(cls, 0) + 1
            os.makedirs(os.path.join(root, cls), exist_ok=True)
            with open(os.path.join(root, cls, parts[2]), "wb") as f:
                f.write(tar.extractfile(m).read())
    open(done, "w").close()
