"""``framewire-engine --serve-ipc``: a real process serving until SIGTERM; a second one
never takes a live engine's socket over, and replaces a dead engine's."""

from __future__ import annotations

from pathlib import Path

import trio

from ipc.schema import Ping
from ipc.trio_channel import connect_socket
from tests.engine.cli.helpers import run_cli
from tests.engine.cli.long_lived import long_lived_engine


async def test_a_live_engine_is_kept_a_dead_ones_socket_replaced_sigterm_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "e.sock"
    async with long_lived_engine(path) as first:
        assert first.stderr[0] == f"framewire-engine: serving on {path} (pid {first.process.pid})"
        second = await run_cli("--serve-ipc", str(path))
        assert second.returncode == 2
        assert f"in use by engine pid {first.process.pid}" in second.stderr.decode()
        first.process.kill()
    assert path.exists()  # a dead engine leaves its socket behind
    async with long_lived_engine(path) as third:
        assert any("replaced a stale socket" in line for line in third.stderr)
        with trio.fail_after(10):
            async with connect_socket(path) as client:
                assert (await client.call(Ping(token=5)))["token"] == 5
        assert await third.stop() == 0
    assert not path.exists() and not path.with_name("e.sock.lock").exists()
    assert any("shutting down: SIGTERM" in line for line in third.stderr)
