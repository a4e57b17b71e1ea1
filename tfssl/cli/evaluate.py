"""``tfssl-evaluate``: how good is a pretrained run's representation?

    tfssl-evaluate --model_dir=tfssl_runs/simclr                      # kNN
    tfssl-evaluate --model_dir=tfssl_runs/simclr --protocol=all       # everything
    tfssl-evaluate --model_dir=RUN --protocol=linear,finetune --label_fraction=0.01,0.1 \
        --train_dataset=folder:/data/train --dataset=folder:/data/test
    tfssl-evaluate --model_dir=tfssl_runs/mlm --protocol=all \
        --train_dataset=labeled_text:sst2/train.txt --dataset=labeled_text:sst2/dev.txt

Protocols (see :mod:`tfssl.eval.run`): knn, linear, finetune (label fractions, pretrained
vs scratch), label_free (RankMe, alignment, uniformity, collapse, NMI), robustness
(corruptions x 5 severities). The encoder is the run's saved Keras encoder, evaluated in
float32 next to the same architecture at random initialisation. ``--dataset`` and
``--train_dataset`` are disjoint: the same spec (or none) gives its held-out split, a
different one is used whole. Writes ``MODEL_DIR/eval/report.json``, ``report.md`` and its
PNG plots, prints one JSON line of headline numbers and appends it to
``MODEL_DIR/metrics.json`` under ``evaluations``.
"""

import json

from absl import flags

from tfssl.cli.common import run_main as _run_main
from tfssl.errors import UsageError

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Run directory written by tfssl-pretrain.")
flags.DEFINE_string("dataset", None, "Labelled evaluation data (images: default the run's "
                    "held-out data; text: labeled_text:PATH, required).")
flags.DEFINE_string("train_dataset", None, "Labelled data for the kNN memory bank, the "
                    "probe and fine-tuning (images: default the run's training data; text: "
                    "labeled_text:PATH, required).")
flags.DEFINE_string("protocol", "knn", "all, or a comma-separated list of knn, linear, "
                    "finetune, label_free, robustness.")
flags.DEFINE_integer("knn_k", None, "Neighbours for kNN (default 20).")
flags.DEFINE_float("knn_temperature", None, "Vote temperature for kNN (default 0.07).")
flags.DEFINE_integer("linear_epochs", None, "Epochs of the linear probe (default 100).")
flags.DEFINE_string("label_fraction", None, "finetune: fractions of the training labels "
                    "(class-balanced, seeded; default 0.01,0.1,1.0).")
flags.DEFINE_integer("finetune_steps", None, "finetune: optimizer steps per fraction "
                     "(default 300).")
flags.DEFINE_integer("finetune_batch_size", None, "finetune: batch size (default 64).")
flags.DEFINE_float("finetune_learning_rate", None, "finetune: peak AdamW rate (default "
                   "1e-3 images, 1e-4 text).")
flags.DEFINE_string("corruptions", None, "robustness: comma-separated corruptions "
                    "(default: all of the modality's).")
flags.DEFINE_string("severities", None, "robustness: severities in 1..5 (default all).")
flags.DEFINE_integer("label_free_examples", None, "label_free: examples used (default "
                     "2048).")
flags.DEFINE_string("embedding_map", None, "Report's 2-D map: pca (default) or tsne.")
flags.DEFINE_integer("seed", None, "Seed of subsets, fine-tuning and corruptions.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_bool("download", False, "Allow tensorflow-datasets to download.")

_RENAMED = {"label_fraction": "label_fractions"}


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if not FLAGS.model_dir:
        raise UsageError("--model_dir=RUN is required")
    from tfssl.eval.run import evaluate_run

    given = {_RENAMED.get(name, name): FLAGS[name].value for name in (
        "dataset", "train_dataset", "protocol", "knn_k", "knn_temperature", "linear_epochs",
        "label_fraction", "finetune_steps", "finetune_batch_size", "finetune_learning_rate",
        "corruptions", "severities", "label_free_examples", "embedding_map", "seed",
        "data_dir", "download") if FLAGS[name].present}
    report = evaluate_run(FLAGS.model_dir, **given)
    print(json.dumps(report["summary"]))


def run_main():
    _run_main(main, "tfssl-evaluate")


if __name__ == "__main__":
    run_main()
