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
flags.DEFINE_integer("knn_k", None, "Neighbours for kNN (default 20).")
flags.DEFINE_float("knn_temperature", None, "Vote temperature for kNN (default 0.07).")
flags.DEFINE_integer("linear_epochs", None, "Epochs of the linear probe (default 100).")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_bool("download", False, "Allow tensorflow-datasets to download.")


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    from tfssl.eval.run import evaluate_run

    given = {name: FLAGS[name].value for name in (
        "dataset", "train_dataset", "protocol", "knn_k", "knn_temperature", "linear_epochs",
        "data_dir", "download") if FLAGS[name].present}
    result = evaluate_run(FLAGS.model_dir, **given)
    print(json.dumps(result))


def run_main():
    _run_main(main, "tfssl-evaluate")


if __name__ == "__main__":
    run_main()
