"""die_with_parent: a tool started by a process that dies exits too (Linux)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tools.demo_server import parse_listening_line

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 10

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only"
)

# A parent that starts the demo server (which inherits the parent's stdout) and waits.
PARENT = (
    "import subprocess, sys;"
    "subprocess.run([sys.executable, '-m', 'tools.demo_server', '--port', '0'])"
)


async def test_demo_server_exits_when_its_parent_is_killed():
    parent = await trio.lowlevel.open_process(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE
    )
    try:
        with trio.fail_after(TIMEOUT):
            line = b""
            while not line.endswith(b"\n"):
                line += await parent.stdout.receive_some(1)
            _, port = parse_listening_line(line.decode())
            parent.kill()  # SIGKILL: the parent gets no chance to stop its child
            await parent.wait()
            # The server holds the pipe's other end: EOF means the server process is gone.
            while await parent.stdout.receive_some(1024):
                pass
            with pytest.raises(OSError):
                await trio.open_tcp_stream("127.0.0.1", port)
    finally:
        parent.kill()
        await parent.wait()


def test_die_with_parent_signals_at_once_when_the_parent_is_already_gone():
    # expected_parent_pid=1 is not our parent: we behave as if it had died before the call.
    code = (
        "import time; from tools.lifecycle import die_with_parent;"
        "die_with_parent(expected_parent_pid=1); time.sleep(30)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=TIMEOUT)
    assert result.returncode == -signal.SIGTERM
