"""WordPiece vocabulary: train with keras-hub, cache, save with the run, reload as a
tokenizer.

Training a vocabulary on a corpus of a few megabytes takes tens of seconds on a CPU;
:func:`cached_vocabulary` trains it once per corpus and settings and keeps it under
``$TFSSL_CACHE/vocab`` (default ``~/.cache/tfssl/vocab``), so that a benchmark's budget is
spent on training the model.
"""

import hashlib
import json
import os
import tempfile

from tfssl.errors import UsageError

__all__ = [
    "SPECIAL_TOKENS",
    "PAD", "UNK", "CLS", "SEP", "MASK",
    "train_vocabulary",
    "cached_vocabulary",
    "vocabulary_cache_key",
    "cache_root",
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


#: Bumped when :func:`train_vocabulary` changes what it returns (invalidates caches).
_VOCAB_ALGORITHM = "keras_hub.compute_word_piece_vocabulary/1"


def cache_root():
    """``$TFSSL_CACHE`` if set, else ``~/.cache/tfssl``."""
    return os.path.expanduser(os.environ.get("TFSSL_CACHE") or
                              os.path.join("~", ".cache", "tfssl"))


def vocabulary_cache_key(docs, vocab_size, lowercase=True, strip_accents=False):
    """Hex key of a corpus's content (every document, in order) and the settings."""
    h = hashlib.sha256()
    h.update(json.dumps({"algorithm": _VOCAB_ALGORITHM, "vocab_size": int(vocab_size),
                         "lowercase": bool(lowercase),
                         "strip_accents": bool(strip_accents),
                         "reserved": SPECIAL_TOKENS}, sort_keys=True).encode())
    for doc in docs:
        data = doc.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))  # document boundaries count
        h.update(data)
    return h.hexdigest()[:32]


def cached_vocabulary(docs, vocab_size, lowercase=True, strip_accents=False,
                      cache_dir=None):
    """:func:`train_vocabulary`, trained once per corpus content and settings.

    Args:
        docs, vocab_size, lowercase, strip_accents: as :func:`train_vocabulary`.
        cache_dir: where vocabularies live (default ``cache_root()/vocab``).

    Returns:
        ``(vocab, path, hit)``: the vocabulary, its cache file and whether it was
        reused (``False``: trained now and written atomically).
    """
    if vocab_size is None or vocab_size < MIN_VOCAB_SIZE or not docs:
        return train_vocabulary(docs, vocab_size, lowercase, strip_accents), None, False
    cache_dir = cache_dir or os.path.join(cache_root(), "vocab")
    key = vocabulary_cache_key(docs, vocab_size, lowercase, strip_accents)
    path = os.path.join(cache_dir, f"wordpiece-{key}.txt")
    if os.path.isfile(path):
        try:
            return load_vocabulary(path), path, True
        except UsageError:  # a foreign or damaged file: train again and replace it
            pass
    vocab = train_vocabulary(docs, vocab_size, lowercase, strip_accents)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        save_vocabulary(vocab, path)
    except OSError:  # a read-only cache must not stop a run
        return vocab, None, False
    return vocab, path, False


def save_vocabulary(vocab, path):
    """Writes one token per line (UTF-8), atomically (a unique temporary name, renamed:
    concurrent writers of the same file never see each other's half-written file)."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for token in vocab:
                f.write(token + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
