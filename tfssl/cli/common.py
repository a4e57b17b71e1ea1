"""Shared plumbing for the absl entry points: error handling.

Everything below ``tfssl.cli`` takes explicit arguments; only the modules in this
package read ``FLAGS``.
"""

import os
import sys

from absl import app

from tfssl.errors import UsageError, input_error_line


def run_main(main, prog=None):
    """Runs an absl ``main``; a :class:`UsageError`, a flag absl cannot parse (a bad
    value, an unknown flag), or a failed in-graph input check
    (:func:`tfssl.errors.input_error_line`: a streamed file that is not an image) becomes
    one line on stderr, exit 2.

    The line reads ``PROG: error: MESSAGE``; ``prog`` defaults to the script's name.
    """
    name = prog or os.path.basename(sys.argv[0]) or "tfssl"

    def fail(message):
        print(f"{name}: error: {' '.join(str(message).split())}", file=sys.stderr)
        sys.exit(2)

    def parse_flags(argv):
        from absl import flags

        try:
            return flags.FLAGS(argv)
        except flags.Error as e:  # absl would print two FATAL lines and exit 1
            fail(e)

    def wrapped(argv):
        from absl import flags, logging

        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # TF's INFO chatter off by default
        try:
            return main(argv)
        except Exception as e:  # noqa: BLE001 - only bad input is turned into a line
            line = str(e) if isinstance(e, UsageError) else input_error_line(e)
            if line is None:
                raise
            fail(line)

    try:
        app.run(wrapped, flags_parser=parse_flags)
    except app.UsageError as e:  # unknown flag values caught by absl validators
        fail(e)
