"""SavedModel on raw strings equals the Keras encoder on the same token ids."""

import numpy as np
import tensorflow as tf

from tfssl.encoders.bert import bert
from tfssl.export.text import export_text_encoder, load_text_encoder
from tfssl.text.packing import encode_texts
from tfssl.text.vocab import make_tokenizer, train_vocabulary

DOCS = ["A saved model takes raw strings.", "The tokenizer lives inside the graph!"] * 10


def test_saved_model_on_strings_equals_keras(tmp_path):
    vocab = train_vocabulary(DOCS, 120)
    enc = bert(len(vocab), num_layers=1, hidden_dim=16, num_heads=2, max_length=24)
    path = str(tmp_path / "encoder")
    export_text_encoder(enc, vocab, path, max_length=12)
    serve = load_text_encoder(path)
    texts = tf.constant(["A saved MODEL takes raw strings and more strings than fit",
                         "graph", ""])
    out = serve(text=texts)
    tok = make_tokenizer(vocab)
    ids = tf.function(lambda t: encode_texts(tok, t, 12))(texts)
    np.testing.assert_array_equal(out["token_ids"], ids)
    ref = enc(ids)
    np.testing.assert_allclose(out["pooled_output"], ref["pooled_output"], atol=1e-6)
    np.testing.assert_allclose(out["sequence_output"], ref["sequence_output"], atol=1e-6)
    assert out["sequence_output"].shape == (3, 12, 16)
    assert (tmp_path / "encoder" / "assets" / "vocab.txt").read_text().split("\n")[:5] == \
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
