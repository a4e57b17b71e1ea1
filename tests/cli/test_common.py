"""The command lines' shared error handling (``tfssl.cli.common.run_main``)."""

import sys

import pytest


@pytest.mark.parametrize("argv,message", [
    (["--verbosity=loud"], "flag --verbosity=loud:"),
    (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
])
def test_unparsable_flags_give_one_line_and_exit_2(monkeypatch, capsys, argv, message):
    """absl's own parser printed two 'FATAL Flags parsing error' lines and exited 1 for
    a bad value or an unknown flag (``tfssl-pretrain --epochs=abc``)."""
    from tfssl.cli.common import run_main

    monkeypatch.setattr(sys, "argv", ["tfssl-test", *argv])
    with pytest.raises(SystemExit) as exit_:
        run_main(lambda argv: pytest.fail("main ran despite the bad flag"), "tfssl-test")
    assert exit_.value.code == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tfssl-test: error: {message}"), lines
    assert out.out == ""
