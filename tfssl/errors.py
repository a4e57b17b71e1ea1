"""The one exception type for bad user input.

Library code raises :class:`UsageError` with a single line that names the problem
(which file, which argument, what was expected). The command-line entry points in
``tfssl.cli`` turn it into ``PROGRAM: error: MESSAGE`` on stderr and exit code 2.
"""


# First datum of the in-graph input checks (tf.debugging.Assert in tf.data pipelines):
# their failure reaches Python as a TensorFlow error whose text carries this marker.
INPUT_ERROR = "tfssl-input-error:"


class UsageError(ValueError):
    """Bad user input: a one-line message naming the file / flag and what was expected."""


def check_number(name, value, strict=True):
    """``float(value)``, which must be finite and > 0 (``strict``) or >= 0.

    The one validation of a positive hyper-parameter (temperatures, loss weights, ...);
    the message names the argument: ``temperature=0.0: must be finite and > 0``.
    """
    import math

    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}={value!r}: must be a number") from None
    if not (math.isfinite(value) and (value > 0 if strict else value >= 0)):
        raise UsageError(f"{name}={value}: must be finite and {'>' if strict else '>='} 0")
    return value


def input_error_line(exc):
    """The one-line message of a failed in-graph input check, or None.

    TensorFlow reports ``tf.debugging.Assert(ok, [INPUT_ERROR + " what", path, why])``
    as ``assertion failed: [tfssl-input-error: what] [path] [why]``; this gives
    ``what path why`` (``unreadable image /data/cat/1.jpg: not a valid ... file``).
    """
    text = str(exc)
    start = text.find(INPUT_ERROR)
    if start < 0:
        return None
    line = text[start + len(INPUT_ERROR):].split("\n", 1)[0].strip()
    end = line.rfind("]")
    parts = (line[:end] if end >= 0 else line).split("] [")
    return " ".join(parts[:2]).strip() + "".join(parts[2:])
