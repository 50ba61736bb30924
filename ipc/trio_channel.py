"""Trio controller client: drive an engine over any trio Stream, or start one and drive it.

The only trio import in ``ipc/``. A thin shell over ``ipc.rpc.ClientConnection``::

    async with open_engine_process() as client:
        opened = await client.call(Open(host="127.0.0.1", port=port))
        await client.call(Send(session_id=opened["session_id"], frames=[b"hello"]))
        async for event in client.events():
            ...

Theory of operation: one reader task decodes everything the engine sends. Responses
wake the ``call`` waiting for them; events go to a bounded channel that ``events()``
drains. By default the client asks for credit flow control (``window_bytes``) and acks
events once ``events()`` has handed them out, so at most a window of frames waits in
memory and a slow consumer does not block the reader: responses get through. With
``window_bytes=None`` the client relies on the pipe alone: when the consumer stops, the
reader stops reading the pipe and the engine stops reading its sockets, but a ``call``
then waits until the consumer drains the events queued before its response.

The event queue is bounded in both modes. Without credit it holds
``EVENT_BUFFER_WITHOUT_CREDIT`` events. With credit it holds
``window_bytes // FRAME_CREDIT_OVERHEAD + 1 + CONTROL_EVENT_ALLOWANCE`` events: every
data event (``received``/``sent``) costs at least ``FRAME_CREDIT_OVERHEAD`` and the
engine overshoots its window by at most one notification, so a full window of data
never blocks the reader; control events (state changes, stats, errors) cost no credit,
and once a consumer that does not iterate ``events()`` has let
``CONTROL_EVENT_ALLOWANCE`` of them pile up on top, the reader waits, pushing back
through the pipe exactly as without credit (and a ``call`` waits with it).

One writer task is the only task that writes the stream. ``call``, ``notify`` and the
acks of ``events()`` hand it their message over a zero-buffer (rendezvous) channel, in
FIFO order. A message the writer took is written whole (unless the client itself is
closing), and a caller cancelled while it waits for the writer has handed over nothing,
so the stream stays consistent and a stalled engine (stopped, or not reading its stdin)
never holds a caller past its deadline. When the writer finds the pipe broken the
client is gone: every waiting ``call`` and every blocked sender fails with
``EngineGone``.

Timeouts are the caller's (``trio.fail_after``); a cancelled ``call`` forgets its msgid.
An ack that ``events()`` could not hand over before it was cancelled stays owed and
goes out first the next time ``events()`` is iterated, so no credit is lost.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from ipc.codec import ErrorInfo
from ipc.errors import FramewireError, RemoteProtocolError
from ipc.rpc import (
    DEFAULT_WINDOW_BYTES,
    ENGINE_ARGS,
    FRAME_CREDIT_OVERHEAD,
    Broken,
    ClientConnection,
    CommandFailed,
    Completed,
    EventReceived,
    Failed,
    Malformed,
)
from ipc.schema import ChannelClosed, Command, Event, FlowControl, Hello, Shutdown

__all__ = [
    "CONTROL_EVENT_ALLOWANCE",
    "EVENT_BUFFER_WITHOUT_CREDIT",
    "PROCESS_EXIT_SECONDS",
    "ChannelRefused",
    "EngineClient",
    "connect_socket",
    "connect_stream",
    "open_engine_process",
]

#: Bytes per read from the engine's pipe.
READ_BYTES = 1024 * 1024
#: Events queued for ``events()`` when credit flow control is off; small, so that a
#: consumer that stops reading stops the reader (and, through the pipe, the engine).
EVENT_BUFFER_WITHOUT_CREDIT = 16
#: Control events (no credit cost) queued for ``events()`` on top of a full credit window
#: before the reader waits for the consumer; enough for bursts of opens and closes.
CONTROL_EVENT_ALLOWANCE = 4096
#: After its stdin closes the engine exits by itself; past this it is killed.
PROCESS_EXIT_SECONDS = 10.0


class ChannelRefused(FramewireError):
    """The engine closed the channel before its hello, saying why (``channel_closed``:
    another user's engine, too many controllers, shutting down)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Waiter:
    __slots__ = ("done", "outcome")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.outcome: Completed[_Waiter] | Failed[_Waiter] | None = None


class EngineClient:
    """A connection to one engine. Build it with ``connect_stream`` or
    ``open_engine_process``; do not instantiate it directly."""

    def __init__(self, stream: trio.abc.Stream, *, window_bytes: int | None) -> None:
        self._stream = stream
        self._conn = ClientConnection[_Waiter]()
        # Zero buffer: a message is handed over only when the writer takes it.
        self._outgoing_send, self._outgoing_receive = trio.open_memory_channel[bytes](0)
        self._acks_owed: collections.deque[bytes] = collections.deque()
        # With credit on, the window bounds the data events queued; room for all of them
        # means they never block the reader, and the allowance bounds the rest.
        buffer = (
            window_bytes // FRAME_CREDIT_OVERHEAD + 1 + CONTROL_EVENT_ALLOWANCE
            if window_bytes
            else EVENT_BUFFER_WITHOUT_CREDIT
        )
        self._events_send, self._events_receive = trio.open_memory_channel[tuple[Event, int]](
            buffer
        )
        self._hello: Hello | None = None
        self._gone: ErrorInfo | None = None  # why the engine is unreachable, once it is
        self.process: trio.Process | None = None

    @property
    def hello(self) -> Hello:
        """The engine's handshake (available inside the ``async with``)."""
        assert self._hello is not None
        return self._hello

    def statistics(self) -> trio.MemoryChannelStatistics:
        """The event queue's: ``current_buffer_used`` events wait for ``events()``, at
        most ``max_buffer_size`` (see the module docstring)."""
        return self._events_send.statistics()

    async def call(self, command: Command) -> Any:
        """Send a request and wait for its result (a map, as documented in ``ipc.schema``).

        Raises:
            CommandFailed: the engine answered with an error (``.type`` names it), or the
                engine went away (``.type == "EngineGone"``).
            LocalProtocolError: the command cannot be encoded (too large, bad value).
        """
        if self._gone is not None:
            raise CommandFailed(self._gone)
        waiter = _Waiter()
        msgid, data = self._conn.start_request(command, waiter)
        try:
            await self._send(data)
            await waiter.done.wait()
        finally:
            if waiter.outcome is None:
                self._conn.forget(msgid)
        outcome = waiter.outcome
        if outcome is None:
            assert self._gone is not None
            raise CommandFailed(self._gone)
        if isinstance(outcome, Failed):
            raise outcome.error
        return outcome.result

    async def notify(self, command: Command) -> None:
        """Send ``command`` as a notification (no response)."""
        await self._send(self._conn.notification(command))

    async def events(self) -> AsyncIterator[Event]:
        """Every event after the hello, in order; ends when the engine's stream ends
        (also when it died: what it sent before is handed out first).

        Each event counts as consumed when it is handed out; under credit flow control
        its ack goes out when the next event is asked for. Iterate from one task at a time.
        A loop body that awaits a ``call`` during a flood holds up to a quarter of the
        window unacknowledged meanwhile; if the answer needs the engine to send more data
        events first (``send`` emits ``sent``), consume events in another task.
        """
        while True:
            # Acks first, then the next event: a cancellation at either await loses
            # neither an event taken from the queue nor the credit of an ack.
            while self._acks_owed:
                try:
                    await self._send(self._acks_owed[0])
                except CommandFailed:
                    # A dead engine needs no ack: the events it sent before dying are
                    # still handed out, then the iteration ends (``call`` reports it).
                    self._acks_owed.clear()
                else:
                    self._acks_owed.popleft()
            try:
                event, cost = await self._events_receive.receive()
            except trio.EndOfChannel:
                return
            ack = self._conn.consumed(cost)
            if ack is not None:
                self._acks_owed.append(ack)
            yield event

    async def shutdown(self) -> None:
        """Ask the engine to close every session and exit; returns once it answered."""
        await self.call(Shutdown())

    async def _send(self, data: bytes) -> None:
        """Hand ``data`` to the writer; returns once the writer took it.

        Raises:
            CommandFailed: the engine is gone (``EngineGone``).
        """
        if self._gone is not None:
            raise CommandFailed(self._gone)
        try:
            await self._outgoing_send.send(data)
        except trio.BrokenResourceError as exc:  # the writer found the pipe broken
            raise self._engine_gone("the engine's pipe is closed") from exc

    def _engine_gone(self, why: str) -> CommandFailed:
        """Mark the engine unreachable: blocked senders and waiting calls fail."""
        if self._gone is None:
            self._gone = ErrorInfo("EngineGone", why)
        self._outgoing_receive.close()
        for waiter in self._conn.forget_all():
            waiter.done.set()
        return CommandFailed(self._gone)

    async def _serve_writer(self) -> None:
        """Write what ``_send`` hands over, one whole message at a time, until the
        engine is gone."""
        while True:
            try:
                data = await self._outgoing_receive.receive()
            except trio.ClosedResourceError:
                return
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._engine_gone("the engine's pipe is closed")
                return

    async def _serve_reader(self, *, task_status: trio.TaskStatus[None]) -> None:
        started = False
        closed: ChannelClosed | None = None  # the engine's last word, if it said one
        why = "the engine closed its pipe"
        try:
            while True:
                try:
                    data = await self._stream.receive_some(READ_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    break
                # A full read: the pipe has more, which may complete a message split here.
                self._conn.receive_data(data, more_pending=len(data) == READ_BYTES)
                while (outcome := self._conn.next_outcome()) is not None:
                    if isinstance(outcome, EventReceived):
                        if isinstance(outcome.event, Hello) and self._hello is None:
                            self._hello = outcome.event
                            if not started:
                                started = True
                                task_status.started()
                        else:
                            if isinstance(outcome.event, ChannelClosed):
                                closed = outcome.event
                                self._engine_gone(
                                    f"the engine closed this channel ({closed.reason}): "
                                    f"{closed.message}"
                                )
                            await self._events_send.send((outcome.event, outcome.cost))
                    elif isinstance(outcome, Completed | Failed):
                        outcome.waiter.outcome = outcome
                        outcome.waiter.done.set()
                    elif isinstance(outcome, Malformed):
                        raise RemoteProtocolError(f"bad message from the engine: {outcome.error}")
                    elif isinstance(outcome, Broken):
                        why = f"the engine's output broke the IPC stream: {outcome.error}"
                        raise outcome.error
        finally:
            self._engine_gone(why)
            self._events_send.close()
        if not started:
            if closed is not None:
                raise ChannelRefused(closed.reason, closed.message)
            raise RemoteProtocolError("the engine closed its pipe before saying hello")


@asynccontextmanager
async def connect_stream(
    stream: trio.abc.Stream, *, window_bytes: int | None = DEFAULT_WINDOW_BYTES
) -> AsyncIterator[EngineClient]:
    """Drive the engine at the other end of ``stream``; yields once its hello arrived.

    ``window_bytes`` turns on credit flow control (see the module docstring); ``None``
    relies on stream back-pressure alone. Leaving the block cancels the reader and the
    writer (a message being written may be cut short); it does not close ``stream``.

    Raises:
        RemoteProtocolError: the engine broke the protocol (bad message, no hello).
        ChannelRefused: the engine closed the channel at once, saying why.
    """
    client = EngineClient(stream, window_bytes=window_bytes)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client._serve_writer)
        await nursery.start(client._serve_reader)
        if window_bytes:
            await client.call(FlowControl(window_bytes=window_bytes))
        try:
            yield client
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def connect_socket(
    path: str | os.PathLike[str], *, window_bytes: int | None = DEFAULT_WINDOW_BYTES
) -> AsyncIterator[EngineClient]:
    """Drive the long-lived engine listening at ``path`` (``framewire-engine --serve-ipc``).

    Leaving the block closes the connection: this controller detaches, and the engine and
    its sessions carry on. Events come only after ``attach`` (``ipc.schema.Attach``).

    Raises:
        OSError: nothing listens at ``path`` (``FileNotFoundError``; ``ConnectionRefusedError``
            for the socket of an engine that is gone; ``PermissionError``).
        ChannelRefused: the engine refused this controller, saying why.
    """
    stream = await trio.open_unix_socket(os.fspath(path))
    async with stream, connect_stream(stream, window_bytes=window_bytes) as client:
        yield client


@asynccontextmanager
async def open_engine_process(
    *extra_args: str,
    window_bytes: int | None = DEFAULT_WINDOW_BYTES,
    stderr: int | None = None,
    command: Sequence[str] | None = None,
) -> AsyncIterator[EngineClient]:
    """Start ``python -m engine --stdio *extra_args`` and drive it.

    ``client.process`` is the ``trio.Process``. On exit the engine's stdin is closed
    (it closes its sessions and exits by itself); if it is still running after
    ``PROCESS_EXIT_SECONDS`` it is killed. ``stderr`` is passed to the process (default:
    inherited). ``command`` replaces ``[sys.executable, *ipc.rpc.ENGINE_ARGS]``.

    Raises:
        RemoteProtocolError: the engine broke the protocol or exited before its hello.
    """
    argv = [*(command or [sys.executable, *ENGINE_ARGS]), *extra_args]
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(_run_process, argv, stderr)
        try:
            assert process.stdio is not None
            async with connect_stream(process.stdio, window_bytes=window_bytes) as client:
                client.process = process
                yield client
        finally:
            with trio.CancelScope(shield=True):
                assert process.stdin is not None
                await process.stdin.aclose()
                with trio.move_on_after(PROCESS_EXIT_SECONDS):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()


async def _run_process(
    argv: list[str], stderr: int | None, *, task_status: trio.TaskStatus[trio.Process]
) -> None:
    await trio.run_process(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        check=False,
        task_status=task_status,
    )
