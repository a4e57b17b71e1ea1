"""``tfssl-evaluate``: kNN or linear-probe accuracy of a pretrained run's encoder.

    tfssl-evaluate --model_dir=tfssl_runs/simclr --protocol=knn
    tfssl-evaluate --model_dir=RUN --protocol=linear --dataset=folder:/data/test \
        --train_dataset=folder:/data/train

The encoder is the run's exported SavedModel (``MODEL_DIR/export/encoder``). ``--dataset``
is evaluated on its held-out (test) split, ``--train_dataset`` (the kNN memory bank or the
probe's training data) on its train split; both default to the run's own data. Prints one
JSON line and records it in ``MODEL_DIR/metrics.json`` under ``evaluations``.
"""

import json
import os

from absl import flags

from tfssl.cli.common import run_main as _run_main
from tfssl.errors import UsageError

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Run directory written by tfssl-pretrain.")
flags.DEFINE_string("dataset", None, "Labelled evaluation data (default: the run's "
                    "held-out data).")
flags.DEFINE_string("train_dataset", None, "Labelled data for the kNN memory bank or the "
                    "probe's training (default: the run's training data).")
flags.DEFINE_enum("protocol", "knn", ["knn", "linear"], "Evaluation protocol.")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN.")
flags.DEFINE_float("knn_temperature", 0.07, "Vote temperature for kNN.")
flags.DEFINE_integer("linear_epochs", 100, "Epochs of the linear probe.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_bool("download", False, "Allow tensorflow-datasets to download.")


def evaluate_run(model_dir, dataset=None, train_dataset=None, protocol="knn", knn_k=20,
                 knn_temperature=0.07, linear_epochs=100, data_dir=None, download=False):
    """Evaluates the exported encoder of a tfssl-pretrain run; returns a result dict."""
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


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    result = evaluate_run(FLAGS.model_dir, FLAGS.dataset, FLAGS.train_dataset,
                          FLAGS.protocol, FLAGS.knn_k, FLAGS.knn_temperature,
                          FLAGS.linear_epochs, FLAGS.data_dir, FLAGS.download)
    print(json.dumps(result))


def run_main():
    _run_main(main, "tfssl-evaluate")


if __name__ == "__main__":
    run_main()
