"""A raw view of a real ``python -m engine --stdio``: write any bytes, read typed messages."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ipc.codec import BadMessage, Message, MessageDecoder, Notification, Response, encode_request

ENGINE = [sys.executable, "-m", "engine", "--stdio"]


class RawEngine:
    """The engine's pipes, with a decoder on its stdout; no client logic at all."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._decoder = MessageDecoder()
        self.notifications: list[Notification] = []

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(data)

    async def next_message(self) -> Message | None:
        """The next message, or None at EOF. A bad message from the engine fails the test."""
        assert self.process.stdout is not None
        while True:
            try:
                msg = self._decoder.next_message()
            except BadMessage as exc:  # pragma: no cover - would be an engine bug
                raise AssertionError(f"engine sent a bad message: {exc}") from exc
            if msg is not None:
                return msg
            data = await self.process.stdout.receive_some(65536)
            if not data:
                return None
            self._decoder.receive_data(data)

    async def response(self, msgid: int) -> Response:
        """Wait for the response to ``msgid``, keeping notifications seen on the way."""
        while True:
            msg = await self.next_message()
            assert msg is not None, f"engine closed its pipe before answering {msgid}"
            if isinstance(msg, Notification):
                self.notifications.append(msg)
            elif isinstance(msg, Response) and msg.msgid == msgid:
                return msg

    async def call(self, msgid: int, method: str, params: dict[str, Any]) -> Response:
        await self.write(encode_request(msgid, method, params))
        return await self.response(msgid)


@asynccontextmanager
async def open_raw_engine(*, stderr: int | None = None) -> AsyncIterator[RawEngine]:
    """Start the engine; yields after its hello. Closing stdin on exit ends it."""
    async with trio.open_nursery() as nursery:
        run = functools.partial(
            trio.run_process,
            ENGINE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=False,
        )
        process = await nursery.start(run)
        engine = RawEngine(process)
        hello = await engine.next_message()
        assert isinstance(hello, Notification) and hello.method == "hello"
        try:
            yield engine
        finally:
            with trio.CancelScope(shield=True), trio.fail_after(10):
                await process.stdin.aclose()
                await process.wait()
