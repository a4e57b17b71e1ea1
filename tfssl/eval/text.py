"""Frozen features of a text encoder: its ``pooled_output`` over labelled texts."""

import numpy as np


def text_features(encoder, vocab, texts, max_length, lowercase=True, batch_size=128):
    """``(N, hidden)`` float32 pooled outputs of ``encoder`` over ``texts``.

    Texts are tokenised with the run's WordPiece ``vocab`` exactly as for fine-tuning
    (``[CLS] pieces [SEP]`` padded to ``max_length``); the encoder runs in inference
    mode, in float32 (see :func:`tfssl.eval.features.float32_copy`).
    """
    from tfssl.eval.features import float32_copy
    from tfssl.methods.text_classifier import labeled_text_dataset
    from tfssl.text.vocab import make_tokenizer

    texts = list(texts)
    if not texts:
        return np.zeros((0, encoder.output["pooled_output"].shape[-1]), np.float32)
    tokenizer = make_tokenizer(vocab, lowercase=lowercase)
    ds = labeled_text_dataset(tokenizer, texts, np.zeros(len(texts), np.int32), max_length,
                              batch_size).map(lambda x, y: x)
    encoder = float32_copy(encoder)
    out = [np.asarray(encoder(x, training=False)["pooled_output"], np.float32) for x in ds]
    return np.concatenate(out)
