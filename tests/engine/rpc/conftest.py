"""The ``setup`` fixture of the RPC tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.engine.rpc.helpers import open_echo_session
from tests.ipc.helpers import RawEngine, open_raw_engine
from tools.demo_server import serve_demo


@pytest.fixture
async def setup(
    nursery: trio.Nursery, tmp_path: Path
) -> AsyncIterator[tuple[RawEngine, int, Path]]:
    """An engine (stderr to a file) with one live echo session."""
    port = await nursery.start(serve_demo)
    log = tmp_path / "engine-stderr.txt"
    with log.open("wb") as stderr:
        async with open_raw_engine(stderr=stderr.fileno()) as engine:
            session_id = await open_echo_session(engine, port)
            yield engine, session_id, log
