"""``tfssl-finetune``: text classification on a pretrained ``--method=mlm`` run.

    tfssl-finetune --model_dir=tfssl_runs/mlm \\
        --train=labeled_text:../shared/data/sst2/train.txt \\
        --validation=labeled_text:../shared/data/sst2/dev.txt [--mode=finetune|linear]

Trains a classifier on the pretrained encoder's pooled output (``finetune``: all weights
train; ``linear``: frozen encoder, a linear probe) and, with the same budget, the same
architecture from random initialisation. Both accuracies go to the ``finetune`` section
of ``MODEL_DIR/metrics.json`` (other sections are kept). Bad input: one line, exit 2.
"""

import os

from absl import flags

from tfssl.cli.common import run_main as _run_main
from tfssl.errors import UsageError

FLAGS = flags.FLAGS

flags.DEFINE_string("model_dir", os.path.join("tfssl_runs", "mlm"),
                    "Run directory of a text pretraining run (tfssl-pretrain --method=mlm).")
flags.DEFINE_string("train", None, "Labelled training text: labeled_text:PATH "
                    "(LABEL<space-or-tab>text per line).")
flags.DEFINE_string("validation", None, "Labelled validation text: labeled_text:PATH.")
flags.DEFINE_enum("mode", "finetune", ["finetune", "linear"],
                  "finetune: train all weights; linear: frozen encoder (linear probe).")
flags.DEFINE_integer("epochs", 3, "Training epochs.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_float("learning_rate", None,
                   "Peak AdamW learning rate (default 3e-4 finetune, 3e-3 linear).")
flags.DEFINE_integer("max_length", None, "Tokens per text (default: the run's).")
flags.DEFINE_float("label_fraction", 1.0, "Train on this class-balanced, seeded "
                   "fraction of --train (e.g. 0.01, 0.1).")
flags.DEFINE_integer("steps", None, "Train exactly this many steps instead of --epochs "
                     "(the same budget at every --label_fraction).")
flags.DEFINE_enum("pooling", "encoder", ["encoder", "mean", "cls"],
                  "What the classifier reads: the encoder's pooled_output, the mean of "
                  "the last layer, or its [CLS] position.")
flags.DEFINE_float("layer_decay", 1.0, "Layer-wise learning-rate decay: block i of L "
                   "trains at lr * decay ** (L + 1 - i), the embeddings lowest (1 = off).")
flags.DEFINE_integer("reinit_layers", 0, "Re-initialise the top K transformer blocks "
                     "before fine-tuning (Zhang et al. 2021); the depth keeps only the "
                     "pretrained embeddings (0 = off).")
flags.DEFINE_integer("seed", 0, "Random seed (also of the --label_fraction subset).")
flags.DEFINE_bool("scratch_baseline", True,
                  "Also train the same architecture from random initialisation.")


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if not FLAGS.train or not FLAGS.validation:
        raise UsageError("--train=labeled_text:PATH and --validation=labeled_text:PATH "
                         "are required")
    from tfssl.methods.text_classifier import finetune_run
    from tfssl.runs import update_json_atomic

    result = finetune_run(
        FLAGS.model_dir, FLAGS.train, FLAGS.validation, mode=FLAGS.mode,
        epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate, seed=FLAGS.seed,
        scratch_baseline=FLAGS.scratch_baseline, max_length=FLAGS.max_length,
        label_fraction=FLAGS.label_fraction, steps=FLAGS.steps, pooling=FLAGS.pooling,
        layer_decay=FLAGS.layer_decay, reinit_layers=FLAGS.reinit_layers)
    path = os.path.join(FLAGS.model_dir, "metrics.json")
    update_json_atomic(path, lambda m: m.setdefault("finetune", {}).update({FLAGS.mode: result}))
    line = f"tfssl-finetune ({FLAGS.mode}): accuracy {result['pretrained']['accuracy']:.3f}"
    if "scratch" in result:
        line += f" (random init: {result['scratch']['accuracy']:.3f})"
    print(f"{line}; wrote {path}", flush=True)


def run_main():
    _run_main(main, "tfssl-finetune")


if __name__ == "__main__":
    run_main()
