"""SavedModel export of a text encoder with its WordPiece tokenizer inside.

The exported ``serving_default`` signature takes a batch of raw strings and returns
``pooled_output`` ``[batch, hidden]``, ``sequence_output`` ``[batch, max_length,
hidden]`` and the ``token_ids`` it fed the encoder (``[CLS] pieces [SEP] [PAD]*``,
exactly :func:`tfssl.text.encode_texts`). The vocabulary travels as the asset
``assets/vocab.txt`` and in ``tfssl_text.json`` next to it.

Loading needs ``tensorflow_text`` imported first (its ops are inside);
:func:`load_text_encoder` does that.
"""

import json
import os

import tensorflow as tf

__all__ = ["export_text_encoder", "load_text_encoder"]


class _TextEncoderModule(tf.Module):
    def __init__(self, encoder, tokenizer, max_length):
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        from tfssl.text.packing import encode_texts

        token_ids = encode_texts(self.tokenizer, text, self.max_length)
        out = self.encoder(token_ids, training=False)
        return {
            "pooled_output": tf.cast(out["pooled_output"], tf.float32),
            "sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "token_ids": token_ids,
        }


def export_text_encoder(encoder, vocab, path, max_length, lowercase=True):
    """Writes a SavedModel at ``path`` (a new directory) serving raw strings.

    Args:
        encoder: a text encoder (``token_ids -> {"sequence_output", "pooled_output"}``).
        vocab: the WordPiece vocabulary list used in training.
        path: output directory.
        max_length: ids per input row (texts are truncated to ``max_length - 2`` pieces).
        lowercase: the tokenizer's lower-casing, as in training.
    """
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    from tfssl.text.vocab import make_tokenizer, save_vocabulary

    tokenizer = make_tokenizer(vocab, lowercase=lowercase)
    module = _TextEncoderModule(encoder, tokenizer, max_length)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    assets = os.path.join(path, "assets")
    os.makedirs(assets, exist_ok=True)
    save_vocabulary(vocab, os.path.join(assets, "vocab.txt"))
    with open(os.path.join(path, "tfssl_text.json"), "w", encoding="utf-8") as f:
        json.dump({"max_length": int(max_length), "lowercase": bool(lowercase),
                   "vocab_size": len(vocab), "signature": "serving_default",
                   "inputs": "text: string[batch]",
                   "outputs": ["pooled_output", "sequence_output", "token_ids"]}, f,
                  indent=2)


def load_text_encoder(path):
    """Reloads an export; returns its ``serving_default`` function.

    ``load_text_encoder(path)(text=tf.constant(["some text"]))["pooled_output"]``.
    """
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    from tfssl.errors import UsageError

    if not os.path.isdir(path):
        raise UsageError(f"exported text encoder {path!r} does not exist")
    loaded = tf.saved_model.load(path)
    fn = loaded.signatures["serving_default"]
    fn._tfssl_keepalive = loaded  # keep the trackable objects alive with the function
    return fn
