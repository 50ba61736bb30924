"""Running the CLI as a user does: a real ``python -m engine`` subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[3]
DEADLINE_SECONDS = 20
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} < (.*)$")


async def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(DEADLINE_SECONDS):
        return await trio.run_process(
            [sys.executable, "-m", "engine", *args],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=ROOT,
        )


def lines(output: bytes) -> list[str]:
    return output.decode().splitlines()


def payload(line: str) -> str:
    """The payload part of a text output line."""
    match = TEXT_LINE.match(line)
    assert match is not None, line
    return match.group(1)
