"""The WordPiece vocabulary cache: trained once per corpus and settings, reused after."""

import os

from tfssl.text.vocab import (
    SPECIAL_TOKENS, cached_vocabulary, load_vocabulary, vocabulary_cache_key)

DOCS = ["the cat sat on the mat", "a dog ran in the park", "cats and dogs play",
        "the quick brown fox jumps over the lazy dog"] * 5


def test_second_call_reuses_the_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path))
    vocab, path, hit = cached_vocabulary(DOCS, 60)
    assert not hit and path.startswith(str(tmp_path / "vocab"))
    assert vocab[:len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert load_vocabulary(path) == vocab
    stamp = os.stat(path).st_mtime_ns
    again, path2, hit2 = cached_vocabulary(list(DOCS), 60)
    assert hit2 and path2 == path and again == vocab
    assert os.stat(path).st_mtime_ns == stamp  # not rewritten
    assert [f for f in os.listdir(tmp_path / "vocab")] == [os.path.basename(path)]


def test_settings_and_content_change_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path))
    base = vocabulary_cache_key(DOCS, 60)
    assert vocabulary_cache_key(DOCS, 61) != base
    assert vocabulary_cache_key(DOCS, 60, lowercase=False) != base
    assert vocabulary_cache_key(DOCS[:-1], 60) != base
    assert vocabulary_cache_key(DOCS[:-1] + ["x"], 60) != base
    # Document boundaries are part of the content.
    assert vocabulary_cache_key(["ab", "c"], 60) != vocabulary_cache_key(["a", "bc"], 60)
    _, p1, _ = cached_vocabulary(DOCS, 60)
    _, p2, hit = cached_vocabulary(DOCS, 50)
    assert p1 != p2 and not hit
    _, p3, hit = cached_vocabulary(DOCS, 60, lowercase=False)
    assert p3 not in (p1, p2) and not hit


def test_damaged_cache_file_is_retrained(tmp_path):
    vocab, path, _ = cached_vocabulary(DOCS, 60, cache_dir=str(tmp_path))
    with open(path, "w") as f:
        f.write("not a vocabulary\n")
    again, path2, hit = cached_vocabulary(DOCS, 60, cache_dir=str(tmp_path))
    assert not hit and path2 == path and again == vocab
    assert load_vocabulary(path) == vocab
