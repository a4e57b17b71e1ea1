"""``tfssl.zoo.load``: one call from a run folder or a packed entry to a usable encoder."""

import hashlib
import os
import shutil
import tempfile

from tfssl.errors import UsageError

__all__ = ["load", "ZooEntry", "cache_dir", "CACHE_ENV"]

CACHE_ENV = "TFSSL_CACHE"
# The files load() reads; a remote entry is copied without its logs, backups or exports.
_NEEDED = ("config.json", "metrics.json", "keras/encoder.keras", "vocab.txt", "card.json",
           "encoder.keras", "README.md")


def cache_dir():
    """Where remote entries are copied: ``$TFSSL_CACHE`` or ``~/.cache/tfssl/zoo``."""
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "tfssl", "zoo")


def _is_remote(path):
    return "://" in path and not path.startswith("file://")


def _fetch(url):
    """Copies the files of a remote entry into the cache (once); returns the local dir."""
    import tensorflow as tf

    url = url.rstrip("/")
    local = os.path.join(cache_dir(), hashlib.sha256(url.encode()).hexdigest()[:16])
    if os.path.isfile(os.path.join(local, ".complete")):
        return local
    try:
        if not tf.io.gfile.isdir(url):
            raise UsageError(f"zoo entry {url!r}: not a directory that TensorFlow's file "
                             "system can read")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(local))
        try:
            for name in _NEEDED:
                src = f"{url}/{name}"
                if tf.io.gfile.exists(src):
                    os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
                    tf.io.gfile.copy(src, os.path.join(tmp, name), overwrite=True)
            _check_complete(tmp, url)  # else a later, complete upload would never be read
            with open(os.path.join(tmp, ".complete"), "w", encoding="utf-8") as f:
                f.write(url + "\n")
            if os.path.exists(local):
                shutil.rmtree(local)
            os.replace(tmp, local)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except tf.errors.OpError as e:
        raise UsageError(f"zoo entry {url!r}: cannot read it ({e.message})") from None
    return local


def _check_complete(local, url):
    """A one-line :class:`UsageError` unless ``local`` (a copy of ``url``) holds a whole
    entry: a run folder (``config.json``, ``keras/encoder.keras``) or a packed one
    (``card.json``, ``encoder.keras``), and ``vocab.txt`` for a text entry."""
    from tfssl.runs.files import read_json_object

    def has(name):
        return os.path.isfile(os.path.join(local, name))

    layout = next(((card, enc) for card, enc in (("config.json", "keras/encoder.keras"),
                                                 ("card.json", "encoder.keras"))
                   if has(card) and has(enc)), None)
    if layout is None:
        found = ", ".join(n for n in _NEEDED if has(n)) or "none of them"
        raise UsageError(f"zoo entry {url!r} is incomplete: expected config.json and "
                         "keras/encoder.keras (a run folder) or card.json and encoder.keras "
                         f"(tfssl-export); found {found}")
    facts = read_json_object(os.path.join(local, layout[0]), f"zoo entry {url!r}")
    if facts.get("modality") == "text" and not has("vocab.txt"):
        raise UsageError(f"zoo entry {url!r} is incomplete: a text entry without vocab.txt")


def _read_card(path, flag):
    """A packed entry's ``card.json``, checked for what :func:`load` reads from it."""
    from tfssl.runs.files import read_json_object

    card = read_json_object(path, flag)
    if card.get("modality") not in ("image", "text"):
        raise UsageError(f"{flag}: {path} has no modality 'image' or 'text' "
                         f"(found {card.get('modality')!r})")
    if card["modality"] == "text" and not (
            isinstance(card.get("input"), dict)
            and {"lowercase", "max_length"} <= set(card["input"])):
        raise UsageError(f"{flag}: {path} lacks the text input facts (input.lowercase, "
                         "input.max_length)")
    return card


class ZooEntry:
    """A loaded zoo entry.

    Attributes:
        kind: ``"image"`` or ``"text"``.
        encoder: the raw Keras encoder (images: float ``[0, 1]`` input; text: token ids ->
            ``{"sequence_output", "pooled_output"}``), trainable, for fine-tuning.
        model: the encoder with its preprocessing. Images: a ``keras.Model`` taking
            images of the encoder's size with values 0..255 (uint8 or float), a
            ``Rescaling(1/255)`` in front of ``encoder``. Text: a callable mapping a list
            (or tensor) of raw strings to the float32 ``pooled_output`` ``[batch, D]``.
        card: the model card (dict, see :func:`tfssl.zoo.card_from_run`).
        path: the local directory it was loaded from.
        vocab: text only, the WordPiece vocabulary (list of tokens); else None.
        tokenizer: text only, the ``keras_hub`` WordPiece tokenizer; else None.
    """

    def __init__(self, kind, encoder, model, card, path, vocab=None, tokenizer=None,
                 max_length=None):
        self.kind, self.encoder, self.model, self.card, self.path = (
            kind, encoder, model, card, path)
        self.vocab, self.tokenizer, self.max_length = vocab, tokenizer, max_length

    def tokenize(self, texts):
        """Text only: raw strings -> int32 ids ``[batch, max_length]`` (``[CLS] ... [SEP]
        [PAD]*``, as in training and in the exported SavedModel)."""
        if self.kind != "text":
            raise UsageError(f"zoo entry {self.path}: tokenize() is for text entries")
        return self.model.tokenize(texts)

    def __repr__(self):
        return (f"ZooEntry({self.card.get('name')!r}, kind={self.kind!r}, method="
                f"{self.card.get('method')!r}, encoder={self.card.get('encoder')!r})")


class TextPipeline:
    """Raw strings -> ``pooled_output`` of a text encoder (tokenizer + encoder)."""

    def __init__(self, encoder, tokenizer, max_length):
        import tensorflow as tf

        from tfssl.text.packing import encode_texts

        self.encoder, self.tokenizer, self.max_length = encoder, tokenizer, max_length
        self._encode = tf.function(lambda t: encode_texts(tokenizer, t, max_length))

    def tokenize(self, texts):
        import tensorflow as tf

        if isinstance(texts, (list, tuple)):
            texts = tf.constant(texts, tf.string)
        return self._encode(tf.convert_to_tensor(texts, tf.string))

    def __call__(self, texts, training=False):
        import tensorflow as tf

        out = self.encoder(self.tokenize(texts), training=training)
        return tf.cast(out["pooled_output"], tf.float32)


def _image_model(encoder):
    import keras

    shape = tuple(encoder.input_shape[1:])
    images = keras.Input(shape, name="images")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale_0_255")(images)
    return keras.Model(images, encoder(x), name=f"{encoder.name}_uint8")


def load(path_or_url):
    """Loads a zoo entry: a run folder or a directory written by ``tfssl-export``.

    Args:
        path_or_url: a local directory, ``file://`` path, or any URL TensorFlow's file
            system reads (``gs://...``): remote entries are copied once into
            :func:`cache_dir` (``$TFSSL_CACHE``), keyed by the URL.

    Returns:
        a :class:`ZooEntry` (``.encoder``, ``.model``, ``.card``, ``.kind``).

    Raises:
        UsageError: the path does not exist or holds neither layout, or the run has not
            finished.
    """
    from tfssl.runs import RUN_FILES
    from tfssl.zoo.card import CARD_FILE, card_from_run, load_encoder_file

    if not path_or_url:
        raise UsageError("zoo entry: expected a directory or URL, got nothing")
    path = str(path_or_url)
    if path.startswith("file://"):
        path = path[len("file://"):]
    if _is_remote(path):
        path = _fetch(path)
    flag = f"zoo entry {path_or_url}"
    if not os.path.isdir(path):
        raise UsageError(f"{flag}: no such directory")
    if os.path.isfile(os.path.join(path, RUN_FILES["config"])):  # a run folder
        from tfssl.runs import load_run_config

        config, _ = load_run_config(path, flag=flag)
        encoder = load_encoder_file(
            os.path.join(path, config.get("encoder_file", RUN_FILES["encoder"])), flag)
        card = card_from_run(path, encoder=encoder)
        vocab_file = os.path.join(path, config.get("vocab_file") or "vocab.txt")
    elif os.path.isfile(os.path.join(path, CARD_FILE)):  # packed by tfssl-export
        card = _read_card(os.path.join(path, CARD_FILE), flag)
        encoder = load_encoder_file(os.path.join(path, "encoder.keras"), flag)
        vocab_file = os.path.join(path, "vocab.txt")
    else:
        raise UsageError(f"{flag}: expected a run folder (config.json, "
                         "keras/encoder.keras) or a directory written by tfssl-export "
                         "(card.json, encoder.keras)")
    if card["modality"] == "image":
        return ZooEntry("image", encoder, _image_model(encoder), card, path)
    from tfssl.text.vocab import load_vocabulary, make_tokenizer

    vocab = load_vocabulary(vocab_file)
    lowercase, max_length = card["input"]["lowercase"], card["input"]["max_length"]
    tokenizer = make_tokenizer(vocab, lowercase=lowercase)
    return ZooEntry("text", encoder, TextPipeline(encoder, tokenizer, max_length), card,
                    path, vocab=vocab, tokenizer=tokenizer, max_length=max_length)
