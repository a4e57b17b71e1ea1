"""The SimCLR job behind ``tfssl-pretrain --method=simclr``.

Outputs under ``MODEL_DIR``: ``config.json`` (resolved settings), ``logs/`` (TensorBoard),
``backup/`` (BackupAndRestore: rerunning the same command after a kill resumes; removed
after a completed run), ``model.keras``, ``export/encoder`` (SavedModel) and
``metrics.json``. Every output is written to a temporary name and renamed.
"""

import json
import os
import time

from tfssl.data.pipeline import check_batch_size
from tfssl.errors import UsageError
from tfssl.presets import DEFAULT_PRESET, get_preset

_SETTINGS = ("dataset", "encoder", "width", "image_size", "epochs", "batch_size",
             "optimizer", "learning_rate", "weight_decay", "warmup_epochs", "temperature",
             "projection_dim", "projection_hidden_dim", "projection_layers",
             "min_crop_scale", "color_jitter", "flip")


def resolve_config(FLAGS):
    """Preset values overridden by every flag the user set; validated."""
    preset_name = FLAGS.preset or DEFAULT_PRESET["simclr"]
    cfg = get_preset(preset_name)
    cfg["preset"] = preset_name
    for key in _SETTINGS:
        value = getattr(FLAGS, key)
        if value is not None:
            cfg[key] = value
    for key in ("eval_dataset", "seed", "data_dir", "download", "strategy", "precision",
                "jit_compile", "steps_per_epoch", "stem", "blur", "solarize", "knn_every",
                "knn_k"):
        cfg[key] = getattr(FLAGS, key)
    cfg["model_dir"] = FLAGS.model_dir or os.path.join("tfssl_runs", "simclr")
    if not cfg["temperature"] > 0:
        raise UsageError(f"--temperature={cfg['temperature']}: must be > 0")
    for key in ("epochs", "image_size", "projection_dim", "projection_layers"):
        if cfg[key] is not None and cfg[key] < 1:
            raise UsageError(f"--{key}={cfg[key]}: must be >= 1")
    check_batch_size(cfg["batch_size"], None)
    if not cfg["learning_rate"] > 0:
        raise UsageError(f"--learning_rate={cfg['learning_rate']}: must be > 0")
    if not 0 < cfg["min_crop_scale"] <= 1:
        raise UsageError(f"--min_crop_scale={cfg['min_crop_scale']}: expected 0 < s <= 1")
    if cfg["steps_per_epoch"] is not None and cfg["steps_per_epoch"] < 1:
        raise UsageError(f"--steps_per_epoch={cfg['steps_per_epoch']}: must be >= 1")
    return cfg


def build_encoder(cfg, channels, seed):
    """The encoder, seeded so that the random-init baseline is the same network."""
    import keras

    from tfssl.encoders import image_encoder

    keras.utils.set_random_seed(seed)
    return image_encoder(cfg["encoder"], cfg["image_size"], channels, stem=cfg["stem"],
                         width=cfg["width"])


def load_data(cfg):
    """Training images and (when labelled) the kNN memory bank and queries."""
    from tfssl.data import load_images

    common = dict(image_size=cfg["image_size"], data_dir=cfg["data_dir"],
                  download=cfg["download"])
    train = load_images(cfg["dataset"], split="train", **common)
    test = load_images(cfg["eval_dataset"] or cfg["dataset"], split="test", **common)
    if test.images.shape[-1] != train.images.shape[-1]:
        raise UsageError(f"--eval_dataset={test.source}: images have "
                         f"{test.images.shape[-1]} channels, training data "
                         f"{train.images.shape[-1]}")
    return train, test


def run(FLAGS):
    cfg = resolve_config(FLAGS)
    run_simclr(cfg)


def run_simclr(cfg):
    """Pretrains, evaluates and exports; returns the metrics dict."""
    import keras

    from tfssl.cli.common import replace_dir_atomic, save_keras_atomic, write_json_atomic
    from tfssl.data import simclr_dataset
    from tfssl.distribute import default_jit_compile, make_strategy
    from tfssl.eval import KNNMonitor, evaluate_knn
    from tfssl.export import export_image_encoder
    from tfssl.layers import ProjectionHead
    from tfssl.methods import SimCLR
    from tfssl.optimizers import build_optimizer

    model_dir = cfg["model_dir"]
    train, test = load_data(cfg)
    check_batch_size(cfg["batch_size"], len(train))
    labelled = train.labelled and test.labelled and len(test) > 0
    strategy = make_strategy(cfg["strategy"])
    os.makedirs(model_dir, exist_ok=True)
    write_json_atomic(os.path.join(model_dir, "config.json"),
                      dict(cfg, method="simclr", channels=int(train.images.shape[-1]),
                           class_names=train.class_names))

    steps = len(train) // cfg["batch_size"]
    if cfg["steps_per_epoch"]:
        steps = min(steps, cfg["steps_per_epoch"])
    total_steps = steps * cfg["epochs"]
    warmup = min(int(cfg["warmup_epochs"] * steps), total_steps - 1)
    augment = dict(min_scale=cfg["min_crop_scale"], color_jitter=cfg["color_jitter"],
                   flip=cfg["flip"], blur=cfg["blur"], solarize_p=cfg["solarize"])
    dataset = simclr_dataset(train, cfg["batch_size"], cfg["image_size"], seed=cfg["seed"],
                             **augment)
    if cfg["steps_per_epoch"]:
        dataset = dataset.take(steps)

    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(cfg["precision"])
    try:
        with strategy.scope():
            encoder = build_encoder(cfg, train.images.shape[-1], cfg["seed"])
            head = ProjectionHead(cfg["projection_dim"],
                                  cfg["projection_hidden_dim"] or encoder.output_shape[-1],
                                  cfg["projection_layers"])
            model = SimCLR(encoder, head, temperature=cfg["temperature"])
            model.build((None,) + train.images.shape[1:])
            model.compile(optimizer=build_optimizer(
                cfg["optimizer"], cfg["learning_rate"], total_steps, warmup,
                cfg["weight_decay"]),
                jit_compile=default_jit_compile(cfg["jit_compile"]))
        callbacks = []
        if labelled and cfg["knn_every"]:
            callbacks.append(KNNMonitor(train, test, every=cfg["knn_every"], k=cfg["knn_k"]))
        callbacks += [
            keras.callbacks.TensorBoard(os.path.join(model_dir, "logs")),
            keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup")),
        ]
        start = time.time()
        history = model.fit(dataset, epochs=cfg["epochs"], callbacks=callbacks,
                            verbose="auto")
        train_seconds = time.time() - start
    finally:
        keras.config.set_dtype_policy(previous_policy)

    metrics = {"method": "simclr", "dataset": cfg["dataset"], "encoder": cfg["encoder"],
               "epochs": cfg["epochs"], "train_seconds": round(train_seconds, 1),
               "train_images": len(train), "eval_images": len(test)}
    for key, values in history.history.items():
        if values:
            metrics[f"final_{key}"] = float(values[-1])
    if labelled:
        metrics["knn_k"] = cfg["knn_k"]
        metrics["knn_top1"] = evaluate_knn(encoder, train, test, k=cfg["knn_k"])
        baseline = build_encoder(cfg, train.images.shape[-1], cfg["seed"])
        metrics["knn_top1_random_init"] = evaluate_knn(baseline, train, test, k=cfg["knn_k"])
    else:
        metrics["knn_top1"] = None
        metrics["knn_note"] = "no kNN: training or evaluation images carry no labels"

    save_keras_atomic(model, os.path.join(model_dir, "keras", "model.keras"))
    replace_dir_atomic(lambda p: export_image_encoder(encoder, p),
                       os.path.join(model_dir, "export", "encoder"))
    write_json_atomic(os.path.join(model_dir, "metrics.json"), metrics)
    print(json.dumps({k: metrics[k] for k in ("knn_top1", "knn_top1_random_init",
                                              "train_seconds") if k in metrics}))
    return metrics
