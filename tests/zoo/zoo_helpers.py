"""Helpers of the zoo tests: real tfssl command-line processes."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
CORPUS = "\n".join(
    f"line {i}: the {w} model reads text and predicts the masked {w} words again"
    for i, w in enumerate(["quick", "slow", "tiny", "large", "clever", "plain"] * 8))


def cli(module, *args, cwd=REPO):
    """A real ``python -m tfssl.cli.MODULE`` process."""
    env = dict(ENV, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.run([sys.executable, "-m", f"tfssl.cli.{module}", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def error_lines(proc, program):
    return [l for l in proc.stderr.splitlines() if l.startswith(f"{program}: error:")]
