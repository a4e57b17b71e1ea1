"""Shared plumbing for the absl entry points: error handling.

Everything below ``tfssl.cli`` takes explicit arguments; only the modules in this
package read ``FLAGS``.
"""

import os
import sys

from absl import app

from tfssl.errors import UsageError, input_error_line


def run_main(main, prog=None):
    """Runs an absl ``main``; a :class:`UsageError`, or a failed in-graph input check
    (:func:`tfssl.errors.input_error_line`: a streamed file that is not an image), becomes
    one line on stderr, exit 2.

    The line reads ``PROG: error: MESSAGE``; ``prog`` defaults to the script's name.
    """

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
            name = prog or os.path.basename(sys.argv[0]) or "tfssl"
            print(f"{name}: error: {line}", file=sys.stderr)
            sys.exit(2)

    try:
        app.run(wrapped)
    except app.UsageError as e:  # unknown flag values caught by absl validators
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
