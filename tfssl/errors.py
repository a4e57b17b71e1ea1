"""The one exception type for bad user input.

Library code raises :class:`UsageError` with a single line that names the problem
(which file, which argument, what was expected). The command-line entry points in
``tfssl.cli`` turn it into ``PROGRAM: error: MESSAGE`` on stderr and exit code 2.
"""


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
