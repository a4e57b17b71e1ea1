"""``tfssl-export``: pack a finished run as a self-contained zoo entry.

    tfssl-export --model_dir=tfssl_runs/simclr --to=zoo/simclr [--overwrite]

Writes ``DIR/encoder.keras`` (fine-tuning), ``DIR/saved_model/`` (serving: images
``serve`` / ``serve_uint8`` / ``serve_bytes``, text raw strings), ``DIR/card.json`` and
``DIR/README.md`` (the model card) and ``DIR/vocab.txt`` for text, all at once (a
temporary directory renamed). ``tfssl.zoo.load(DIR)`` loads it. Bad input (no run, an
unfinished run, a non-empty ``--to`` without ``--overwrite``): one line, exit 2.
"""

from absl import flags

from tfssl.cli.common import run_main as _run_main
from tfssl.errors import UsageError

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Run directory written by tfssl-pretrain.")
flags.DEFINE_string("to", None, "Output directory (absent or empty, unless --overwrite).")
flags.DEFINE_bool("overwrite", False, "Replace a non-empty --to.")
flags.DEFINE_string("name", None, "Name on the model card (default: the run folder's).")


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if not FLAGS.model_dir:
        raise UsageError("--model_dir=RUN is required")
    if not FLAGS.to:
        raise UsageError("--to=DIR is required")
    from tfssl.zoo import export_run

    card = export_run(FLAGS.model_dir, FLAGS.to, overwrite=FLAGS.overwrite, name=FLAGS.name)
    print(f"tfssl-export: wrote {FLAGS.to} ({card['method']} / {card['encoder']}, "
          f"{card['parameters']:,} parameters)", flush=True)


def run_main():
    _run_main(main, "tfssl-export")


if __name__ == "__main__":
    run_main()
