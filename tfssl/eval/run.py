"""Evaluation of a run folder written by ``tfssl-pretrain`` (what ``tfssl-evaluate`` calls)."""

import os

from tfssl.errors import UsageError
from tfssl.eval.knn import DEFAULT_K, DEFAULT_TEMPERATURE

__all__ = ["evaluate_run"]


def evaluate_run(model_dir, dataset=None, train_dataset=None, protocol="knn",
                 knn_k=DEFAULT_K, knn_temperature=DEFAULT_TEMPERATURE, linear_epochs=100,
                 data_dir=None, download=False):
    """Evaluates the exported encoder of an image run folder; returns a result dict.

    ``dataset`` (default: the run's held-out data) is evaluated on its held-out split,
    ``train_dataset`` (default: the run's training data) gives the kNN memory bank or the
    probe's training data. The result is appended to ``metrics.json`` under
    ``evaluations``.
    """
    from tfssl.data import load_images
    from tfssl.eval import extract_features, knn_accuracy, linear_probe_accuracy
    from tfssl.export import load_image_encoder
    from tfssl.runs import RUN_FILES, load_run_config, update_json_atomic

    config, spec = load_run_config(model_dir)
    export_path = os.path.join(model_dir, RUN_FILES["export"])
    if spec.modality != "image":
        raise UsageError(f"--model_dir={model_dir}: tfssl-evaluate evaluates image "
                         f"encoders; this run is a {spec.modality} run ({spec.name}); "
                         "use tfssl-finetune for text")
    if not os.path.isfile(os.path.join(export_path, "saved_model.pb")):
        raise UsageError(f"--model_dir={model_dir}: no exported encoder in {export_path} "
                         "(did the run finish?)")
    dataset = dataset or config.get("eval_dataset") or config["dataset"]
    train_dataset = train_dataset or config["dataset"]
    common = dict(image_size=config["image_size"], data_dir=data_dir, download=download)
    train = load_images(train_dataset, split="train", **common)
    test = load_images(dataset, split="test", **common)
    for flag, data in (("--train_dataset", train), ("--dataset", test)):
        if not data.labelled:
            raise UsageError(f"{flag}={data.source}: evaluation needs labelled images")
        if data.images.shape[-1] != config["channels"]:
            raise UsageError(f"{flag}={data.source}: images have {data.images.shape[-1]} "
                             f"channels, the encoder expects {config['channels']}")
    encoder = load_image_encoder(export_path)
    train_f = extract_features(encoder, train)
    test_f = extract_features(encoder, test)
    num_classes = max(train.num_classes, test.num_classes)
    if protocol == "knn":
        acc = knn_accuracy(train_f, train.labels, test_f, test.labels, knn_k,
                           knn_temperature, num_classes)
    elif protocol == "linear":
        acc = linear_probe_accuracy(train_f, train.labels, test_f, test.labels, num_classes,
                                    epochs=linear_epochs)
    else:
        raise UsageError(f"--protocol={protocol!r}: expected knn or linear")
    result = {"protocol": protocol, "top1": acc, "dataset": test.source,
              "train_dataset": train.source, "train_images": len(train),
              "eval_images": len(test)}
    if protocol == "knn":
        result["k"] = knn_k
    update_json_atomic(os.path.join(model_dir, RUN_FILES["metrics"]),
                       lambda m: m.setdefault("evaluations", []).append(result))
    return result
