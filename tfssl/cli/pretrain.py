"""``tfssl-pretrain``: self-supervised pretraining from the command line.

    tfssl-pretrain                         # SimCLR on the embedded digits, < 3 min on CPU
    tfssl-pretrain --method=mlm            # BERT MLM on CPython's own documentation
    tfssl-pretrain --dataset=folder:/data/imgs --encoder=resnet18 --epochs=100

Each method's job lives in its own module (``simclr_job``, ``mlm_job``); this module
only declares the flags and dispatches. Bad input: one line on stderr, exit code 2.
"""

from absl import flags

from tfssl.cli.common import run_main as _run_main

FLAGS = flags.FLAGS

METHODS = ("simclr", "mlm")

# --- shared by every method -------------------------------------------------------
flags.DEFINE_enum("method", "simclr", METHODS, "Self-supervised method.")
flags.DEFINE_string(
    "dataset", None,
    "Training data spec. Images: digits | folder:PATH | tfds:NAME[:SPLIT]. "
    "Text: python_docs | textfile:PATH_OR_GLOB | tfds:NAME[:SPLIT]. "
    "Default: digits (simclr), python_docs (mlm).")
flags.DEFINE_string(
    "eval_dataset", None,
    "Labelled data for evaluation. Default: the held-out split of --dataset.")
flags.DEFINE_string(
    "encoder", None,
    "Backbone: convnet | resnet18 | resnet34 | resnet50 (images), "
    "bert_tiny | bert_mini | bert_small | bert_base (text). Default per method.")
flags.DEFINE_integer("epochs", None, "Training epochs. Default per method.")
flags.DEFINE_integer("batch_size", None, "Global batch size. Default per method.")
flags.DEFINE_float("learning_rate", None, "Peak learning rate. Default per method/optimizer.")
flags.DEFINE_enum("optimizer", None, ["adam", "adamw", "sgd", "lars"],
                  "Optimizer. Default per method.")
flags.DEFINE_float("weight_decay", None, "Decoupled weight decay (adamw, lars, sgd).")
flags.DEFINE_float("warmup_epochs", None, "Linear warm-up before cosine decay.")
flags.DEFINE_string("model_dir", None,
                    "Run directory (checkpoints, TensorBoard, export, metrics.json). "
                    "Default: ./tfssl_runs/METHOD.")
flags.DEFINE_integer("seed", 0, "Random seed for weights, data order and augmentation.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_bool("download", False, "Allow tensorflow-datasets to download (needs network).")
flags.DEFINE_enum("strategy", "auto", ["auto", "default", "one_device", "mirrored",
                                       "multi_worker", "tpu"],
                  "tf.distribute strategy. auto: mirrored over all GPUs if several, "
                  "else default.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy.")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the train step (default: Keras 'auto').")
flags.DEFINE_integer("steps_per_epoch", None,
                     "Cap on steps per epoch (default: one pass over the data).")

# --- SimCLR -----------------------------------------------------------------------
flags.DEFINE_string("preset", None, "SimCLR recipe from tfssl.presets (default: "
                    "simclr_digits); explicit flags override its values.")
flags.DEFINE_float("width", None, "Channel-width multiplier of the image encoder.")
flags.DEFINE_enum("stem", None, ["cifar", "imagenet"],
                  "ResNet stem (default: cifar below 64 px, imagenet from 64 px).")
flags.DEFINE_integer("image_size", None, "Input resolution (default from the preset).")
flags.DEFINE_float("temperature", None, "NT-Xent temperature (> 0), default from the preset.")
flags.DEFINE_integer("projection_dim", None, "Output width of the projection head.")
flags.DEFINE_integer("projection_hidden_dim", None,
                     "Hidden width of the projection head (default: the feature width).")
flags.DEFINE_integer("projection_layers", None, "Dense layers in the projection head "
                     "(2: SimCLR v1, 3: SimCLR v2).")
flags.DEFINE_float("color_jitter", None, "Colour-jitter strength s.")
flags.DEFINE_float("min_crop_scale", None, "Smallest area fraction of the random resized crop.")
flags.DEFINE_bool("blur", None, "Gaussian blur (default: on for image_size >= 96).")
flags.DEFINE_float("solarize", 0.0, "Solarize probability.")
flags.DEFINE_bool("flip", None, "Random horizontal flip.")
flags.DEFINE_integer("knn_every", 0, "Log kNN accuracy every N epochs (0: only at the end).")
flags.DEFINE_integer("knn_k", 20, "Neighbours for kNN evaluation.")

# --- masked language modelling ----------------------------------------------------
flags.DEFINE_integer("vocab_size", None, "WordPiece vocabulary size. Default per encoder.")
flags.DEFINE_integer("max_length", None, "Tokens per packed sequence, [CLS] and [SEP] included.")
flags.DEFINE_float("mask_rate", 0.15, "Fraction of eligible tokens selected for prediction.")
flags.DEFINE_bool("whole_word_masking", False, "Mask whole words rather than word pieces.")
flags.DEFINE_bool("lowercase", True, "Lower-case text before WordPiece.")
flags.DEFINE_string("text_key", "text", "Feature holding the text in a tfds dataset.")
flags.DEFINE_bool("paragraphs", False,
                  "textfile: documents are blank-line-separated paragraphs "
                  "(default: one document per line).")


def main(argv):
    if len(argv) > 1:
        from tfssl.errors import UsageError
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if FLAGS.method == "simclr":
        from tfssl.cli import simclr_job as job
    else:
        from tfssl.cli import mlm_job as job
    job.run(FLAGS)


def run_main():
    _run_main(main, "tfssl-pretrain")


if __name__ == "__main__":
    run_main()
