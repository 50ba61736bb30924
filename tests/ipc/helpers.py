"""A raw view of a real ``python -m engine --stdio`` (write any bytes, read typed
messages), and a scripted fake engine over memory streams for the client's own logic."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from engine.rpc.handshake import hello
from ipc.codec import (
    BadMessage,
    Message,
    MessageDecoder,
    Notification,
    Request,
    Response,
    encode_notification,
    encode_request,
    encode_response,
)
from ipc.rpc import ENGINE_ARGS


class RawEngine:
    """The engine's pipes, with a decoder on its stdout; no client logic at all."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._decoder = MessageDecoder()
        self.notifications: list[Notification] = []
        self.written = 0  # bytes written to the engine's stdin so far

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(data)
        self.written += len(data)

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
            [sys.executable, *ENGINE_ARGS],
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


class FakeEngine:
    """The engine's end of a controller client, over memory streams: scripted messages
    out, the client's messages decoded in.

    ``client_stream`` is what the client gets. ``hold_writes()`` makes the client's
    writes block as on a full pipe nobody reads (the bytes wait, whole, until
    ``release_writes()``); ``break_writes()`` makes them fail as on a pipe whose reader
    is gone, while the engine-to-client direction stays open.
    """

    def __init__(self) -> None:
        self._to_client, client_receive = trio.testing.memory_stream_one_way_pair()
        client_send, self._from_client = trio.testing.memory_stream_one_way_pair()
        self.client_stream = trio.StapledStream(client_send, client_receive)
        self._decoder = MessageDecoder()
        self._released: trio.Event | None = None
        self.sent = 0  # bytes sent to the client so far

        async def pump() -> None:
            while self._released is not None:
                await self._released.wait()
            trio.testing.memory_stream_pump(client_send, self._from_client)

        client_send.send_all_hook = pump

    def hold_writes(self) -> None:
        self._released = trio.Event()

    def release_writes(self) -> None:
        if self._released is not None:
            released, self._released = self._released, None
            released.set()

    def break_writes(self) -> None:
        self._from_client.close()
        self.release_writes()

    async def send(self, data: bytes) -> None:
        await self._to_client.send_all(data)
        self.sent += len(data)

    async def next_message(self) -> Message:
        """The client's next message (the client must not have closed its stream)."""
        while (msg := self._decoder.next_message()) is None:
            self._decoder.receive_data(await self._from_client.receive_some())
        return msg

    async def handshake(self, window_bytes: int | None) -> None:
        """Send the hello; answer the client's ``flow_control`` when it asks for credit."""
        await self.send(encode_notification("hello", hello(clock_offset=0.0).to_params()))
        if window_bytes:
            request = await self.next_message()
            assert isinstance(request, Request) and request.method == "flow_control"
            await self.send(encode_response(request.msgid, None, {"window_bytes": window_bytes}))
