"""The stdio transport: the real stdin/stdout carry IPC and nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from ipc.schema import Ping
from ipc.trio_channel import open_engine_process


async def test_stray_print_goes_to_stderr_not_the_ipc_stream(tmp_path: Path) -> None:
    # The engine's hello is built after stdout was taken over; a print there must not
    # corrupt the stream.
    script = (
        "import sys, engine.rpc.connection as c, engine.rpc.stdio as s\n"
        "original = c.hello\n"
        "def noisy(**kw):\n"
        "    print('stray print from a library')\n"
        "    return original(**kw)\n"
        "c.hello = noisy\n"
        "sys.exit(s.run_stdio(None))\n"
    )
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr, trio.fail_after(20):
        async with open_engine_process(
            stderr=stderr.fileno(), command=[sys.executable, "-c", script]
        ) as client:
            assert (await client.call(Ping(token=1)))["token"] == 1
    assert "stray print from a library" in log.read_text()
