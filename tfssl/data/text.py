"""Text dataset specs -> lists of documents (Python strings).

Specs:

- ``python_docs``: the English documentation that ships with CPython
  (``pydoc_data.topics``), cut into blank-line-separated paragraphs (repeated
  paragraphs dropped, so no validation text appears in training); every
  ``VALIDATION_EVERY``-th paragraph (in a fixed order) is a validation document. No
  download, identical on every machine with the same Python minor version.
- ``textfile:PATH_OR_GLOB``: plain UTF-8 text, one document per line, or blank-line
  separated paragraphs with ``paragraphs=True``. Bytes that are not UTF-8 are replaced
  (U+FFFD) and the first such line is named in a warning; a file with NUL bytes
  (binary, UTF-16) is refused.
- ``labeled_text:PATH``: ``LABEL<space-or-tab>text`` per line (see
  :func:`load_labeled_text`).
- ``tfds:NAME[:SPLIT]``: a tensorflow-datasets dataset, text in feature ``text_key``.
- Several of these joined by commas (``textfile:wiki.raw,labeled_text:reviews.txt``):
  their documents in that order. A spec named twice is read twice, so its documents
  count twice (a corpus weight). A comma only separates specs where a spec's name
  follows it, so a path with a comma in it still works.

Corpora are small enough to live in memory as Python lists; tokenisation, packing and
masking happen later in ``tfssl.text``.
"""

import glob
import logging
import os
import re

from tfssl.data.tfds_source import load_tfds, parse_tfds_spec
from tfssl.errors import UsageError

__all__ = [
    "TEXT_SPECS",
    "LabeledText",
    "load_labeled_text",
    "load_text",
    "split_documents",
    "split_specs",
]

TEXT_SPECS = ("python_docs | textfile:PATH_OR_GLOB | labeled_text:PATH | tfds:NAME[:SPLIT], "
              "or several joined by commas")
#: A comma followed by a spec's name starts the next spec of a combined one.
_NEXT_SPEC = re.compile(r",(?=python_docs(?:,|$)|textfile:|labeled_text:|tfds:)")
VALIDATION_EVERY = 10
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def _check_text(data, path):
    """Refuses a file with NUL bytes: binary data or UTF-16, never UTF-8 text (its
    U+FFFD-replaced bytes would otherwise be trained on without a word)."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise UsageError(f"{path}:{line}: a NUL byte (a binary file, or UTF-16?): "
                         "expected UTF-8 text")


def _decode(data, source, line_offset=0):
    """UTF-8 decode; invalid bytes are replaced and the first bad line is named."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1 + line_offset
        logging.warning(
            "%s:%d: bytes that are not UTF-8 (%s); replaced with U+FFFD",
            source, line, e.reason)
        return data.decode("utf-8", errors="replace")


def _split_docs(text, paragraphs):
    if paragraphs:
        parts = _PARAGRAPH_BREAK.split(text)
        parts = [" ".join(p.split()) for p in parts]
    else:
        parts = [p.strip() for p in text.splitlines()]
    return [p for p in parts if p]


def _python_docs(split):
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    paras, seen = [], set()
    for key in sorted(topics):
        for p in _split_docs(topics[key], paragraphs=True):
            if p not in seen:  # topics repeat paragraphs: keep validation unseen
                seen.add(p)
                paras.append(p)
    if split in ("train", None):
        return [p for i, p in enumerate(paras) if i % VALIDATION_EVERY != VALIDATION_EVERY - 1]
    if split in ("validation", "test", "valid"):
        return [p for i, p in enumerate(paras) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    if split == "all":
        return paras
    raise UsageError(f"python_docs has no split {split!r}; expected train | validation | all")


def _expand_files(pattern, spec):
    if any(c in pattern for c in "*?["):
        files = sorted(glob.glob(pattern))
        if not files:
            raise UsageError(f"dataset spec {spec!r}: no file matches {pattern!r}")
    else:
        if not os.path.exists(pattern):
            raise UsageError(f"dataset spec {spec!r}: file {pattern!r} does not exist")
        if os.path.isdir(pattern):
            files = sorted(
                os.path.join(pattern, f) for f in os.listdir(pattern)
                if os.path.isfile(os.path.join(pattern, f)))
            if not files:
                raise UsageError(f"dataset spec {spec!r}: directory {pattern!r} is empty")
        else:
            files = [pattern]
    return files


def _textfile(spec, paragraphs):
    pattern = spec[len("textfile:"):]
    if not pattern:
        raise UsageError(f"dataset spec {spec!r}: expected textfile:PATH_OR_GLOB")
    docs = []
    for path in _expand_files(pattern, spec):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
        _check_text(data, path)
        docs.extend(_split_docs(_decode(data, path), paragraphs))
    return docs


def _tfds_text(spec, split, text_key, data_dir, download):
    name, tfds_split = parse_tfds_spec(spec, default_split=split or "train")
    builder, ds = load_tfds(name, tfds_split, data_dir=data_dir, download=download)
    features = builder.info.features
    keys = list(features.keys()) if hasattr(features, "keys") else []
    if keys and text_key not in keys:
        raise UsageError(
            f"tfds dataset {name!r} has no feature {text_key!r} (--text_key); "
            f"features: {', '.join(keys)}")
    docs = []
    for i, example in enumerate(ds.as_numpy_iterator()):
        value = example[text_key]
        if isinstance(value, bytes):
            value = _decode(value, f"{spec} example {i}")
        value = " ".join(str(value).split())
        if value:
            docs.append(value)
    return docs


def split_specs(spec):
    """The specs of a combined spec, in order (``[spec]`` for a single one)."""
    return _NEXT_SPEC.split(spec)


def load_text(spec, split="train", *, paragraphs=False, text_key="text",
              data_dir=None, download=False):
    """Loads a text dataset spec as a list of non-empty documents.

    Args:
        spec: ``python_docs``, ``textfile:PATH_OR_GLOB``, ``labeled_text:PATH`` (the
            labels are dropped) or ``tfds:NAME[:SPLIT]``, or several of them joined by
            commas (their documents in order).
        split: for ``python_docs``: ``train``, ``validation`` or ``all``; for ``tfds:``
            the split used when the spec names none. Ignored for files.
        paragraphs: ``textfile:``: documents are blank-line-separated paragraphs
            (whitespace inside a paragraph is collapsed) instead of lines.
        text_key: ``tfds:``: the feature that holds the text.
        data_dir, download: ``tfds:`` options.

    Returns:
        a list of ``str``.

    Raises:
        UsageError: unknown spec, missing file, or no text at all.
    """
    if not isinstance(spec, str) or not spec:
        raise UsageError(f"dataset spec {spec!r}: expected {TEXT_SPECS}")
    parts = split_specs(spec)
    if len(parts) > 1:
        docs = []
        for part in parts:
            docs += load_text(part, split, paragraphs=paragraphs, text_key=text_key,
                              data_dir=data_dir, download=download)
        return docs
    if spec == "python_docs":
        docs = _python_docs(split)
    elif spec.startswith("textfile:"):
        docs = _textfile(spec, paragraphs)
    elif spec.startswith("labeled_text:"):
        docs = list(load_labeled_text(spec).texts)
    elif spec.startswith("tfds:"):
        docs = _tfds_text(spec, split, text_key, data_dir, download)
    else:
        raise UsageError(f"unknown text dataset spec {spec!r}; expected {TEXT_SPECS}")
    if not docs:
        raise UsageError(f"dataset spec {spec!r}: the corpus is empty (no non-blank text)")
    return docs


def split_documents(docs, validation_fraction=0.1):
    """Deterministic train / validation split: every k-th document goes to validation."""
    if not 0 < validation_fraction < 1:
        raise UsageError(f"validation_fraction={validation_fraction}: expected 0 < f < 1")
    if len(docs) < 2:
        raise UsageError(
            f"need at least 2 documents to hold some out for validation, got {len(docs)}")
    every = max(2, int(round(1 / validation_fraction)))
    train = [d for i, d in enumerate(docs) if i % every != every - 1]
    valid = [d for i, d in enumerate(docs) if i % every == every - 1]
    return train, valid


class LabeledText:
    """Texts with integer labels and the label names they index.

    Attributes:
        texts: list of ``str``.
        labels: list of ``int`` indices into ``label_names``.
        label_names: list of ``str`` (sorted, numerically when all labels are integers).
    """

    def __init__(self, texts, labels, label_names):
        self.texts = texts
        self.labels = labels
        self.label_names = label_names

    def __len__(self):
        return len(self.texts)

    @property
    def num_classes(self):
        return len(self.label_names)

    def subset(self, index, texts=None):
        """The examples at ``index`` (optionally with replaced ``texts``, e.g. corrupted)."""
        index = [int(i) for i in index]
        picked = [self.texts[i] for i in index] if texts is None else list(texts)
        return LabeledText(picked, [self.labels[i] for i in index], self.label_names)


def _label_sort_key(name):
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def load_labeled_text(spec, label_names=None):
    """Reads ``labeled_text:PATH``: one ``LABEL<space-or-tab>text`` per line.

    Args:
        spec: ``labeled_text:PATH`` or a plain path.
        label_names: the label names of the training file. When given (for a
            validation file), a label outside this list is an error; when ``None``
            the names are collected from the file.

    Returns:
        :class:`LabeledText`.

    Raises:
        UsageError: missing file, a line without text, an unknown label, an empty file.
    """
    path = spec[len("labeled_text:"):] if spec.startswith("labeled_text:") else spec
    if not path:
        raise UsageError(f"dataset spec {spec!r}: expected labeled_text:PATH")
    if not os.path.isfile(path):
        raise UsageError(f"labeled text file {path!r} does not exist")
    with open(path, "rb") as f:
        raw = f.read()
    _check_text(raw, path)
    rows = []
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        text = _decode(line, path, line_offset=lineno - 1).strip()
        if not text:
            continue
        parts = text.split(None, 1)
        if len(parts) < 2:
            raise UsageError(f"{path}:{lineno}: expected 'LABEL text', got {text[:40]!r}")
        rows.append((lineno, parts[0], " ".join(parts[1].split())))
    if not rows:
        raise UsageError(f"labeled text file {path!r} is empty")
    if label_names is None:
        label_names = sorted({r[1] for r in rows}, key=_label_sort_key)
        if len(label_names) < 2:
            raise UsageError(
                f"labeled text file {path!r} has a single label {label_names[0]!r}; "
                "classification needs at least 2")
    index = {name: i for i, name in enumerate(label_names)}
    labels = []
    for lineno, label, _ in rows:
        if label not in index:
            raise UsageError(
                f"{path}:{lineno}: unknown label {label!r}; the training labels are "
                f"{', '.join(label_names)}")
        labels.append(index[label])
    return LabeledText([r[2] for r in rows], labels, list(label_names))
