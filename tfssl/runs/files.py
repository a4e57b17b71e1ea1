"""Atomic outputs: a crash never leaves a half-written file or directory behind."""

import json
import os
import shutil
import tempfile

from tfssl.errors import UsageError


def write_atomic(path, write, binary=False):
    """Creates ``path`` through a temporary file in its folder and a rename.

    ``write(f)`` writes the content to the open temporary file (text, UTF-8, or bytes
    with ``binary``). A crash leaves any previous ``path`` whole and no temporary file.
    The file gets the usual permissions (``mkstemp`` alone would make it 0600).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb" if binary else "w",
                       **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_text_atomic(path, text):
    """Writes the string ``text`` to ``path`` atomically (:func:`write_atomic`)."""
    return write_atomic(path, lambda f: f.write(text))


def write_json_atomic(path, obj):
    """Writes ``obj`` as JSON to ``path`` atomically (:func:`write_atomic`)."""

    def write(f):
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")

    return write_atomic(path, write)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once, at import (os.umask can only be read by setting it)


def read_json_object(path, flag=None):
    """The JSON object (a dict) in the file ``path``.

    Raises:
        UsageError: naming ``path`` (after ``flag``, when given) when the file is not
            valid JSON or holds something other than an object. A missing or unreadable
            file raises ``OSError`` as ``open`` does.
    """
    prefix = f"{flag}: " if flag else ""
    with open(path, encoding="utf-8") as f:
        try:
            obj = json.load(f)
        except ValueError as e:
            raise UsageError(f"{prefix}{path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{prefix}{path}: expected a JSON object, found "
                         f"{type(obj).__name__}")
    return obj


def update_json_atomic(path, update):
    """Read-modify-write of a JSON object file, written atomically.

    ``update(obj)`` changes in place the dict read from ``path`` (``{}`` when the file is
    absent), which is then written with :func:`write_json_atomic`. Other tools' sections
    of the file are kept; a file that is not a JSON object is refused
    (:func:`read_json_object`).
    """
    obj = read_json_object(path) if os.path.isfile(path) else {}
    update(obj)
    write_json_atomic(path, obj)
    return obj


def save_keras_atomic(model, path):
    """``model.save(path)`` through a temporary ``.keras`` file and a rename."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.keras"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def replace_dir_atomic(write_fn, path):
    """Calls ``write_fn(tmp_dir)`` then moves the result to ``path``.

    A crash inside ``write_fn`` leaves any previous ``path`` untouched and no
    half-written directory behind.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=parent)
    staged = os.path.join(tmp, "out")
    try:
        write_fn(staged)
        old = None
        if os.path.exists(path):
            old = path + ".old"
            if os.path.exists(old):
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(staged, path)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
