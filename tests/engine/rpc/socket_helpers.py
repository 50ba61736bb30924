"""What the socket-transport tests share: a long-lived engine served in-process on a
socket under ``tmp_path``, and readers of sequence-numbered frames."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from engine.rpc.history import History
from engine.rpc.socket_file import claim_socket
from engine.rpc.unix import serve_socket


@asynccontextmanager
async def serving(
    folder: Path, *, history: History | None = None, stats_interval: float | None = None
) -> AsyncIterator[Path]:
    """An engine serving on ``folder/e.sock`` until the block ends (or it shuts down)."""
    claimed = claim_socket(folder / "e.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve_socket,
                claimed,
                history=history or History(),
                stats_interval=stats_interval,
                uid=os.getuid(),
            )
        )
        yield claimed.path
        nursery.cancel_scope.cancel()


def sequence_numbers(frames: Iterable[bytes]) -> list[int]:
    """The demo server's sequence numbers (its ``!stream`` frames start with them)."""
    return [int.from_bytes(frame[:8], "big") for frame in frames]
