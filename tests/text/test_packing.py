"""Vocabulary training, tokenizer reload and packing round trips."""

import numpy as np
import pytest
import tensorflow as tf

from tfssl.errors import UsageError
from tfssl.text import packing
from tfssl.text.vocab import (SPECIAL_TOKENS, load_vocabulary, make_tokenizer,
                              save_vocabulary, train_vocabulary)

DOCS = ["The quick brown fox jumps over the lazy dog.",
        "Packing splits long documents; short ones are padded!",
        "def f(x): return x + 1"] * 20


@pytest.mark.parametrize("combine", [True, False])
def test_pack_unpack_round_trip(combine):
    rng = np.random.default_rng(0)
    docs = [rng.integers(5, 100, rng.integers(0, 40)).astype(np.int32) for _ in range(50)]
    rows, doc_ids = packing.pack_documents(docs, 16, combine=combine)
    assert rows.shape[1] == 16 and rows.dtype == np.int32
    assert np.all(rows[:, 0] == 2)
    for row in rows:  # [CLS] ... [SEP] then only padding
        real = np.nonzero(row)[0]
        assert row[real[-1]] == 3
        assert np.all(row[real[-1] + 1:] == 0)
    back = packing.unpack_documents(rows, doc_ids, len(docs))
    for a, b in zip(docs, back):
        np.testing.assert_array_equal(a, b)
    if not combine:
        # one document piece per row: [CLS] piece [SEP]
        assert np.all((rows == 3).sum(1) == 1)
    else:
        assert len(rows) <= len(packing.pack_documents(docs, 16, combine=False)[0])


def test_long_document_split():
    rows, _ = packing.pack_documents([np.arange(5, 35)], 12)
    assert len(rows) == 3  # 30 tokens, 10 per row
    np.testing.assert_array_equal(rows[0], [2] + list(range(5, 15)) + [3])


def test_vocab_train_save_reload(tmp_path):
    vocab = train_vocabulary(DOCS, 200)
    assert vocab[:5] == SPECIAL_TOKENS
    assert len(vocab) <= 200
    path = str(tmp_path / "vocab.txt")
    save_vocabulary(vocab, path)
    assert load_vocabulary(path) == vocab
    tok_a, tok_b = make_tokenizer(vocab), make_tokenizer(path)
    enc = tf.function(lambda t, tok: packing.encode_texts(tok, t, 12), autograph=False)
    texts = tf.constant(["The QUICK fox", "zebra unknown!"])
    a = tf.function(lambda t: packing.encode_texts(tok_a, t, 12))(texts).numpy()
    b = tf.function(lambda t: packing.encode_texts(tok_b, t, 12))(texts).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 12) and np.all(a[:, 0] == 2)
    del enc
    ids = packing.tokenize_documents(tok_a, ["the quick fox"])[0]
    np.testing.assert_array_equal(a[0, 1:1 + len(ids)], ids)  # lower-cased
    assert a[0, 1 + len(ids)] == 3


def test_encode_texts_truncates():
    tok = make_tokenizer(train_vocabulary(DOCS, 200))
    out = tf.function(lambda t: packing.encode_texts(tok, t, 6))(
        tf.constant([" ".join(["fox"] * 20)])).numpy()
    assert out.shape == (1, 6) and out[0, 0] == 2 and out[0, -1] == 3 and np.all(out[0] > 0)


def test_vocab_too_small():
    with pytest.raises(UsageError, match="vocab_size"):
        train_vocabulary(DOCS, 5)
