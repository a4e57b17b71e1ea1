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


def op_profile(run, steps, top=8):
    """Where ``run()`` (``steps`` train steps) spends its time, from a TensorFlow
    profiler trace: ``{"all_ops_ms": ..., "ops_ms": {op type: ms, ...}}`` per step, op
    self-time summed over TensorFlow's threads (so above the wall time with two
    inter-op threads), the ``top`` op types by time."""
    import glob
    import json
    import tempfile

    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    with tempfile.TemporaryDirectory(prefix="tfssl-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            run()
        finally:
            tf.profiler.experimental.stop()
        paths = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        data, _ = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    table = json.loads(data)[-1]  # the table without idle time
    cols = [c["id"] for c in table["cols"]]
    by_type = {}
    for row in table["rows"]:
        r = dict(zip(cols, (c.get("v") for c in row["c"])))
        by_type[r["type"]] = by_type.get(r["type"], 0.0) + r["total_self_time"]
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])[:top]
    return {"all_ops_ms": round(sum(by_type.values()) / 1e3 / steps, 1),
            "ops_ms": {name: round(us / 1e3 / steps, 1) for name, us in ranked}}
