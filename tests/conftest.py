"""Shared test setup: quiet TensorFlow, two logical CPU devices, path to shared data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# --precision=auto (the default) measures the machine; the suite's numbers must not depend
# on it (tests of the measurement itself unset this).
os.environ.setdefault("TFSSL_AUTO_PRECISION", "float32")
# Likewise the CPU XLA choice of text runs (tfssl.runs.machine.default_cpu_xla).
os.environ.setdefault("TFSSL_AUTO_XLA", "true")

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# TFSSL_TEST_DEVICES=gpu (benchmarks/gpu_check.sh) runs the two-replica tests on two
# logical GPUs carved out of the first GPU instead of two logical CPUs.
ON_GPU = os.environ.get("TFSSL_TEST_DEVICES", "cpu") == "gpu"


@pytest.fixture(scope="session", autouse=True)
def _two_logical_cpus():
    """Two logical CPU devices (or GPUs, see ``ON_GPU``) for the tf.distribute tests.

    A fixture rather than import-time code: under pytest-xdist the controller process then
    never imports TensorFlow (whose start-up chatter pytest would print after the summary).
    """
    import tensorflow as tf

    kind = "GPU" if ON_GPU else "CPU"
    devices = tf.config.list_physical_devices(kind)
    if not devices:
        pytest.exit("TFSSL_TEST_DEVICES=gpu but TensorFlow sees no GPU", returncode=2)
    config = tf.config.LogicalDeviceConfiguration(memory_limit=4096 if ON_GPU else None)
    try:
        tf.config.set_logical_device_configuration(devices[0], [config] * 2)
    except RuntimeError:  # already initialised by an earlier import-time op
        pass


@pytest.fixture
def shared_data():
    """Path to ``../shared/data``; the test is skipped when the file it needs is absent."""

    def get(rel):
        p = SHARED_DATA / rel
        if not p.exists():
            pytest.skip(f"{p} not present")
        return p

    return get


@pytest.fixture(scope="session")
def cpu_strategy():
    """One MirroredStrategy over the two logical CPUs, shared by the whole session.

    Several MirroredStrategy objects in one process reuse collective instance keys, and
    TensorFlow then aborts their all-gathers ("Collective instance ... expected type"),
    so every test that needs two replicas takes this one.
    """
    import tensorflow as tf

    if ON_GPU:  # NCCL refuses two logical devices of one GPU; copy through one instead
        return tf.distribute.MirroredStrategy(
            ["/gpu:0", "/gpu:1"], cross_device_ops=tf.distribute.HierarchicalCopyAllReduce())
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
