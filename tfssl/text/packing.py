"""Tokenising documents and packing them into fixed-length ``[CLS] ... [SEP]`` rows.

Training rows are built once, in NumPy, and cached in ``tf.data``; masking (the only
random part) happens per batch in :mod:`tfssl.text.masking`.
"""

import numpy as np

from tfssl.errors import UsageError
from tfssl.text.vocab import special_token_ids

__all__ = [
    "tokenize_documents",
    "pack_documents",
    "unpack_documents",
    "encode_texts",
]

_IDS = special_token_ids()


def tokenize_documents(tokenizer, docs, batch_size=512):
    """Tokenises a list of str with a WordPiece tokenizer: a list of int32 arrays."""
    import tensorflow as tf

    out = []
    if not docs:
        return out
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(list(docs), tf.string))
    # Inside tf.data the keras-hub tokenizer stays in TF (eagerly it returns lists).
    ds = ds.batch(batch_size).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    for ragged in ds:
        values = ragged.flat_values.numpy().astype(np.int32)
        splits = ragged.row_splits.numpy()
        out.extend(values[splits[i]:splits[i + 1]] for i in range(len(splits) - 1))
    return out


def pack_documents(token_lists, max_length, combine=True,
                   cls_id=_IDS["cls"], sep_id=_IDS["sep"], pad_id=_IDS["pad"]):
    """Packs tokenised documents into rows of ``max_length`` ids.

    Each row is ``[CLS] piece [SEP] (piece [SEP])* [PAD]*``. A document longer than
    ``max_length - 2`` is split into several pieces (several rows). With
    ``combine=True``, consecutive short documents share a row (each followed by its own
    ``[SEP]``) while they fit, so that few positions are padding; with ``combine=False``
    every row holds one piece of one document.

    Args:
        token_lists: iterable of 1-D int arrays (one per document, no special tokens).
        max_length: ids per row, ``[CLS]`` and ``[SEP]`` included (>= 3).

    Returns:
        ``(token_ids, doc_ids)``: two ``[rows, max_length]`` int32 arrays; ``doc_ids``
        holds the index of the document each token came from and -1 on special and
        padding positions, so that :func:`unpack_documents` restores the documents.
    """
    if max_length < 3:
        raise UsageError(f"max_length={max_length}: need at least 3 ([CLS] token [SEP])")
    body = max_length - 2
    rows, rows_doc = [], []
    cur, cur_doc = [cls_id], [-1]

    def flush():
        nonlocal cur, cur_doc
        if len(cur) > 1:
            pad = max_length - len(cur)
            rows.append(cur + [pad_id] * pad)
            rows_doc.append(cur_doc + [-1] * pad)
        cur, cur_doc = [cls_id], [-1]

    for d, tokens in enumerate(token_lists):
        tokens = [int(t) for t in tokens]
        if not tokens:
            continue
        pieces = [tokens[i:i + body] for i in range(0, len(tokens), body)]
        for piece in pieces:
            room = max_length - len(cur)
            if not combine or len(piece) + 1 > room:
                flush()
            cur = cur + piece + [sep_id]
            cur_doc = cur_doc + [d] * len(piece) + [-1]
            if not combine:
                flush()
    flush()
    if not rows:
        return (np.zeros((0, max_length), np.int32), np.zeros((0, max_length), np.int32))
    return np.asarray(rows, np.int32), np.asarray(rows_doc, np.int32)


def unpack_documents(token_ids, doc_ids, num_docs):
    """Inverse of :func:`pack_documents`: the list of ``num_docs`` token arrays."""
    token_ids = np.asarray(token_ids).reshape(-1)
    doc_ids = np.asarray(doc_ids).reshape(-1)
    return [token_ids[doc_ids == d].astype(np.int32) for d in range(num_docs)]


def encode_texts(tokenizer, texts, max_length,
                 cls_id=_IDS["cls"], sep_id=_IDS["sep"], pad_id=_IDS["pad"]):
    """TF ops: a batch of strings -> ``[batch, max_length]`` int32 rows.

    Each text becomes ``[CLS] first max_length-2 pieces [SEP]`` padded with ``[PAD]``.
    Used for classification inputs and inside the exported serving signature, so that
    both see exactly the same ids. Call it inside ``tf.data`` or a ``tf.function``
    (eagerly, keras-hub tokenizers return Python lists).
    """
    import tensorflow as tf

    texts = tf.convert_to_tensor(texts, tf.string)
    tokens = tokenizer(texts)
    if not isinstance(tokens, tf.RaggedTensor):
        tokens = tf.RaggedTensor.from_tensor(tokens)
    tokens = tf.cast(tokens[:, :max_length - 2], tf.int32)
    batch = tokens.nrows()
    cls = tf.fill([batch, 1], tf.constant(cls_id, tf.int32))
    sep = tf.fill([batch, 1], tf.constant(sep_id, tf.int32))
    rows = tf.concat([cls, tokens, sep], axis=1)
    return rows.to_tensor(default_value=pad_id, shape=[None, max_length])
