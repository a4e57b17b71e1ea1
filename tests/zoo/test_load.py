"""tfssl.zoo.load from run folders, packed entries, file:// and a non-local URL."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfssl.errors import UsageError
from tfssl.zoo import load

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)


def _check_image_entry(entry):
    assert entry.kind == "image" and entry.card["method"] == "simclr"
    want = entry.encoder(IMAGES.astype("float32") / 255.0, training=False).numpy()
    np.testing.assert_allclose(entry.model.predict(IMAGES, verbose=0), want, atol=1e-5)
    np.testing.assert_allclose(entry.model(IMAGES.astype("float32")).numpy(), want,
                               atol=1e-5)
    return want


def test_load_run_folder_and_packed_entry(image_run, image_entry):
    from_run = _check_image_entry(load(str(image_run)))
    entry = load(str(image_entry))
    np.testing.assert_allclose(_check_image_entry(entry), from_run, atol=1e-6)
    assert entry.card["name"] == "simclr_tiny"
    assert "simclr" in repr(entry)
    np.testing.assert_allclose(_check_image_entry(load("file://" + str(image_entry))),
                               from_run, atol=1e-6)


def test_load_from_a_url_through_the_cache(image_entry, tmp_path, monkeypatch):
    """A URL that only TensorFlow's file system reads (the in-memory ram:// one) is
    copied into $TFSSL_CACHE once, then loaded from there."""
    url = "ram://zoo_test/simclr_entry"
    for name in ("card.json", "encoder.keras", "README.md"):
        tf.io.gfile.makedirs(url)
        tf.io.gfile.copy(str(image_entry / name), f"{url}/{name}", overwrite=True)
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    entry = load(url)
    assert os.path.dirname(entry.path) == str(tmp_path / "cache")
    assert sorted(os.listdir(entry.path)) == [".complete", "README.md", "card.json",
                                              "encoder.keras"]
    want = _check_image_entry(entry)
    tf.io.gfile.remove(f"{url}/encoder.keras")  # the cached copy is used from now on
    np.testing.assert_allclose(_check_image_entry(load(url + "/")), want, atol=1e-6)
    with pytest.raises(UsageError, match="ram://zoo_test/none"):
        load("ram://zoo_test/none")


def test_an_incomplete_url_entry_is_not_cached(image_entry, tmp_path, monkeypatch):
    """A copy that lacked encoder.keras used to be marked complete in the cache, so the
    entry failed forever after, also once the upload was whole."""
    from suite_helpers import raises_one_line_usage_error

    url = "ram://zoo_test/partial_entry"
    tf.io.gfile.makedirs(url)
    tf.io.gfile.copy(str(image_entry / "card.json"), f"{url}/card.json", overwrite=True)
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    with raises_one_line_usage_error(url, "is incomplete", "found card.json"):
        load(url)
    assert not os.path.exists(tmp_path / "cache") or not [
        n for n in os.listdir(tmp_path / "cache") if not n.startswith(".tmp-")]
    tf.io.gfile.copy(str(image_entry / "encoder.keras"), f"{url}/encoder.keras",
                     overwrite=True)
    _check_image_entry(load(url))


@pytest.mark.parametrize("card,message", [
    ("", "is not valid JSON"),
    ('{"modality": "image", "na', "is not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"name": "x"}', "has no modality 'image' or 'text'"),
    ('{"modality": "text"}', "lacks the text input facts"),
])
def test_damaged_card_named_in_one_line(image_entry, tmp_path, card, message):
    """Were JSONDecodeError / KeyError / TypeError tracebacks naming no file."""
    import shutil

    from suite_helpers import raises_one_line_usage_error

    entry = tmp_path / "entry"
    shutil.copytree(image_entry, entry)
    (entry / "card.json").write_text(card)
    with raises_one_line_usage_error(str(entry / "card.json"), message):
        load(str(entry))


def test_load_text_run_and_entry(text_run, tmp_path):
    from tfssl.export.text import load_text_encoder
    from tfssl.zoo import export_run

    entry = load(str(text_run))
    assert entry.kind == "text" and entry.vocab[:3] == ["[PAD]", "[UNK]", "[CLS]"]
    texts = ["the quick model reads", "words"]
    ids = entry.tokenize(texts)
    assert ids.shape == (2, 16) and int(ids[0, 0]) == 2
    pooled = entry.model(texts).numpy()
    np.testing.assert_allclose(pooled, entry.encoder(ids)["pooled_output"].numpy(),
                               atol=1e-6)
    export_run(str(text_run), str(tmp_path / "entry"))
    assert (tmp_path / "entry" / "vocab.txt").read_text() == \
        (text_run / "vocab.txt").read_text()
    packed = load(str(tmp_path / "entry"))
    np.testing.assert_allclose(packed.model(texts).numpy(), pooled, atol=1e-6)
    served = load_text_encoder(str(tmp_path / "entry" / "saved_model"))(
        text=tf.constant(texts))
    np.testing.assert_allclose(served["pooled_output"].numpy(), pooled, atol=1e-5)


def test_bad_paths(tmp_path, image_run):
    with pytest.raises(UsageError, match="no such directory"):
        load(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="expected a run folder"):
        load(str(tmp_path))
    with pytest.raises(UsageError, match="zoo entry: expected a directory"):
        load("")
    with pytest.raises(UsageError, match="image entries|text entries"):
        load(str(image_run)).tokenize(["x"])
