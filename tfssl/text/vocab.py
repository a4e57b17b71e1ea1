"""WordPiece vocabulary: train with keras-hub, save with the run, reload as a tokenizer."""

import os

from tfssl.errors import UsageError

__all__ = [
    "SPECIAL_TOKENS",
    "PAD", "UNK", "CLS", "SEP", "MASK",
    "train_vocabulary",
    "save_vocabulary",
    "load_vocabulary",
    "make_tokenizer",
    "special_token_ids",
]

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
#: Reserved tokens, in id order: ``[PAD]`` is 0.
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]
#: Smallest vocabulary that leaves room for some word pieces after the specials.
MIN_VOCAB_SIZE = len(SPECIAL_TOKENS) + 1


def train_vocabulary(docs, vocab_size, lowercase=True, strip_accents=False):
    """Trains a WordPiece vocabulary on ``docs`` (a list of str).

    Uses ``keras_hub.tokenizers.compute_word_piece_vocabulary`` with
    :data:`SPECIAL_TOKENS` reserved at ids 0-4. The result may be smaller than
    ``vocab_size`` when the corpus has fewer distinct pieces.

    Raises:
        UsageError: ``vocab_size`` leaves no room after the special tokens, or no text.
    """
    import keras_hub
    import tensorflow as tf

    if vocab_size is None or vocab_size < MIN_VOCAB_SIZE:
        raise UsageError(
            f"--vocab_size={vocab_size} is too small: the {len(SPECIAL_TOKENS)} special "
            f"tokens {' '.join(SPECIAL_TOKENS)} need ids, so use at least "
            f"{MIN_VOCAB_SIZE} (a few thousand is typical)")
    if not docs:
        raise UsageError("cannot train a vocabulary on an empty corpus")
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(list(docs), tf.string)).batch(256)
    vocab = keras_hub.tokenizers.compute_word_piece_vocabulary(
        ds, vocab_size, lowercase=lowercase, strip_accents=strip_accents,
        reserved_tokens=list(SPECIAL_TOKENS))
    if list(vocab[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:  # pragma: no cover
        raise RuntimeError(f"unexpected reserved tokens: {vocab[:len(SPECIAL_TOKENS)]}")
    return list(vocab)


def save_vocabulary(vocab, path):
    """Writes one token per line (UTF-8), atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for token in vocab:
            f.write(token + "\n")
    os.replace(tmp, path)


def load_vocabulary(path):
    """Reads a vocabulary file written by :func:`save_vocabulary`."""
    if not os.path.isfile(path):
        raise UsageError(f"vocabulary file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    if vocab[:len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
        raise UsageError(
            f"vocabulary file {path!r} does not start with {' '.join(SPECIAL_TOKENS)}")
    return vocab


def make_tokenizer(vocab, lowercase=True, strip_accents=False):
    """A ``keras_hub.tokenizers.WordPieceTokenizer`` for a vocabulary list or file."""
    import keras_hub

    if isinstance(vocab, str):
        vocab = load_vocabulary(vocab)
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=list(vocab), lowercase=lowercase, strip_accents=strip_accents,
        oov_token=UNK)


def special_token_ids():
    """``{"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}``."""
    return {name: i for i, name in enumerate(["pad", "unk", "cls", "sep", "mask"])}
