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


def has_accelerator():
    """Whether TensorFlow sees a GPU or a TPU (logical devices)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


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


# --precision=auto: mixed_bfloat16 where it measured at least this much faster.
BF16_MIN_SPEEDUP = 1.25


def _cache_dir():
    return os.path.expanduser(os.environ.get("TFSSL_CACHE") or os.path.join("~", ".cache",
                                                                            "tfssl"))


def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return sorted(x for x in line.split(":", 1)[1].split()
                                  if "bf16" in x or x.startswith(("amx", "avx512f")))
    except OSError:
        pass
    return []


def measure_bfloat16_speedup(repeats=4):
    """How much faster bfloat16 runs than float32 on the default device: the geometric
    mean over a 1024 x 1024 matmul and a 3x3 convolution (batch 32, 32 x 32 x 64, the
    backward pass included), each timed after a warm-up call. About a second on a CPU."""
    import time

    import tensorflow as tf

    def timed(fn, *args):
        fn(*args)  # trace and warm up
        start = time.perf_counter()
        for _ in range(repeats):
            out = fn(*args)
        float(tf.reduce_sum(tf.cast(out, tf.float32)))
        return (time.perf_counter() - start) / repeats

    def conv_step(x, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            y = tf.nn.conv2d(x, w, 1, "SAME")
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(loss, w)

    times = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.cast(tf.random.stateless_normal((1024, 1024), (0, 1)), dtype)
        x = tf.cast(tf.random.stateless_normal((32, 32, 32, 64), (0, 2)), dtype)
        w = tf.cast(tf.random.stateless_normal((3, 3, 64, 64), (0, 3)) * 0.05, dtype)
        times[dtype.name] = (timed(tf.function(tf.matmul), a, a),
                             timed(tf.function(conv_step), x, w))
    ratios = [f / b for f, b in zip(times["float32"], times["bfloat16"])]
    return float((ratios[0] * ratios[1]) ** 0.5)


def default_precision():
    """What ``--precision=auto`` (the default) resolves to on this machine.

    ``mixed_bfloat16`` where :func:`measure_bfloat16_speedup` is at least
    :data:`BF16_MIN_SPEEDUP` on this machine's default device, else ``float32``. The
    environment variable ``TFSSL_AUTO_PRECISION`` (``float32`` / ``mixed_bfloat16``)
    pins the answer without measuring (the test suite pins ``float32``, so that its
    numbers do not depend on the machine).

    The measurement is cached in ``$TFSSL_CACHE/precision.json`` (default
    ``~/.cache/tfssl``), keyed by the device, the CPU model and its bfloat16/AMX flags and
    the TensorFlow version. Returns ``(precision, speedup)``.
    """
    pinned = os.environ.get("TFSSL_AUTO_PRECISION")
    if pinned:
        if pinned not in ("float32", "mixed_bfloat16", "mixed_float16"):
            from tfssl.errors import UsageError

            raise UsageError(f"TFSSL_AUTO_PRECISION={pinned!r}: expected float32, "
                             "mixed_bfloat16 or mixed_float16")
        return pinned, None
    speedup = _cached_measurement("precision.json", [], measure_bfloat16_speedup)
    return ("mixed_bfloat16" if speedup >= BF16_MIN_SPEEDUP else "float32"), speedup


def _cached_measurement(filename, parts, measure):
    """``measure()`` once per machine: cached in ``$TFSSL_CACHE/filename`` under a key of
    the device, the CPU model and its bfloat16/AMX flags, the TensorFlow version and
    ``parts`` (what else the number depends on). A read-only cache measures every time."""
    import json

    import tensorflow as tf

    gpus = hardware()["gpus"]
    key = "|".join([gpus[0] if gpus else "cpu", _cpu_model(), ",".join(_cpu_flags()),
                    tf.__version__, *map(str, parts)])
    path = os.path.join(_cache_dir(), filename)
    try:
        with open(path, encoding="utf-8") as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict):
        cache = {}
    if not isinstance(cache.get(key), (int, float)):
        cache[key] = round(measure(), 3)
        try:
            from tfssl.runs.files import write_json_atomic

            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_json_atomic(path, cache)
        except OSError:  # a read-only home: measure again next time
            pass
    return float(cache[key])


# The CPU XLA rule of a task with ``cpu_xla = "measure"``: XLA where its train step
# measured at least this much faster (compiling costs seconds at every start).
XLA_MIN_SPEEDUP = 1.1


def measure_xla_speedup(make_model, batch, steps=5, rounds=3):
    """How much faster the XLA-compiled train step runs than the plain graph one.

    ``make_model(jit_compile)`` returns a freshly built and compiled model (the real
    model, optimizer and precision of the run); both are warmed up on ``batch`` (tracing,
    compiling), then timed in ``rounds`` interleaved rounds of ``steps`` calls of
    ``train_on_batch``; the ratio of the median round times. The models are thrown away.
    """
    import statistics
    import time

    args = tuple(batch) if isinstance(batch, tuple) else (batch,)
    models = {jit: make_model(jit) for jit in (True, False)}
    for model in models.values():
        model.train_on_batch(*args)
    rounds_s = {jit: [] for jit in models}
    for _ in range(rounds):
        for jit, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(*args)  # returns the loss as a number: synchronous
            rounds_s[jit].append(time.perf_counter() - start)
    return statistics.median(rounds_s[False]) / statistics.median(rounds_s[True])


def default_cpu_xla(step_key, measure):
    """Whether a CPU-only run XLA-compiles its train step, from a measurement.

    ``measure()``: :func:`measure_xla_speedup` of this step, called only when
    ``step_key`` (the method, encoder, precision, batch shapes... it stands for) is not
    cached yet; cached per machine in
    ``$TFSSL_CACHE/xla.json``; XLA where it is at least :data:`XLA_MIN_SPEEDUP`. The
    environment variable ``TFSSL_AUTO_XLA`` (``true`` / ``false``) pins the answer
    without measuring (the test suite pins it). Returns ``(jit_compile, speedup)``.
    """
    pinned = os.environ.get("TFSSL_AUTO_XLA")
    if pinned:
        if pinned not in ("true", "false"):
            from tfssl.errors import UsageError

            raise UsageError(f"TFSSL_AUTO_XLA={pinned!r}: expected true or false")
        return pinned == "true", None
    speedup = _cached_measurement("xla.json", step_key, measure)
    return speedup >= XLA_MIN_SPEEDUP, speedup
