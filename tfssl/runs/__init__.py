"""The library runner: settings -> data -> method from the registry -> fit -> evaluate
-> export, with one run-folder layout for every method.

    import tfssl
    metrics = tfssl.pretrain(method="byol", epochs=5)          # or preset="simclr_cifar10"
    metrics = tfssl.pretrain(tfssl.presets.resolve_settings(method="mlm"))

``tfssl-pretrain`` parses its flags and calls :func:`pretrain`; a Python user can do
everything the command line does with the same call.

Run folder (``MODEL_DIR``)::

    config.json          the resolved settings and the facts of the data
    metrics.json         final training logs, evaluation against the random-init encoder
    logs/                TensorBoard
    backup/              BackupAndRestore while training (rerun after a kill resumes)
    keras/model.keras    the whole method (encoder, heads, targets, optimizer state)
    keras/encoder.keras  the encoder alone, for fine-tuning
    export/encoder/      SavedModel of the encoder for serving
    vocab.txt            text runs: the WordPiece vocabulary

Every output is written under a temporary name and renamed: a crash never leaves a
half-written file, and a bad setting fails before anything is written. The run files
are written once, at the end (``metrics.json`` last); a folder that holds a finished run
is refused unless ``overwrite`` (see :func:`_check_model_dir`).
"""

import contextlib
import json
import numbers
import os
import time

from tfssl.errors import UsageError
from tfssl.runs.machine import hardware, versions
from tfssl.runs.files import (  # noqa: F401
    read_json_object, replace_dir_atomic, save_keras_atomic, update_json_atomic,
    write_json_atomic)

__all__ = ["pretrain", "load_run_config", "read_run_metrics", "RUN_FILES"]

RUN_FILES = dict(config="config.json", metrics="metrics.json", model="keras/model.keras",
                 encoder="keras/encoder.keras", export="export/encoder", logs="logs",
                 backup="backup")

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # and "auto" (see pretrain)


def _task(spec, settings):
    from tfssl.runs.image import ImageTask
    from tfssl.runs.text import TextTask

    return {"image": ImageTask, "text": TextTask}[spec.modality](spec, settings)


def _check_schedule(s):
    for key in ("epochs", "batch_size"):
        if s[key] < 1:
            raise UsageError(f"--{key}={s[key]}: must be >= 1")
    if s["steps_per_epoch"] is not None and s["steps_per_epoch"] < 1:
        raise UsageError(f"--steps_per_epoch={s['steps_per_epoch']}: must be >= 1")
    if not s["learning_rate"] > 0:
        raise UsageError(f"--learning_rate={s['learning_rate']}: must be > 0")
    if not s["warmup_epochs"] >= 0:
        raise UsageError(f"--warmup_epochs={s['warmup_epochs']}: must be >= 0")
    if not s["weight_decay"] >= 0:
        raise UsageError(f"--weight_decay={s['weight_decay']}: must be >= 0")
    if not (isinstance(s["seed"], numbers.Integral) and 0 <= s["seed"] < 2**32):
        raise UsageError(f"--seed={s['seed']}: expected a whole number from 0 to 2**32 - 1")
    if s["budget_minutes"] is not None and not s["budget_minutes"] > 0:
        raise UsageError(f"--budget_minutes={s['budget_minutes']}: must be > 0")


#: What an interrupted run's ``backup/`` records of the settings it was started with.
BACKUP_SETTINGS = "settings.json"


def _comparable(settings):
    """The settings as JSON reads them back (tuples as lists), without ``overwrite``."""
    out = json.loads(json.dumps(dict(settings), sort_keys=True, default=str))
    out.pop("overwrite", None)
    return out


def _check_model_dir(settings, chief):
    """Refuses, before any work, to train where a run would be lost or mixed up:

    - a finished run (``keras/model.keras`` or ``metrics.json``) stays unless
      ``overwrite`` (then it is replaced when the new run is complete);
    - an interrupted run's ``backup/`` checkpoint resumes only under the settings it was
      started with (``backup/settings.json``); ``overwrite`` discards it instead.

    Returns the settings to record in ``backup/``.
    """
    import shutil

    model_dir, overwrite = settings["model_dir"], bool(settings.get("overwrite"))
    finished = [RUN_FILES[k] for k in ("model", "metrics")
                if os.path.exists(os.path.join(model_dir, RUN_FILES[k]))]
    if finished and not overwrite:
        raise UsageError(f"--model_dir={model_dir} holds a finished run ({finished[0]}); "
                         "give --overwrite to replace it once the new run is complete, "
                         "or another --model_dir")
    requested = _comparable(settings)
    backup = os.path.join(model_dir, RUN_FILES["backup"])
    stored = os.path.join(backup, BACKUP_SETTINGS)
    checkpoint = os.path.isdir(backup) and set(os.listdir(backup)) - {BACKUP_SETTINGS}
    if os.path.isfile(stored) and checkpoint:
        try:
            before = read_json_object(stored)
        except UsageError:
            before = {}
        changed = sorted(k for k in set(before) | set(requested)
                         if before.get(k) != requested.get(k))
        if changed and not overwrite:
            shown = "; ".join(f"{k}: {before.get(k)!r} there, {requested.get(k)!r} now"
                              for k in changed[:3])
            raise UsageError(f"--model_dir={model_dir}: backup/ holds an interrupted run "
                             f"of other settings ({shown}); rerun with its settings to "
                             "resume it, or give --overwrite to start again")
        if changed and chief:
            shutil.rmtree(backup)
    return requested


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global Keras dtype policy for a block and restores the previous one."""
    import keras

    if name not in PRECISIONS:
        raise UsageError(f"--precision={name!r}: expected one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def load_run_config(model_dir, flag="--model_dir"):
    """The ``config.json`` of a run folder, with the registry spec of its method."""
    from tfssl.methods import registry

    path = os.path.join(model_dir or "", RUN_FILES["config"])
    if not model_dir or not os.path.isfile(path):
        raise UsageError(f"{flag}={model_dir}: no config.json; expected a directory "
                         "written by tfssl-pretrain")
    config = read_json_object(path, flag=f"{flag}={model_dir}")
    if config.get("method") not in registry.names():
        raise UsageError(f"{flag}={model_dir}: {path} names no registered method "
                         f"(method {config.get('method')!r}); expected a directory "
                         "written by tfssl-pretrain")
    return config, registry.get(config["method"])


def read_run_metrics(model_dir, flag="--model_dir"):
    """The ``metrics.json`` of a run folder as a dict, ``{}`` when there is none yet.

    Commands that append their results to it read it first, so that a damaged file is
    refused before the work rather than after it.

    Raises:
        UsageError: naming the file when it is not a JSON object.
    """
    path = os.path.join(model_dir, RUN_FILES["metrics"])
    if not os.path.isfile(path):
        return {}
    return read_json_object(path, flag=f"{flag}={model_dir}")


def _remove_stale_reports(model_dir):
    import shutil

    from tfssl.eval.run import EVAL_DIR

    shutil.rmtree(os.path.join(model_dir, EVAL_DIR), ignore_errors=True)


def _measured_cpu_xla(s, spec, task, compiled):
    """XLA or not for this CPU-only run's train step, from a timing of both on this
    machine (cached, :func:`tfssl.runs.machine.default_cpu_xla`). Runs before the real
    model is built (which seeds itself again). A cache hit reads only the step's shapes
    and parameter count; a miss also draws one batch from the run's pipeline."""
    import tensorflow as tf

    from tfssl.runs.machine import default_cpu_xla, measure_xla_speedup

    dataset = task.train_dataset()
    shapes = tf.nest.map_structure(lambda t: tuple(t.shape), dataset.element_spec)
    key = [spec.name, s["encoder"], s["precision"], s["optimizer"], shapes,
           f"{task.build_encoder().count_params()} parameters"]
    jit, speedup = default_cpu_xla(key, lambda: measure_xla_speedup(
        lambda jit_compile: compiled(jit_compile)[1], next(iter(dataset))))
    if speedup is not None:
        s["xla_speedup"] = speedup
        print(f"tfssl {spec.name}: the XLA train step is {speedup:.2f}x as fast as the "
              f"plain one on this CPU (measured once, cached): jit_compile={jit}",
              flush=True)
    return jit


def pretrain(settings=None, **overrides):
    """Pretrains, evaluates against the random-init encoder and exports; returns metrics.

    Args:
        settings: resolved settings (:func:`tfssl.presets.resolve_settings`), or None.
        **overrides: with ``settings`` None, the arguments of ``resolve_settings``
            (``method``, ``preset`` and any setting).

    Returns:
        the dict written to ``MODEL_DIR/metrics.json``.
    """
    import keras

    from tfssl.distribute import (
        barrier, default_jit_compile, distributed_dataset, is_chief, make_strategy,
        split_cpu)
    from tfssl.methods import registry
    from tfssl.optimizers import build_optimizer
    from tfssl.presets import resolve_settings
    from tfssl.runs.budget import RunBackup, WallClockBudget, validation_every

    start = time.time()
    if settings is None:
        settings = resolve_settings(**overrides)
    elif overrides:
        raise TypeError("pretrain: give either settings or keyword overrides")
    s = dict(settings)
    # Devices and the strategy first: a multi-worker strategy must be made before
    # anything else touches TensorFlow's runtime.
    split_cpu(s.get("num_cpu_replicas"))
    strategy = make_strategy(s["strategy"])
    spec = registry.get(s["method"])
    _check_schedule(s)
    # Every worker of a multi-worker run trains and evaluates; only the chief writes.
    chief = is_chief(strategy)
    requested = _check_model_dir(s, chief)
    if s["precision"] == "auto":  # measured once per machine (tfssl.runs.machine)
        from tfssl.runs.machine import default_precision

        s["precision"], s["bfloat16_speedup"] = default_precision()
    model_dir = s["model_dir"]
    task = _task(spec, s)

    steps = task.num_train // s["batch_size"]
    if s["steps_per_epoch"]:
        steps = min(steps, s["steps_per_epoch"])
    total_steps = steps * s["epochs"]
    warmup = int(min(s["warmup_epochs"] * steps, total_steps - 1))
    budget = None
    if s["budget_minutes"]:
        budget = WallClockBudget(60.0 * s["budget_minutes"], s["learning_rate"])
        total_steps = None  # the budget drives the learning rate; no step schedule
    if budget and s["strategy"] == "multi_worker":
        raise UsageError("--budget_minutes with --strategy=multi_worker: each worker's "
                         "clock would stop it at a different step; give --epochs")

    with dtype_policy(s["precision"]):
        with strategy.scope():
            def compiled(jit_compile):
                encoder = task.build_encoder()
                model = spec.cls.from_settings(
                    encoder, dict(s, total_steps=total_steps or 0, num_train=task.num_train))
                model.compile(
                    optimizer=build_optimizer(
                        s["optimizer"], s["learning_rate"], total_steps, warmup,
                        s["weight_decay"],
                        exclude_from_weight_decay=task.exclude_from_weight_decay),
                    jit_compile=jit_compile)
                return encoder, model

            cpu_xla = task.cpu_xla
            if cpu_xla == "measure":
                def cpu_xla():
                    return _measured_cpu_xla(s, spec, task, compiled)
            s["jit_compile"] = default_jit_compile(s["jit_compile"], strategy, cpu_xla)
            encoder, model = compiled(s["jit_compile"])
        every = validation_every(task.validation_data, steps)
        config = dict(s, **task.info(), modality=spec.modality,
                      steps_per_epoch_actual=steps, validation_every_epochs=every,
                      encoder_file=RUN_FILES["encoder"], export_dir=RUN_FILES["export"])
        config.pop("overwrite", None)  # how this run was started, not what it trained
        if chief:  # what an interrupted run resumes under; config.json comes at the end
            write_json_atomic(os.path.join(model_dir, RUN_FILES["backup"], BACKUP_SETTINGS),
                              requested)
        callbacks = ([budget] if budget else []) + task.callbacks() + \
            model.training_callbacks(task) + ([
                keras.callbacks.TensorBoard(os.path.join(model_dir, RUN_FILES["logs"]))]
                if chief else []) + [
            RunBackup(os.path.join(model_dir, RUN_FILES["backup"]), chief)]
        print(f"tfssl {spec.name}: {task.describe()}; {s['encoder']} "
              f"({encoder.count_params():,} parameters); {s['epochs']} epochs x {steps} "
              f"steps; {strategy.num_replicas_in_sync} replica(s)", flush=True)
        fit_start = time.time()
        train_data = distributed_dataset(strategy, task.train_dataset, s["batch_size"])
        try:
            history = model.fit(train_data, epochs=s["epochs"],
                                steps_per_epoch=steps,
                                validation_data=task.validation_data,
                                validation_freq=every, callbacks=callbacks,
                                verbose="auto")
        except Exception as e:  # noqa: BLE001 - a streamed file the decoder refused
            error = task.input_error(e)
            if error is None:
                raise
            raise error from None
        train_seconds = time.time() - fit_start
        steps_done = int(model.optimizer.iterations.numpy())
        metrics = {"method": spec.name, "modality": spec.modality, "dataset": s["dataset"],
                   "encoder": s["encoder"], "jit_compile": bool(model.jit_compile),
                   **({"xla_speedup": s["xla_speedup"]} if "xla_speedup" in s else {}),
                   "epochs": len(history.epoch),
                   "steps": steps_done, "train_seconds": round(train_seconds, 1)}
        for key, values in history.history.items():
            if values and not key.startswith("val_"):
                metrics[f"final_{key}"] = float(values[-1])
        for cb in callbacks:  # the representation over pretraining, for the report
            if hasattr(cb, "history_records"):
                metrics.update(cb.history_records())
        metrics.update(task.evaluate(model, encoder))

    if not chief:
        barrier(strategy)  # the chief is writing the run; leave when it is done
        return metrics
    # The run folder is written once, here, metrics.json last: a failure before this
    # point leaves an earlier run in the folder as it was.
    save_keras_atomic(model, os.path.join(model_dir, RUN_FILES["model"]))
    save_keras_atomic(encoder, os.path.join(model_dir, RUN_FILES["encoder"]))
    replace_dir_atomic(lambda p: task.export(encoder, p),
                       os.path.join(model_dir, RUN_FILES["export"]))
    task.save_files(model_dir)
    write_json_atomic(os.path.join(model_dir, RUN_FILES["config"]), config)
    metrics["wall_seconds"] = round(time.time() - start, 1)
    metrics["hardware"], metrics["versions"] = hardware(), versions()  # for model cards
    # A new file: the evaluations and fine-tuning results of a replaced run (and its
    # report folder) described the encoder that is gone.
    write_json_atomic(os.path.join(model_dir, RUN_FILES["metrics"]), metrics)
    _remove_stale_reports(model_dir)
    print(json.dumps(dict(task.summary(metrics), train_seconds=metrics["train_seconds"])),
          flush=True)
    barrier(strategy)  # the other workers wait for these files
    return metrics
