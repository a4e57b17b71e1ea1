"""Text dataset specs: python_docs, textfile:, labeled_text:, bad input."""

import logging

import pytest

from tfssl.data.text import load_labeled_text, load_text, split_documents
from tfssl.errors import UsageError


def test_python_docs_split_is_deterministic_and_disjoint():
    train = load_text("python_docs", "train")
    valid = load_text("python_docs", "validation")
    assert len(train) > 1000 and len(valid) > 100
    assert load_text("python_docs", "validation") == valid
    assert not set(valid) & set(train)
    assert len(train) + len(valid) == len(load_text("python_docs", "all"))


def test_textfile_lines_paragraphs_glob(tmp_path):
    (tmp_path / "a.txt").write_text("first line\n\n  second   line \nthird\n")
    (tmp_path / "b.txt").write_text("para one\ncontinues\n\n\npara two\n")
    assert load_text(f"textfile:{tmp_path / 'a.txt'}") == [
        "first line", "second   line", "third"]
    assert load_text(f"textfile:{tmp_path / 'b.txt'}", paragraphs=True) == [
        "para one continues", "para two"]
    assert len(load_text(f"textfile:{tmp_path}/*.txt")) == 6  # 3 + 3 lines


def test_specs_joined_by_commas(tmp_path):
    """Several specs joined by commas: their documents in order (a spec named twice
    counts twice, the corpus weight), labels dropped from labeled_text:; a comma inside
    a path is not a separator; a bad part is named."""
    (tmp_path / "wiki.txt").write_text("an article line\nanother one\n")
    (tmp_path / "reviews.txt").write_text("1 a fine film\n0 a dull one\n")
    odd = tmp_path / "a,b.txt"
    odd.write_text("comma path\n")
    wiki, reviews = f"textfile:{tmp_path / 'wiki.txt'}", f"labeled_text:{tmp_path / 'reviews.txt'}"
    assert load_text(f"{wiki},{reviews},{reviews}") == [
        "an article line", "another one"] + ["a fine film", "a dull one"] * 2
    assert load_text(f"textfile:{odd},{wiki}") == ["comma path", "an article line",
                                                    "another one"]
    docs = load_text(f"{wiki},python_docs", "validation")
    assert docs[:2] == ["an article line", "another one"]
    assert docs[2:] == load_text("python_docs", "validation")
    with pytest.raises(UsageError, match="missing.txt"):
        load_text(f"{wiki},textfile:{tmp_path / 'missing.txt'}")


def test_non_utf8_is_replaced_and_named(tmp_path, caplog):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good line\nbad \xff\xfe line\n")
    with caplog.at_level(logging.WARNING):
        docs = load_text(f"textfile:{p}")
    assert docs[1] == "bad \ufffd\ufffd line"
    assert f"{p}:2" in caplog.text


def test_binary_and_utf16_files_are_refused(tmp_path):
    """A file with NUL bytes is never UTF-8 text: it used to be trained on as U+FFFD."""
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"PK\x03\x04\n\x00\x00\xff" * 8)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("1 a fine film\n0 a dull one\n".encode("utf-16"))
    with pytest.raises(UsageError, match=f"{binary}:2: a NUL byte"):
        load_text(f"textfile:{binary}")
    with pytest.raises(UsageError, match=f"{utf16}:1: a NUL byte.*UTF-16"):
        load_labeled_text(f"labeled_text:{utf16}")


def test_empty_and_missing(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("\n  \n")
    with pytest.raises(UsageError, match="empty"):
        load_text(f"textfile:{p}")
    with pytest.raises(UsageError, match="does not exist"):
        load_text(f"textfile:{tmp_path / 'nope.txt'}")
    with pytest.raises(UsageError, match="no file matches"):
        load_text(f"textfile:{tmp_path}/*.none")
    with pytest.raises(UsageError, match="unknown text dataset"):
        load_text("wikipedia")


def test_split_documents():
    train, valid = split_documents([str(i) for i in range(100)], 0.1)
    assert len(valid) == 10 and len(train) == 90 and not set(train) & set(valid)
    with pytest.raises(UsageError):
        split_documents(["only one"])


def test_labeled_text(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text("pos great movie\nneg\tawful  film\n\nneutral it was fine\npos loved it\n")
    data = load_labeled_text(f"labeled_text:{p}")
    assert data.label_names == ["neg", "neutral", "pos"]
    assert data.labels == [2, 0, 1, 2]
    assert data.texts[1] == "awful film"
    v = tmp_path / "valid.txt"
    v.write_text("pos good\nmaybe unsure\n")
    with pytest.raises(UsageError, match=r"valid.txt:2: unknown label 'maybe'"):
        load_labeled_text(str(v), label_names=data.label_names)
    b = tmp_path / "bad.txt"
    b.write_text("pos fine\nlonely\n")
    with pytest.raises(UsageError, match="bad.txt:2"):
        load_labeled_text(str(b))


def test_labels_sorted_numerically(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("10 a\n2 b\n1 c\n")
    assert load_labeled_text(str(p)).label_names == ["1", "2", "10"]


def test_wikitext2_valid(shared_data):
    path = shared_data("wikitext2/wiki.valid.raw")
    docs = load_text(f"textfile:{path}")
    assert len(docs) > 1000
    assert all(d == d.strip() and d for d in docs)
    assert any("=" in d for d in docs)  # section headers are documents too
    from tfssl.text import make_tokenizer, pack_documents, tokenize_documents, train_vocabulary

    sample = docs[:300]
    tok = make_tokenizer(train_vocabulary(sample, 500))
    rows, _ = pack_documents(tokenize_documents(tok, sample), 64)
    assert rows.shape[1] == 64 and len(rows) > 50
    assert (rows == 1).mean() < 0.01  # few [UNK]


def test_sst2(shared_data):
    train = load_labeled_text(f"labeled_text:{shared_data('sst2/train.txt')}")
    dev = load_labeled_text(f"labeled_text:{shared_data('sst2/dev.txt')}", train.label_names)
    assert train.label_names == ["0", "1"] and len(dev) == 872


def test_tfds_text_on_a_locally_prepared_dataset(tmp_path):
    """The tfds: text path on a dataset the test prepares itself (no download)."""
    import tensorflow_datasets as tfds

    class TinyReviews(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict(
                    {"review": tfds.features.Text(), "label": tfds.features.ClassLabel(
                        names=["neg", "pos"])}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(5), "test": self._generate_examples(2)}

        def _generate_examples(self, n):
            for i in range(n):
                yield i, {"review": f"review number {i} is fine", "label": i % 2}

    TinyReviews(data_dir=str(tmp_path)).download_and_prepare()
    docs = load_text("tfds:tiny_reviews", text_key="review", data_dir=str(tmp_path))
    assert sorted(docs) == sorted(f"review number {i} is fine" for i in range(5))
    assert len(load_text("tfds:tiny_reviews:test", text_key="review",
                         data_dir=str(tmp_path))) == 2
    with pytest.raises(UsageError, match="--text_key"):
        load_text("tfds:tiny_reviews", text_key="text", data_dir=str(tmp_path))
    with pytest.raises(UsageError, match="not prepared"):
        load_text("tfds:imdb_reviews", data_dir=str(tmp_path / "empty"))
