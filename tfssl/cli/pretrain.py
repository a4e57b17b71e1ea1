"""``tfssl-pretrain``: self-supervised pretraining from the command line.

    tfssl-pretrain                         # SimCLR on the embedded digits, < 3 min on CPU
    tfssl-pretrain --method=byol           # any registered method, on its defaults
    tfssl-pretrain --method=mlm            # BERT MLM on CPython's own documentation
    tfssl-pretrain --preset=simclr_cifar10 --dataset=folder:/data/cifar10
    tfssl-pretrain --list_presets          # the zoo's entries and the presets; no training

Parses the flags, merges the ones given over the recipe
(:func:`tfssl.presets.resolve_settings`) and calls :func:`tfssl.runs.pretrain`. Every
flag's default is "not given": the defaults live in :mod:`tfssl.presets` and in each
method's registry entry. Each method's own settings (``--temperature``, ...) are flags
made from the registry. Bad input: one line on stderr, exit code 2.
"""

from absl import flags

from tfssl.cli.common import run_main as _run_main

FLAGS = flags.FLAGS

# name -> (kind, help): the settings every image or text run has.
_SETTINGS = {
    "dataset": ("string", "Training data. Images: digits | folder:PATH | tfds:NAME[:SPLIT]. "
                "Text: python_docs | textfile:PATH_OR_GLOB | labeled_text:PATH | "
                "tfds:NAME[:SPLIT], or several joined by commas."),
    "eval_dataset": ("string", "Labelled data for evaluation (default: the held-out split "
                     "of --dataset)."),
    "encoder": ("string", "Backbone: convnet | resnet18 | resnet34 | resnet50 (images), "
                "bert_tiny | bert_mini | bert_small | bert_base (text)."),
    "epochs": ("integer", "Training epochs."),
    "batch_size": ("integer", "Global batch size (split over replicas)."),
    "steps_per_epoch": ("integer", "Cap on steps per epoch (default: one pass)."),
    "budget_minutes": ("float", "Train for this wall-clock time (learning rate warm-up + "
                       "cosine over it); --epochs is then a cap."),
    "optimizer": ("string", "adam | adamw | sgd | lars."),
    "learning_rate": ("float", "Peak learning rate of the warm-up + cosine schedule."),
    "weight_decay": ("float", "Decoupled weight decay (adamw, sgd) or LARS weight decay."),
    "warmup_epochs": ("float", "Linear warm-up before cosine decay, in epochs."),
    "model_dir": ("string", "Run directory (default: ./tfssl_runs/METHOD)."),
    "overwrite": ("bool", "Train into a --model_dir that holds a finished run (replaced "
                  "once the new run is complete) or an interrupted run of other settings "
                  "(its backup/ is discarded); without it both are refused."),
    "seed": ("integer", "Random seed for weights, data order and augmentation."),
    "data_dir": ("string", "tensorflow-datasets data_dir."),
    "download": ("bool", "Allow tensorflow-datasets to download (needs network)."),
    "strategy": ("string", "auto | default | one_device | mirrored | multi_worker | tpu."),
    "num_cpu_replicas": ("integer", "Split the CPU into N logical devices, so that "
                         "--strategy=mirrored trains N replicas without a GPU."),
    "precision": ("string", "auto | float32 | mixed_bfloat16 | mixed_float16 (losses "
                  "stay float32); auto: mixed_bfloat16 where bfloat16 measured at least "
                  "1.25x faster on this machine (cached in $TFSSL_CACHE), else float32."),
    "jit_compile": ("bool", "XLA-compile the train step (default: per device, see "
                    "tfssl.distribute.default_jit_compile)."),
    # images
    "width": ("float", "Channel-width multiplier of the image encoder."),
    "stem": ("string", "ResNet stem: cifar | imagenet (default: cifar below 64 px)."),
    "image_size": ("integer", "Input resolution in pixels."),
    "min_crop_scale": ("float", "Smallest area fraction of the random resized crop."),
    "crop_sampling": ("string", "Random resized crop sampling: simclr (TF's distorted "
                      "bounding box, mean area 0.40 at 224 px) or torchvision (0.48)."),
    "image_input": ("string", "memory (decode every image once into memory), stream "
                    "(folder: and tfds: images stay on disk and are decoded while "
                    "training) or auto (stream sets over 2 GiB decoded)."),
    "image_cache_dir": ("string", "With streamed images: decode and resize each image "
                        "once into this folder (small PNGs, reused by later runs) and "
                        "stream those."),
    "color_jitter": ("float", "Colour-jitter strength s."),
    "flip": ("bool", "Random horizontal flip."),
    "blur": ("bool", "Gaussian blur (default: on from 96 px)."),
    "solarize": ("float", "Solarize probability."),
    "knn_every": ("integer", "Log kNN top-1 every N epochs (0: only at the end)."),
    "label_free_every": ("integer", "Log label-free metrics (RankMe, alignment, "
                         "uniformity, std, NMI) of the held-out images every N epochs "
                         "(0: never)."),
    "knn_k": ("integer", "Neighbours for kNN evaluation."),
    # text
    "vocab_size": ("integer", "WordPiece vocabulary size."),
    "max_length": ("integer", "Tokens per packed sequence, [CLS] and [SEP] included."),
    "whole_word_masking": ("bool", "Mask whole words rather than word pieces."),
    "max_span_length": ("integer", "Mask spans of 1..N consecutive tokens, lengths "
                        "geometric (p = 0.2) clipped at N (SpanBERT: 10); 1 = single "
                        "tokens."),
    "lowercase": ("bool", "Lower-case text before WordPiece."),
    "text_key": ("string", "Feature holding the text in a tfds dataset."),
    "paragraphs": ("bool", "textfile: documents are blank-line-separated paragraphs."),
}
_DEFINE = {"string": flags.DEFINE_string, "integer": flags.DEFINE_integer,
           "float": flags.DEFINE_float, "bool": flags.DEFINE_bool}


def _kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def _define_flags():
    from tfssl.methods import registry

    flags.DEFINE_enum("method", None, registry.names(),
                      "Self-supervised method (default: the preset's, else simclr).")
    flags.DEFINE_string("preset", None, "Recipe from tfssl.presets (it names its method); "
                        "explicit flags override its values.")
    for name, (kind, text) in _SETTINGS.items():
        _DEFINE[kind](name, None, text)
    owners = {}
    for method in registry.names():
        for name, value in registry.get(method).defaults.items():
            owners.setdefault(name, (value, []))[1].append(method)
    for name, (value, methods) in owners.items():
        if name not in _SETTINGS:
            _DEFINE[_kind(value)](name, None, f"{', '.join(methods)}: default {value!r}.")
    return ["method", "preset", *_SETTINGS, *(n for n in owners if n not in _SETTINGS)]


_FLAG_NAMES = _define_flags()
flags.DEFINE_bool("list_presets", False, "Print the model zoo's entries (with their "
                  "measured results) and the presets, one a line, and exit.")


def main(argv):
    from tfssl.errors import UsageError
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if FLAGS.list_presets:
        from tfssl.zoo import catalogue_lines

        print("\n".join(catalogue_lines()), flush=True)
        return
    given = {name: FLAGS[name].value for name in _FLAG_NAMES if FLAGS[name].present}
    pretrain(resolve_settings(**given))


def run_main():
    _run_main(main, "tfssl-pretrain")


if __name__ == "__main__":
    run_main()
