"""Serves ipc requests on a byte stream (the engine's stdin/stdout) and emits notifications.

Theory of operation. ``serve_rpc`` runs four kinds of task in one nursery:

- the *reader* decodes requests from the controller. Cheap commands (``ping``,
  ``get_api_info``, ``flow_control``, the ``ack`` notification) are answered inline;
  every other request runs in its own task, so a slow ``open`` never delays a ``ping``.
  At most ``MAX_CONCURRENT_REQUESTS`` run at once; past that the reader stops reading,
  which pushes back on the controller through the pipe.
- the *pump* moves engine events to the outbox. Consecutive ``received`` (or ``sent``)
  events of one session are coalesced into one notification of at most
  ``MAX_FRAMES_PER_NOTIFICATION`` frames / ``MAX_NOTIFICATION_PAYLOAD_BYTES``, so a flood
  costs one message per batch.
- the *writer* is the only task that writes to the stream. It drains the outbox with
  control messages (responses, the hello) ahead of data (events), joining messages into
  writes of up to ``WRITE_CHUNK_BYTES``.
- the *stats* task queues a ``stats`` event every ``stats_interval`` seconds.

Flow control. The outbox holds at most ``MAX_QUEUED_EVENT_BYTES`` of encoded events;
when it is full the pump waits, the engine's bounded event channel fills, and the
engine's sessions stop reading their sockets (TCP pushes back on the peers). The
outbox empties only as fast as the writer can write, that is as fast as the controller
reads the pipe. With ``flow_control(window_bytes)`` the writer additionally stops
sending ``received``/``sent`` events once ``window_bytes`` of credit
(``ipc.rpc.credit_cost``) are unacknowledged; other events keep their order behind them.
Responses are never held back: they jump the queue (a response may therefore arrive
before events the engine queued earlier). They are bounded too: while
``MAX_QUEUED_CONTROL_BYTES`` of them wait for the writer, the reader stops reading
requests, so a controller that never reads its replies cannot grow the engine.

Bad input from the controller gets an error response when it has a msgid, a stderr
line otherwise, and never ends the server. The server ends when the controller's stream
ends (EOF: its process died; ``open_engine`` then closes the sessions within its grace
period) or after ``shutdown`` (sessions closed and their last events flushed within
``SHUTDOWN_DEADLINE_SECONDS``). ``shutdown`` cancels the requests still running (or
waiting for a slot) and answers each with a ``ShuttingDown`` error after the
``shutdown`` response, since the controller still listens; after EOF nobody does, so
they get no answer. Until the engine exits the reader keeps reading: ``ack`` still
returns credit (the last events may be more than a window), inline commands are still
answered, and every other request gets ``ShuttingDown``.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import fcntl
import functools
import importlib.metadata
import itertools
import logging
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import trio

from engine.errors import ConnectFailed
from engine.framing import PRESETS, FramingSpec
from ipc.codec import (
    MAX_MESSAGE_BYTES,
    BadMessage,
    ErrorInfo,
    Message,
    MessageDecoder,
    Notification,
    Request,
    decode_command,
    encode_notification,
    encode_response,
)
from ipc.errors import FramewireError, SchemaError
from ipc.rpc import frames_credit
from ipc.schema import (
    COMMANDS,
    EVENTS,
    PROTOCOL_VERSION,
    Abort,
    Ack,
    Close,
    Command,
    Event,
    FlowControl,
    GetApiInfo,
    Hello,
    ListSessions,
    Open,
    Ping,
    Received,
    Send,
    Sent,
    Shutdown,
    Stats,
)

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = [
    "MAX_CONCURRENT_REQUESTS",
    "MAX_FRAMES_PER_NOTIFICATION",
    "MAX_IPC_FRAME_LENGTH",
    "MAX_NOTIFICATION_PAYLOAD_BYTES",
    "MAX_QUEUED_CONTROL_BYTES",
    "MAX_QUEUED_EVENT_BYTES",
    "SHUTDOWN_DEADLINE_SECONDS",
    "SHUTTING_DOWN",
    "api_info",
    "hello",
    "run_stdio",
    "serve_engine",
    "serve_rpc",
]

log = logging.getLogger("framewire.rpc")

#: Bytes per read from the controller: requests are small; a big ``send`` takes a few.
READ_BYTES = 256 * 1024
#: Largest single write to the controller (several messages joined): big enough that
#: syscalls vanish from the profile, small enough to keep latency for control traffic.
WRITE_CHUNK_BYTES = 1024 * 1024
#: Encoded events waiting for the writer; past this the pump waits (back-pressure).
MAX_QUEUED_EVENT_BYTES = 4 * 1024 * 1024
#: Encoded responses waiting for the writer; past this the reader stops reading requests,
#: so a controller that sends requests but does not read its replies cannot grow them.
MAX_QUEUED_CONTROL_BYTES = 1024 * 1024
#: Coalescing caps for one ``received``/``sent`` notification (Neovim batches redraws
#: the same way); both are far below the codec's MAX_ARRAY_LEN / MAX_MESSAGE_BYTES.
MAX_FRAMES_PER_NOTIFICATION = 8192
MAX_NOTIFICATION_PAYLOAD_BYTES = 1024 * 1024
#: Engine events (one socket read of up to 1 MiB each) between the sessions and the pump.
#: The pump coalesces and the outbox queues 4 MiB, so a few suffice to keep the pipe busy;
#: each one more costs about 1.5 MB of frame objects while the controller stalls.
ENGINE_EVENT_BUFFER = 4
#: Requests running at once; past this the reader stops reading the pipe.
MAX_CONCURRENT_REQUESTS = 1024
#: A session's max_frame_length must let one frame travel in one IPC message.
MAX_IPC_FRAME_LENGTH = MAX_MESSAGE_BYTES - 64 * 1024
#: Lines logged about bad input per second at most; the rest are counted.
MAX_BAD_INPUT_LINES_PER_SECOND = 20
#: Shutdown (on EOF or ``shutdown``) closes the engine and flushes within this.
SHUTDOWN_DEADLINE_SECONDS = 5.0
#: The answer to requests cancelled by ``shutdown``.
SHUTTING_DOWN = ErrorInfo("ShuttingDown", "the engine is shutting down")
#: Linux lets a pipe grow from 64 KiB; a bigger pipe means fewer wake-ups per MiB.
PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = 1031


def _engine_version() -> str:
    try:
        return importlib.metadata.version("framewire")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def hello(*, clock_offset: float) -> Hello:
    """The handshake: protocol and engine versions, pid, methods, events, presets."""
    return Hello(
        protocol_version=PROTOCOL_VERSION,
        engine_version=_engine_version(),
        pid=os.getpid(),
        methods=sorted(COMMANDS),
        events=sorted(EVENTS),
        framing_presets={name: spec.to_wire() for name, spec in PRESETS.items()},
        clock_offset=clock_offset,
    )


def api_info() -> dict[str, Any]:
    """What ``framewire-engine --api-info`` prints: the hello's fields. Outside a running
    engine there is no engine clock, so ``clock_offset`` is 0.0 here."""
    return hello(clock_offset=0.0).to_params()


def _error_info(exc: FramewireError) -> ErrorInfo:
    data: dict[str, Any] = {}
    if isinstance(exc, ConnectFailed):
        data["reason"] = exc.reason
    return ErrorInfo(type(exc).__name__, str(exc), data)


class _Outbox:
    """What the writer sends next: control messages first, then events under credit."""

    def __init__(self) -> None:
        self._control: collections.deque[bytes] = collections.deque()
        self._control_bytes = 0
        self._control_space = trio.Event()
        self._events: collections.deque[tuple[bytes, int]] = collections.deque()
        self._event_bytes = 0
        self._window: int | None = None
        self._unacked = 0
        self._wakeup = trio.Event()
        self._space = trio.Event()
        self._idle = trio.Event()
        self._writing = False

    def statistics(self) -> dict[str, int]:
        return {
            "outbox_events": len(self._events),
            "outbox_event_bytes": self._event_bytes,
            "window_bytes": self._window or 0,
            "unacked_bytes": self._unacked,
        }

    def put_control(self, data: bytes) -> None:
        self._control.append(data)
        self._control_bytes += len(data)
        self._wakeup.set()

    async def wait_control_space(self) -> None:
        """Wait while ``MAX_QUEUED_CONTROL_BYTES`` of responses wait for the writer."""
        while self._control_bytes >= MAX_QUEUED_CONTROL_BYTES:
            await self._control_space.wait()

    async def put_event(self, data: bytes, cost: int) -> None:
        """Queue an encoded event; waits while the queue is full (back-pressure)."""
        while self._event_bytes >= MAX_QUEUED_EVENT_BYTES:
            await self._space.wait()
        self._events.append((data, cost))
        self._event_bytes += len(data)
        self._wakeup.set()

    def set_window(self, window_bytes: int) -> None:
        self._window = window_bytes
        self._unacked = 0
        self._wakeup.set()

    def ack(self, nbytes: int) -> None:
        self._unacked = max(0, self._unacked - nbytes)
        self._wakeup.set()

    def _take(self) -> list[bytes]:
        chunks: list[bytes] = []
        size = 0
        while self._control and size < WRITE_CHUNK_BYTES:
            data = self._control.popleft()
            chunks.append(data)
            size += len(data)
        self._control_bytes -= size
        if self._control_bytes < MAX_QUEUED_CONTROL_BYTES:
            self._control_space.set()
            self._control_space = trio.Event()
        window = self._window
        while self._events and size < WRITE_CHUNK_BYTES:
            data, cost = self._events[0]
            if cost and window is not None:
                if self._unacked >= window:
                    break
                self._unacked += cost
            self._events.popleft()
            self._event_bytes -= len(data)
            chunks.append(data)
            size += len(data)
        if self._event_bytes < MAX_QUEUED_EVENT_BYTES:
            self._space.set()
            self._space = trio.Event()
        return chunks

    def discard(self) -> None:
        """Drop everything queued: the stream is gone (wakes ``wait_flushed``)."""
        self._control.clear()
        self._control_bytes = 0
        self._control_space.set()
        self._events.clear()
        self._event_bytes = 0
        self._writing = False
        self._idle.set()

    async def wait_flushed(self) -> None:
        """Wait until everything queued so far has been written (credit permitting)."""
        while self._control or self._events or self._writing:
            await self._idle.wait()

    async def serve_writer(self, stream: trio.abc.SendStream) -> None:
        """Write forever; returns never (cancel it). Raises trio.BrokenResourceError when
        the controller stopped reading for good."""
        while True:
            chunks = self._take()
            if chunks:
                self._writing = True
                await stream.send_all(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                self._writing = False
            else:
                self._idle.set()
                self._idle = trio.Event()
                await self._wakeup.wait()
                self._wakeup = trio.Event()


class _Batch:
    """Coalesces consecutive frame events of one kind and session into notifications."""

    __slots__ = ("at", "frames", "kind", "nbytes", "session_id")

    def __init__(self, event: Received | Sent) -> None:
        self.kind: type[Received | Sent] = type(event)
        self.session_id = event.session_id
        self.at = event.at
        self.frames: list[bytes] = []
        self.nbytes = 0

    def accepts(self, event: Event) -> bool:
        return (
            isinstance(event, Received | Sent)
            and type(event) is self.kind
            and event.session_id == self.session_id
        )

    @property
    def full(self) -> bool:
        return (
            len(self.frames) >= MAX_FRAMES_PER_NOTIFICATION
            or self.nbytes >= MAX_NOTIFICATION_PAYLOAD_BYTES
        )

    def encode(self) -> tuple[bytes, int]:
        params = {"session_id": self.session_id, "frames": self.frames, "at": self.at}
        cost = frames_credit(self.nbytes, len(self.frames))
        return encode_notification(self.kind.METHOD, params), cost


class RpcServer:
    """One controller connection: see the module docstring."""

    def __init__(self, engine: Engine, *, stats_interval: float | None) -> None:
        self._engine = engine
        self._stats_interval = stats_interval
        self._outbox = _Outbox()
        self._requests = trio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self._shutdown_requested = trio.Event()
        # Cancelled by `shutdown` or when the controller stops reading; may be cancelled
        # before the reader enters it (then the reader stops at once).
        self._reader_scope = trio.CancelScope()
        # Kept across the reader's restart after `shutdown`: a message may be half read.
        self._decoder = MessageDecoder()
        # At shutdown the pump forwards what the engine still holds, then stops.
        self._draining = False
        self._pump_wait = trio.CancelScope()
        self._pump_done = trio.Event()
        self._clock_offset = time.time() - trio.current_time()
        self._bad_messages = 0
        self._warn_window_start = -math.inf
        self._warn_count = 0
        self._warn_suppressed = 0
        self._handlers: dict[type[Command], Callable[[Any], Awaitable[Any]]] = {
            Open: self._open,
            Send: self._send,
            Close: self._close,
            Abort: self._abort,
            ListSessions: self._list_sessions,
            Shutdown: self._shutdown,
        }

    async def serve(
        self,
        receive_stream: trio.abc.ReceiveStream,
        send_stream: trio.abc.SendStream,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._outbox.put_control(
            encode_notification(Hello.METHOD, hello(clock_offset=self._clock_offset).to_params())
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._serve_writer, send_stream)
            nursery.start_soon(self._serve_events)
            if self._stats_interval:
                nursery.start_soon(self._serve_stats, self._stats_interval)
            task_status.started()
            async with trio.open_nursery() as requests:
                await self._serve_reader(receive_stream, requests)
                requests.cancel_scope.cancel()
            # After EOF nobody listens: return, and the caller's open_engine() closes the
            # sessions. After `shutdown` the controller still reads: close the sessions
            # here and flush their last events to it, all within the deadline, reading
            # its acks (and refusing its requests) meanwhile.
            if self._shutdown_requested.is_set():
                nursery.start_soon(self._read_requests, receive_stream, None)
                with trio.move_on_after(SHUTDOWN_DEADLINE_SECONDS) as deadline:
                    await self._close_all_sessions()
                    self._draining = True
                    self._pump_wait.cancel()
                    await self._pump_done.wait()
                    await self._outbox.wait_flushed()
                if deadline.cancelled_caught:
                    log.warning("shutdown deadline passed; exiting anyway")
            nursery.cancel_scope.cancel()

    async def _close_all_sessions(self) -> None:
        """Close every session gracefully; abort those still open after a grace period.

        Not ``engine.aclose()``: that cancels the scope ``open_engine`` runs its body in,
        which is where this server runs, so nothing could be flushed after it.
        """

        async def close(session_id: int) -> None:
            with trio.move_on_after(SHUTDOWN_DEADLINE_SECONDS / 2):
                with contextlib.suppress(FramewireError):
                    await self._engine.close(session_id)
                return
            with contextlib.suppress(FramewireError):
                await self._engine.abort(session_id)

        async with trio.open_nursery() as nursery:
            for info in self._engine.sessions():
                nursery.start_soon(close, info["session_id"])

    # -- reading requests

    async def _serve_reader(self, stream: trio.abc.ReceiveStream, requests: trio.Nursery) -> None:
        with self._reader_scope:
            await self._read_requests(stream, requests)

    async def _read_requests(
        self, stream: trio.abc.ReceiveStream, requests: trio.Nursery | None
    ) -> None:
        """Read and dispatch until EOF; ``requests`` is None once shutting down.

        Messages already buffered are dispatched before reading more: the reader restarted
        after ``shutdown`` may find some left by the one it replaces (an ack among them
        must not wait for the controller's next write).
        """
        decoder = self._decoder
        while True:
            while True:
                # Replies wait for the writer: stop reading while too many do.
                await self._outbox.wait_control_space()
                try:
                    msg = decoder.next_message()
                except BadMessage as exc:
                    self._on_bad_message(exc, exc.msgid)
                    continue
                if msg is None:
                    break
                await self._dispatch(msg, requests)
            try:
                data = await stream.receive_some(READ_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                if decoder.buffered_bytes:
                    log.warning("controller closed the pipe mid-message")
                log.info("controller closed the pipe; shutting down")
                return
            decoder.receive_data(data)

    def _on_bad_message(self, exc: SchemaError, msgid: int | None) -> None:
        self._bad_messages += 1
        if msgid is not None:
            self._outbox.put_control(encode_response(msgid, _error_info(exc)))
        else:
            self._warn("bad message on the pipe: %s", exc)

    def _warn(self, message: str, *args: object) -> None:
        """Log a line about bad input, at most ``MAX_BAD_INPUT_LINES_PER_SECOND``: a
        megabyte of garbage must not become a million stderr lines."""
        now = trio.current_time()
        if now - self._warn_window_start >= 1.0:
            if self._warn_suppressed:
                log.warning("(%d more lines about bad input suppressed)", self._warn_suppressed)
            self._warn_window_start, self._warn_count, self._warn_suppressed = now, 0, 0
        if self._warn_count < MAX_BAD_INPUT_LINES_PER_SECOND:
            self._warn_count += 1
            log.warning(message, *args)
        else:
            self._warn_suppressed += 1

    async def _dispatch(self, msg: Message, requests: trio.Nursery | None) -> None:
        if isinstance(msg, Notification):
            if msg.method != Ack.METHOD:
                self._warn("ignoring notification %r from the controller", msg.method)
                return
            try:
                ack = Ack.from_params(msg.params)
            except SchemaError as exc:
                self._on_bad_message(exc, None)
                return
            self._outbox.ack(ack.nbytes)
            return
        if not isinstance(msg, Request):
            self._warn("ignoring a response from the controller (the engine sends no requests)")
            return
        try:
            command = decode_command(msg)
        except SchemaError as exc:
            self._on_bad_message(exc, msg.msgid)
            return
        if isinstance(command, Ping):
            self._reply(msg.msgid, {"token": command.token, "at": trio.current_time()})
        elif isinstance(command, GetApiInfo):
            self._reply(msg.msgid, hello(clock_offset=self._clock_offset).to_params())
        elif isinstance(command, FlowControl):
            if command.window_bytes <= 0:
                self._on_bad_message(
                    SchemaError("flow_control: window_bytes must be > 0"), msg.msgid
                )
            else:
                self._outbox.set_window(command.window_bytes)
                self._reply(msg.msgid, {"window_bytes": command.window_bytes})
        elif isinstance(command, Ack):
            self._on_bad_message(SchemaError("ack is a notification, not a request"), msg.msgid)
        elif requests is None or self._shutdown_requested.is_set():
            self._outbox.put_control(encode_response(msg.msgid, SHUTTING_DOWN))
        else:
            try:
                await self._requests.acquire()
            except trio.Cancelled:
                self._answer_cancelled(msg.msgid)
                raise
            requests.start_soon(self._run_request, msg.msgid, command)

    def _reply(self, msgid: int, result: Any) -> None:
        self._outbox.put_control(encode_response(msgid, None, result))

    async def _run_request(self, msgid: int, command: Command) -> None:
        try:
            result = await self._handlers[type(command)](command)
            # Encoded here: a result too large for one message (a session list with long
            # labels) is this request's error, like any other.
            reply = encode_response(msgid, None, result)
        except FramewireError as exc:
            reply = encode_response(msgid, _error_info(exc))
        except trio.Cancelled:
            self._answer_cancelled(msgid)
            raise
        finally:
            self._requests.release()
        self._outbox.put_control(reply)

    def _answer_cancelled(self, msgid: int) -> None:
        """Answer a request cancelled by ``shutdown`` (synchronously: it is being
        cancelled). A cancel for any other reason means nobody listens any more."""
        if self._shutdown_requested.is_set():
            self._outbox.put_control(encode_response(msgid, SHUTTING_DOWN))

    # -- commands

    async def _open(self, command: Open) -> dict[str, Any]:
        spec = FramingSpec.from_wire(command.framing)
        if spec.max_frame_length > MAX_IPC_FRAME_LENGTH:
            raise SchemaError(
                f"open: max_frame_length {spec.max_frame_length} > {MAX_IPC_FRAME_LENGTH}, "
                "the largest frame one IPC message carries"
            )
        if not 1 <= command.port <= 65535:
            raise SchemaError(f"open: port {command.port} out of range")
        if not command.host or not command.connect_timeout > 0:
            raise SchemaError("open: host must not be empty and connect_timeout must be > 0")
        session_id = await self._engine.connect(
            command.host,
            command.port,
            framing=spec,
            connect_timeout=command.connect_timeout,
            label=command.label,
        )
        result: dict[str, Any] = {"session_id": session_id}
        # One lookup, not a scan of every session: opening n sessions stays O(n).
        info = self._engine.describe(session_id)
        if info is not None:  # None: it ended already (the peer closed at once)
            result.update(local=info["local"], peer=info["peer"])
        return result

    async def _send(self, command: Send) -> dict[str, Any]:
        await self._engine.send(command.session_id, command.frames)
        return {"frames": len(command.frames), "bytes": sum(map(len, command.frames))}

    async def _close(self, command: Close) -> dict[str, Any]:
        await self._engine.close(command.session_id)
        return {}

    async def _abort(self, command: Abort) -> dict[str, Any]:
        await self._engine.abort(command.session_id)
        return {}

    async def _list_sessions(self, command: ListSessions) -> dict[str, Any]:
        return {"sessions": self._engine.sessions()}

    async def _shutdown(self, command: Shutdown) -> dict[str, Any]:
        self._shutdown_requested.set()
        self._reader_scope.cancel()
        return {}

    # -- writing

    async def _serve_writer(self, stream: trio.abc.SendStream) -> None:
        try:
            await self._outbox.serve_writer(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The controller closed its end: nobody is listening, so stop reading too.
            log.info("controller stopped reading the pipe; shutting down")
            self._outbox.discard()
            self._reader_scope.cancel()

    async def _serve_events(self) -> None:
        try:
            await self._pump_events()
        finally:
            self._pump_done.set()

    async def _pump_events(self) -> None:
        events = self._engine.events
        batch: _Batch | None = None
        while True:
            try:
                event = events.receive_nowait()
            except trio.EndOfChannel:
                return
            except trio.WouldBlock:
                if self._draining:
                    return  # shutting down and every event was forwarded
                self._pump_wait = trio.CancelScope()
                with self._pump_wait:
                    try:
                        event = await events.receive()
                    except trio.EndOfChannel:
                        return
                if self._pump_wait.cancelled_caught:
                    continue
            while True:
                if isinstance(event, Received | Sent):
                    if batch is not None and not batch.accepts(event):
                        await self._flush(batch)
                        batch = None
                    batch = await self._add_frames(batch, event)
                else:
                    if batch is not None:
                        await self._flush(batch)
                        batch = None
                    await self._outbox.put_event(
                        encode_notification(event.METHOD, event.to_params()), 0
                    )
                try:
                    event = events.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if batch is not None:
                await self._flush(batch)
                batch = None

    async def _add_frames(self, batch: _Batch | None, event: Received | Sent) -> _Batch:
        """Append ``event``'s frames to ``batch``, flushing each time it fills up.

        Strategy: one socket read brings ~10,000 small frames, more than one notification
        holds, so the split must not cost Python work per frame: slices by count, and a
        bisect over the running byte total (both C loops) where the byte cap bites.
        """
        frames = event.frames
        start = 0
        while start < len(frames):
            if batch is None:
                batch = _Batch(event)
            piece = frames[start : start + MAX_FRAMES_PER_NOTIFICATION - len(batch.frames)]
            room = MAX_NOTIFICATION_PAYLOAD_BYTES - batch.nbytes
            nbytes = sum(map(len, piece))
            if nbytes > room:
                totals = list(itertools.accumulate(map(len, piece)))
                cut = bisect.bisect_right(totals, room)
                if cut == 0 and not batch.frames:
                    cut = 1  # one frame larger than the cap travels alone
                piece = piece[:cut]
                nbytes = totals[cut - 1] if cut else 0
            batch.frames += piece
            batch.nbytes += nbytes
            start += len(piece)
            if batch.full or start < len(frames):
                await self._flush(batch)
                batch = None
        return batch if batch is not None else _Batch(event)

    async def _flush(self, batch: _Batch) -> None:
        if batch.frames:
            await self._outbox.put_event(*batch.encode())

    async def _serve_stats(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            stats = self._engine.statistics()
            extra: dict[str, Any] = dict(self._outbox.statistics())
            extra["bad_messages"] = self._bad_messages
            event = Stats(
                sessions=stats.sessions,
                frames_in=stats.frames_in,
                bytes_in=stats.bytes_in,
                frames_out=stats.frames_out,
                bytes_out=stats.bytes_out,
                at=trio.current_time(),
                extra=extra,
            )
            await self._outbox.put_event(encode_notification(event.METHOD, event.to_params()), 0)


async def serve_rpc(
    engine: Engine,
    receive_stream: trio.abc.ReceiveStream,
    send_stream: trio.abc.SendStream,
    *,
    stats_interval: float | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve one controller until its stream ends or it sends ``shutdown``.

    The hello is the first message written. After ``shutdown`` every session has been
    closed and its last events flushed (within ``SHUTDOWN_DEADLINE_SECONDS``); after EOF
    it returns at once and the caller's ``open_engine`` closes the sessions.
    """
    await RpcServer(engine, stats_interval=stats_interval).serve(
        receive_stream, send_stream, task_status=task_status
    )


def _take_stdio() -> tuple[int, int]:
    """Keep the real stdin/stdout for IPC only; point fds 0/1 and sys.stdout elsewhere.

    A stray ``print`` (ours or a library's) then lands on stderr instead of corrupting
    the stream, and nothing else can read our requests.
    """
    sys.stdout.flush()
    ipc_in, ipc_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    with contextlib.suppress(OSError):  # Linux only, and only for pipes: best effort
        fcntl.fcntl(ipc_out, _F_SETPIPE_SZ, PIPE_BYTES)
    return ipc_in, ipc_out


@contextlib.contextmanager
def _blocking_restored(*fds: int) -> Iterator[None]:
    """Undo FdStream's O_NONBLOCK on the way out.

    The flag lives on the file description, which we share with whoever handed us the
    fd (with an interactive shell, the terminal); leaving it set would break them.
    """
    kept = [(os.dup(fd), os.get_blocking(fd)) for fd in fds]
    try:
        yield
    finally:
        for fd, blocking in kept:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
            os.close(fd)


async def serve_engine(
    receive_stream: trio.abc.ReceiveStream,
    send_stream: trio.abc.SendStream,
    *,
    stats_interval: float | None = None,
) -> None:
    """Run an engine for one controller: ``serve_rpc`` until EOF or ``shutdown``, then
    close every session (within ``open_engine``'s deadline).

    Once ``serve_rpc`` has returned nobody reads the engine's events; a task discards
    them while the sessions close, or each one would wait ``FINAL_EVENT_GRACE_SECONDS``
    to hand its last event to a reader that is gone.
    """
    from engine.engine import open_engine

    async with (
        trio.open_nursery() as nursery,
        open_engine(event_buffer=ENGINE_EVENT_BUFFER) as engine,
    ):
        await serve_rpc(engine, receive_stream, send_stream, stats_interval=stats_interval)
        nursery.start_soon(_discard_events, engine.events)


async def _discard_events(events: trio.MemoryReceiveChannel[Event]) -> None:
    """Read ``events`` until the engine closes it (after its last session ended)."""
    async for _ in events:
        pass


async def _serve_stdio(ipc_in: int, ipc_out: int, stats_interval: float | None) -> None:
    async with (
        trio.lowlevel.FdStream(ipc_in) as receive_stream,
        trio.lowlevel.FdStream(ipc_out) as send_stream,
    ):
        await serve_engine(receive_stream, send_stream, stats_interval=stats_interval)


def run_stdio(args: argparse.Namespace) -> int:
    """``framewire-engine --stdio``: serve the controller on stdin/stdout until EOF.

    Returns the process exit code (0 after EOF or ``shutdown``).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="framewire-engine: %(message)s"
        )
    ipc_in, ipc_out = _take_stdio()
    interval = getattr(args, "stats_interval", None)
    with _blocking_restored(ipc_in, ipc_out):
        trio.run(functools.partial(_serve_stdio, ipc_in, ipc_out, interval or None))
    return 0
