"""The machine and software a run was measured on (recorded in ``metrics.json``)."""

import os
import platform


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware():
    """This machine: platform, CPU model and cores, GPUs (names from ``tf.config``)."""
    import tensorflow as tf

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
        except (ValueError, RuntimeError):
            details = {}
        gpus.append(details.get("device_name", device.name))
    return {"platform": platform.platform(), "cpu": _cpu_model(),
            "cpu_cores": os.cpu_count(), "gpus": gpus}


def versions():
    import keras
    import tensorflow as tf

    import tfssl

    return {"tfssl": tfssl.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version()}
