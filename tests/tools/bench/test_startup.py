"""The start-up benchmark's parts: every contender makes the same exchange with its
server, and one that does not is an error. No timing (that is ``make bench``'s)."""

from __future__ import annotations

import os
import sys

import pytest

from tools.bench.startup import commands, reply_server, run_once


def test_the_cli_and_the_bare_script_make_the_same_exchange() -> None:
    with reply_server() as address:
        lines = commands(address)
        for name in ("bare socket", "framewire"):
            wall, cpu = run_once(lines[name], dict(os.environ), exchange=True)
            assert wall > 0 and cpu > 0


def test_a_run_without_the_reply_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without the reply"):
        run_once([sys.executable, "-c", "print('hello')"], dict(os.environ), exchange=True)
