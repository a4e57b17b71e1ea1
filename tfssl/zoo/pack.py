"""Packs a finished run as a self-contained zoo entry (``tfssl-export``)."""

import os
import shutil

from tfssl.errors import UsageError

__all__ = ["export_run"]


def _check_target(to, model_dir, overwrite):
    if not to:
        raise UsageError("--to=DIR is required")
    if "://" in to and not to.startswith("file://"):
        raise UsageError(f"--to={to}: expected a local directory (copy the result to "
                         "remote storage afterwards)")
    to = to[len("file://"):] if to.startswith("file://") else to
    real_to, real_run = os.path.realpath(to), os.path.realpath(model_dir)
    if real_to == real_run or real_run.startswith(real_to.rstrip(os.sep) + os.sep):
        raise UsageError(f"--to={to}: is (or contains) the run folder --model_dir="
                         f"{model_dir}; choose another directory")
    if os.path.exists(to):
        if not os.path.isdir(to):
            raise UsageError(f"--to={to}: exists and is not a directory")
        if os.listdir(to) and not overwrite:
            raise UsageError(f"--to={to}: exists and is not empty; give --overwrite to "
                             "replace it")
    return to


def export_run(model_dir, to, overwrite=False, name=None):
    """Writes the zoo entry of run ``model_dir`` into the directory ``to``.

    ``to`` receives ``encoder.keras`` (for fine-tuning), ``saved_model/`` (for serving:
    images ``serve`` / ``serve_uint8`` / ``serve_bytes``, text raw strings),
    ``card.json`` and ``README.md`` (the model card) and, for text, ``vocab.txt``. It is
    written under a temporary name and renamed: never half-written.

    Args:
        model_dir: a finished ``tfssl-pretrain`` run folder.
        to: a local directory that does not exist or is empty (or any, with
            ``overwrite``).
        overwrite: replace an existing non-empty ``to``.
        name: the card's name (default: the run folder's name).

    Returns:
        the card (dict).

    Raises:
        UsageError: no run, an unfinished run, or a non-empty ``to`` without
            ``overwrite``.
    """
    from tfssl.runs import RUN_FILES, load_run_config, replace_dir_atomic
    from tfssl.zoo.card import card_from_run, load_encoder_file, write_card

    flag = f"--model_dir={model_dir}"
    config, spec = load_run_config(model_dir)
    if not os.path.isfile(os.path.join(model_dir, RUN_FILES["metrics"])):
        raise UsageError(f"{flag}: no metrics.json; the run has not finished")
    to = _check_target(to, model_dir, overwrite)
    encoder_path = os.path.join(model_dir, config.get("encoder_file", RUN_FILES["encoder"]))
    encoder = load_encoder_file(encoder_path, flag)
    card = card_from_run(model_dir, encoder=encoder, name=name)

    def write(staged):
        os.makedirs(staged)
        shutil.copyfile(encoder_path, os.path.join(staged, "encoder.keras"))
        serving = os.path.join(staged, "saved_model")
        if spec.modality == "image":
            from tfssl.export.image import export_image_encoder

            export_image_encoder(encoder, serving)
        else:
            from tfssl.export.text import export_text_encoder
            from tfssl.text.vocab import load_vocabulary, save_vocabulary

            vocab = load_vocabulary(os.path.join(model_dir, config.get("vocab_file")
                                                 or "vocab.txt"))
            export_text_encoder(encoder, vocab, serving, config["max_length"],
                                config["lowercase"])
            save_vocabulary(vocab, os.path.join(staged, "vocab.txt"))
        write_card(staged, card)

    replace_dir_atomic(write, to)
    return card
