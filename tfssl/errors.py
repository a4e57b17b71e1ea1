"""The one exception type for bad user input.

Library code raises :class:`UsageError` with a single line that names the problem
(which file, which argument, what was expected). The command-line entry points in
``tfssl.cli`` turn it into ``PROGRAM: error: MESSAGE`` on stderr and exit code 2.
"""


class UsageError(ValueError):
    """Bad user input: a one-line message naming the file / flag and what was expected."""
