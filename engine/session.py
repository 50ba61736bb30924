"""One TCP session: connect, a reader and a writer around ``FrameDecoder``.

Theory of operation. ``Session.run`` is started in the engine's nursery with
``start_soon``, and ``Engine.connect`` waits for it in ``wait_connected``; everything the
session does happens inside that task:

1. emit ``Connecting``; connect (bounded by the connect timeout). On failure emit
   ``ConnectFailed``; ``wait_connected`` raises ``engine.errors.ConnectFailed``, so the
   error surfaces from ``Engine.connect``;
2. emit ``Connected``, wake ``wait_connected``;
3. open the session's own nursery; its body is the **reader** (``receive_frames``: large
   reads, whole chunks decoded at once, one ``Received`` event per read). The **writer**
   (takes queued sends one by one, emits ``Sent``, writes them) is a task started in that
   nursery by the first ``send`` or ``close``, so an idle session is one task;
4. the session ends when the peer closes, a task hits an error, or someone calls
   ``close``/``abort``/``shutdown``: ``_end(by)`` records the first reason and cancels the
   session's cancel scope, which cancels exactly this session's tasks;
5. the socket is closed (with ``SO_LINGER`` 0 for an abort, so the peer sees a reset);
   ``SessionError`` is emitted if a task failed, then ``Closed`` with the final counters.
   A bad peer or a failed socket ends only its own session, as these two events: the
   reader and writer catch protocol and I/O errors, and anything else (a bug) propagates.

Flow control: the reader ``await``s the bounded event channel, so a consumer that falls
behind stops the reads and TCP pushes back on the peer. The writer takes one send at a
time through an unbuffered channel, so a peer that never reads makes ``send`` wait.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import ipaddress
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from engine.errors import ConnectFailed, SessionBroken, SessionClosed
from engine.readiness import ReadinessWatcher
from ipc import schema
from ipc.diagnosis import Diagnosis, Situation, diagnose
from ipc.errors import FrameTooLarge, RemoteProtocolError, TruncatedFrame
from ipc.framing import FrameDecoder, FramingSpec
from ipc.schema import ClosedBy, ConnectFailReason, SessionErrorKind

__all__ = [
    "FINAL_EVENT_GRACE_SECONDS",
    "LARGE_FRAME_BYTES",
    "MAX_READ_BYTES",
    "RECEIVE_BYTES",
    "Counters",
    "Session",
    "SessionState",
    "connect_failure",
    "open_tcp_stream",
    "receive_frames",
]

#: Bytes asked for per read. Large reads are what make 1 MiB frames fast (with 64 KiB
#: reads a 1 MiB frame takes 16 trips through the scheduler) and let one read carry
#: thousands of small frames; the kernel returns what it has, so small traffic is not
#: delayed. asyncio reads 256 KiB (``max_size`` of its selector transports); Twisted 64 KiB.
RECEIVE_BYTES = 1 << 20

#: Frames from this size up are read with exact-size reads (see ``receive_frames``).
LARGE_FRAME_BYTES = 256 * 1024

#: Largest single read, even for the rest of a larger body: each read allocates what it
#: asks for (then gives back what did not arrive).
MAX_READ_BYTES = 16 * 1024 * 1024

#: How long a session that is ending may wait for the consumer to take its final event
#: (``Closed``) when it is being cancelled; after that the event is dropped so shutdown
#: keeps its deadline.
FINAL_EVENT_GRACE_SECONDS = 2.0

Emit = Callable[[schema.Event], Awaitable[None]]


class SessionState(enum.Enum):
    """Where a session is in its life; the values are the IPC ``state`` strings."""

    #: Created; the TCP connection is being made.
    CONNECTING = "connecting"
    #: Connected; reading and writing.
    CONNECTED = "connected"
    #: ``close``/``abort``/``shutdown`` was asked for; new sends are refused.
    CLOSING = "closing"
    #: Over; the ``Closed`` event was (or is being) emitted.
    CLOSED = "closed"
    #: The connection could not be made.
    FAILED = "failed"


@dataclass(slots=True)
class Counters:
    """Frames and bytes moved (payload bytes, headers not counted)."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0


async def receive_frames(
    stream: trio.abc.ReceiveStream,
    decoder: FrameDecoder,
    deliver: Callable[[list[bytes]], Awaitable[object]],
    *,
    receive_bytes: int = RECEIVE_BYTES,
) -> None:
    """The receive loop: read ``stream`` until EOF, ``await deliver(batch)`` once per read.

    ``batch`` holds every frame completed by that read (never empty). This is the whole
    receive path of a session, exposed so benchmarks can drive it directly.

    Returns at EOF on a frame boundary.

    Raises:
        FrameTooLarge, TruncatedFrame, RemoteProtocolError: the peer broke the framing
            (frames before the error have been delivered).
        trio.BrokenResourceError: the connection failed (``__cause__`` is the OSError).
    """
    # Strategy: small frames come many per read, so reads are large (receive_bytes). A
    # large frame is read with its boundaries in mind: once its header is known, the
    # rest of its body is asked for exactly, and after a large frame the next header is
    # read on its own. A body that arrives in one read then *is* the frame (no copy),
    # which is what keeps 1 MiB frames close to a blocking socket's speed.
    receive_some = stream.receive_some
    feed = decoder.feed
    header_size = decoder.spec.min_header_size
    size = receive_bytes
    while True:
        data = await receive_some(size)
        batch = feed(data)
        if batch:
            await deliver(batch)
        if not data:
            return
        if decoder.failed:
            decoder.frames()  # raises the error found after this batch
        missing = decoder.frame_bytes_missing
        if missing >= LARGE_FRAME_BYTES:
            size = min(missing, MAX_READ_BYTES)
        elif not missing and batch and len(batch[-1]) >= LARGE_FRAME_BYTES:
            size = header_size
        else:
            size = receive_bytes


@dataclass(eq=False)
class _Outgoing:
    """One ``send`` call on its way to the writer task."""

    frames: Sequence[bytes]
    data: bytes
    done: trio.Event = field(default_factory=trio.Event)
    error: Exception | None = None


class Session:
    """One TCP session. Created and driven by ``Engine``; not for direct use."""

    # Slots: an engine holds thousands of these.
    __slots__ = (
        "_closed_by",
        "_connect_done",
        "_current",
        "_decoder",
        "_emit",
        "_error",
        "_nursery",
        "_on_end",
        "_outbox_receive",
        "_outbox_send",
        "_over_event",
        "_sent_head",
        "_started",
        "_stream",
        "_totals",
        "_watcher",
        "counters",
        "host",
        "id",
        "label",
        "local",
        "opened_at",
        "over",
        "peer",
        "port",
        "spec",
        "state",
    )

    def __init__(
        self,
        *,
        session_id: int,
        host: str,
        port: int,
        spec: FramingSpec,
        label: str,
        emit: Emit,
        totals: Counters,
        on_end: Callable[[Session], None],
        watcher: ReadinessWatcher | None = None,
    ) -> None:
        self.id = session_id
        self.host = host
        self.port = port
        self.spec = spec
        self.label = label
        self.state = SessionState.CONNECTING
        self.counters = Counters()
        self.opened_at = trio.current_time()
        #: "host:port" of each end once connected ("" before).
        self.local = self.peer = ""
        #: Whether the session is over and its last event was emitted.
        self.over = False
        #: Created by the first wait for the end (see ``_wait_over``).
        self._over_event: trio.Event | None = None
        self._emit = emit
        self._totals = totals
        self._on_end = on_end
        #: Where the session waits for its first bytes (trio's wait_readable if None).
        self._watcher = watcher
        self._closed_by: ClosedBy | None = None
        self._error: BaseException | None = None
        self._stream: trio.SocketStream | None = None
        #: The session's nursery, while ``run`` is in it (the writer is started in it).
        self._nursery: trio.Nursery | None = None
        #: Created by the first ``send``/``close`` (most sessions of a large set stay idle,
        #: and a writer task with its channel is ~2 KiB each); see ``_outbox``.
        self._outbox_send: trio.MemorySendChannel[_Outgoing | None] | None = None
        self._outbox_receive: trio.MemoryReceiveChannel[_Outgoing | None] | None = None
        self._current: _Outgoing | None = None
        #: The reader's decoder, from the first bytes on (its ``head`` is what the
        #: diagnosis of a framing mistake looks at); the first bytes written, likewise.
        self._decoder: FrameDecoder | None = None
        self._sent_head = b""
        #: Whether the connection was made (``wait_connected`` returns).
        self._started = False
        #: Set when connecting is over, either way; only while ``wait_connected`` waits.
        self._connect_done: trio.Event | None = None

    def describe(self) -> dict[str, Any]:
        """The ``list_sessions`` map, plus ``local``/``peer`` ("" until connected)."""
        c = self.counters
        return {
            "session_id": self.id,
            "label": self.label,
            "host": self.host,
            "port": self.port,
            "state": self.state.value,
            "framing": self.spec.to_wire(),
            "frames_in": c.frames_in,
            "bytes_in": c.bytes_in,
            "frames_out": c.frames_out,
            "bytes_out": c.bytes_out,
            "opened_at": self.opened_at,
            "local": self.local,
            "peer": self.peer,
        }

    # ------------------------------------------------------------------ lifecycle

    async def run(self, connect_timeout: float) -> None:
        """Connect, wake ``wait_connected``, serve until the session ends.

        Calls ``on_end(self)`` last, once the session is over. Started with ``start_soon``
        rather than ``nursery.start``: ``start`` opens a nursery for every session and
        moves the task out of it once started (setting up 10,000 idle sessions took ~10%
        longer that way, tools/bench/sessions.py).
        """
        try:
            # The nursery's cancel scope is the session's: _end cancels it, and with it
            # exactly this session's work (the connect, the reader, the writer).
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._closed_by is not None:  # ended before it started running
                    nursery.cancel_scope.cancel()
                await self._emit(
                    schema.Connecting(
                        session_id=self.id,
                        host=self.host,
                        port=self.port,
                        framing=self.spec.to_wire(),
                        label=self.label,
                        at=trio.current_time(),
                    )
                )
                self._stream = await self._connect(connect_timeout)
                if self._stream is not None:  # else ConnectFailed is raised below
                    self.state = SessionState.CONNECTED
                    sock = self._stream.socket
                    self.local = _address(sock.getsockname, "?")
                    self.peer = _address(sock.getpeername, f"{self.host}:{self.port}")
                    await self._emit(
                        schema.Connected(
                            session_id=self.id,
                            local=self.local,
                            peer=self.peer,
                            at=trio.current_time(),
                        )
                    )
                    self._started = True
                    if self._connect_done is not None:
                        self._connect_done.set()
                    # The reader runs in this task, the nursery's own body: one task per
                    # idle session. The writer joins it on the first send (_outbox).
                    if self._outbox_receive is not None:  # sends queued while connecting
                        nursery.start_soon(self._write, self._outbox_receive)
                    # Until the peer first sends something, only wait for the socket to
                    # become readable, in this frame: a session that was never spoken to
                    # holds no decoder and no reader frames (receive_frames' stack of
                    # waiting frames, ~2 KiB), and, parked on the engine's watcher, not
                    # trio's stack for wait_readable either (~1.4 KiB; engine/readiness.py).
                    try:
                        if self._watcher is None:
                            await trio.lowlevel.wait_readable(sock.fileno())
                        else:
                            self._watcher.park(sock.fileno())
                            await trio.lowlevel.wait_task_rescheduled(self._unpark)
                    except OSError as exc:  # epoll refused the socket (max_user_watches)
                        self._end("error", exc)
                    else:
                        await self._read()
        finally:
            self._nursery = None
            try:
                await self._finish()
            finally:
                self._on_end(self)
                if self._connect_done is not None:  # ended while connecting
                    self._connect_done.set()

    async def wait_connected(self) -> None:
        """Return once connected; raise why not if the session ended first.

        If the caller is cancelled meanwhile, the attempt is abandoned: the session ends
        (``Closed(by="shutdown")``) before the cancellation goes on.

        Raises:
            ConnectFailed: the connection could not be made.
            SessionClosed: the session was closed (or the engine shut down) meanwhile.
        """
        if not self._started and not self.over:
            self._connect_done = trio.Event()
            try:
                await self._connect_done.wait()
            except BaseException:
                self._end("shutdown")
                with trio.CancelScope(shield=True):  # bounded: _finish has a grace period
                    await self._wait_over()
                raise
            finally:
                self._connect_done = None
        if not self._started:
            raise self.ended_error()

    def _unpark(self, _: Any) -> trio.lowlevel.Abort:
        """The abort function of the wait for the first bytes (the session is cancelled)."""
        assert self._watcher is not None and self._stream is not None
        return self._watcher.unpark(self._stream.socket.fileno())

    async def _connect(self, seconds: float) -> trio.SocketStream | None:
        """The connected stream; ``None`` once a failure was recorded and emitted."""
        with trio.move_on_after(seconds) as timer:
            try:
                return await open_tcp_stream(self.host, self.port)
            except OSError as exc:
                reason, message = connect_failure(exc, self.host, self.port)
            except UnicodeError as exc:
                # trio IDNA-encodes the name before resolving it: this one cannot be a DNS
                # name at all (an empty label, or one over 63 bytes).
                reason, message = "dns", f"cannot resolve host {self.host!r}: {exc}"
        if timer.cancelled_caught:
            reason = "timeout"
            message = f"connecting to {self.host}:{self.port} timed out after {seconds:g} s"
        self.state = SessionState.FAILED
        self._error = ConnectFailed(reason, message)
        await self._emit(
            schema.ConnectFailed(
                session_id=self.id, reason=reason, message=message, at=trio.current_time()
            )
        )
        return None

    async def _finish(self) -> None:
        """Close the socket, fail the send in progress, emit the last events."""
        failed = self.state is SessionState.FAILED
        # No reason recorded: cancelled from outside (the engine or connect's caller).
        closed_by: ClosedBy = self._closed_by or "shutdown"
        if not failed:
            self.state = SessionState.CLOSED
            self._closed_by = closed_by
        error = self.ended_error()
        if self._outbox_receive is not None:
            self._outbox_receive.close()
        if self._current is not None and not self._current.done.is_set():
            self._current.error = error
            self._current.done.set()
        if self._stream is not None:
            if self._closed_by == "abort":
                _set_linger_zero(self._stream.socket)
            self._stream.socket.close()
        if not failed:
            # Shielded so a cancelled session still reports how it ended; bounded so a
            # consumer that stopped reading cannot hold up shutdown.
            with trio.move_on_after(FINAL_EVENT_GRACE_SECONDS, shield=True):
                closed_details: dict[str, Any] = {}
                if self._closed_by == "error" and self._error is not None:
                    kind, message = _error_kind(self._error)
                    details: dict[str, Any] = {}
                    diagnosis = self._diagnose_error(self._error)
                    if diagnosis is not None:
                        message = f"{message}: {diagnosis.summary}"
                        details["diagnosis"] = diagnosis.to_wire()
                    await self._emit(
                        schema.SessionError(
                            session_id=self.id,
                            kind=kind,
                            message=message,
                            at=trio.current_time(),
                            details=details,
                        )
                    )
                else:
                    diagnosis = self._diagnose_end()
                    if diagnosis is not None:
                        closed_details["diagnosis"] = diagnosis.to_wire()
                c = self.counters
                await self._emit(
                    schema.Closed(
                        session_id=self.id,
                        by=closed_by,
                        frames_in=c.frames_in,
                        bytes_in=c.bytes_in,
                        frames_out=c.frames_out,
                        bytes_out=c.bytes_out,
                        at=trio.current_time(),
                        details=closed_details,
                    )
                )
        self.over = True
        if self._over_event is not None:
            self._over_event.set()

    def _diagnose_error(self, error: BaseException) -> Diagnosis | None:
        """What the bytes say about a framing error, or about a reset before any reply (a
        server that refuses our header often resets rather than closes)."""
        received = self._decoder.head if self._decoder is not None else b""
        situation: Situation
        if isinstance(error, RemoteProtocolError):
            situation = "truncated" if isinstance(error, TruncatedFrame) else "frame_too_large"
        elif self.counters.frames_in == 0 and self._sent_head:
            situation = "closed_early"
        else:
            return None
        return diagnose(situation, self.spec, received=received, sent=self._sent_head)

    def diagnose_now(self) -> Diagnosis | None:
        """What the bytes say so far, as if the session ended now (a client gave up)."""
        return self._diagnose_end()

    def _diagnose_end(self) -> Diagnosis | None:
        """What the bytes say about a session that ended without an error, if suspicious.

        Suspicious: no whole frame came back for what was sent; or the first bytes read
        as empty frames or leave part of a frame over, and another framing reads them
        better (issue 17: be16 against a be32 reply gives an empty frame first).
        """
        decoder = self._decoder
        received = decoder.head if decoder is not None else b""
        situation: Situation = "leftover"
        if self.counters.frames_in == 0:
            if not self._sent_head and not received:
                return None
            situation = "closed_early" if self._closed_by == "peer" else "no_reply"
        return diagnose(situation, self.spec, received=received, sent=self._sent_head)

    def _end(self, by: ClosedBy, error: BaseException | None = None) -> None:
        """Record why the session ends (the first reason wins) and cancel its tasks."""
        if self._closed_by is None:
            self._closed_by = by
            self._error = error
        if self.state in (SessionState.CONNECTING, SessionState.CONNECTED):
            self.state = SessionState.CLOSING
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def ended_error(self) -> Exception:
        """A new exception for a send on this (ending or ended) session to raise."""
        if isinstance(self._error, ConnectFailed):
            # A fresh object per caller: one exception raised in several tasks would
            # collect all their tracebacks.
            return ConnectFailed(self._error.reason, self._error.message)
        by = self._closed_by
        if by in ("peer", "error"):
            detail = "closed by the peer" if by == "peer" else f"broken: {self._error}"
            broken = SessionBroken(f"session {self.id} was {detail}")
            broken.__cause__ = self._error
            return broken
        if by is None:
            return SessionClosed(f"session {self.id} is closing")
        return SessionClosed(f"session {self.id} was closed ({by})")

    # ------------------------------------------------------------------ commands

    async def send(self, frames: Sequence[bytes], data: bytes) -> None:
        """Queue ``data`` (the encoded ``frames``) and wait until it is written.

        If the caller is cancelled while waiting, the write may still happen.

        Raises:
            SessionClosed: the session was closed on this side.
            SessionBroken: the peer or the network ended it.
        """
        if self.state not in (SessionState.CONNECTING, SessionState.CONNECTED):
            raise self.ended_error()
        item = _Outgoing(frames, data)
        try:
            await self._outbox().send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self.ended_error() from None
        await item.done.wait()
        if item.error is not None:
            raise item.error

    async def close(self) -> None:
        """Flush queued sends, close the socket, wait until ``Closed`` was emitted."""
        if self.state in (SessionState.CONNECTING, SessionState.CONNECTED):
            if self.state is SessionState.CONNECTING:
                self._end("local")
            else:
                self.state = SessionState.CLOSING
                if self._outbox_send is None:  # nothing was ever sent: nothing to flush
                    self._end("local")
                else:
                    # None asks the writer to close after every queued send; if the session
                    # ended meanwhile, the channel is closed and there is nothing to flush.
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await self._outbox_send.send(None)
        await self._wait_over()

    async def abort(self) -> None:
        """Drop queued sends, reset the connection, wait until ``Closed`` was emitted."""
        self._end("abort")
        await self._wait_over()

    async def _wait_over(self) -> None:
        # The event is made on demand: most sessions end without anyone waiting.
        if self.over:
            await trio.lowlevel.checkpoint()
            return
        if self._over_event is None:
            self._over_event = trio.Event()
        await self._over_event.wait()

    def shutdown(self) -> None:
        """Start ending the session because the engine is shutting down (no wait)."""
        self._end("shutdown")

    def _outbox(self) -> trio.MemorySendChannel[_Outgoing | None]:
        """The writer's channel; the first call creates it and starts the writer.

        Unbuffered: a send waits until the writer takes it, so a peer that never reads
        holds up the senders rather than a queue. While connecting, the writer is started
        with the session's nursery (in ``run``).
        """
        if self._outbox_send is None:
            self._outbox_send, self._outbox_receive = trio.open_memory_channel[_Outgoing | None](0)
            if self._started and self._nursery is not None:
                self._nursery.start_soon(self._write, self._outbox_receive)
        return self._outbox_send

    # ------------------------------------------------------------------ tasks

    async def _read(self) -> None:
        assert self._stream is not None
        self._decoder = FrameDecoder(self.spec)
        try:
            await receive_frames(self._stream, self._decoder, self._deliver)
        except (RemoteProtocolError, trio.BrokenResourceError, OSError) as exc:
            self._end("error", exc)
        else:
            self._end("peer")

    async def _deliver(self, batch: list[bytes]) -> None:
        size = sum(map(len, batch))
        c, t = self.counters, self._totals
        c.frames_in += len(batch)
        c.bytes_in += size
        t.frames_in += len(batch)
        t.bytes_in += size
        await self._emit(schema.Received(session_id=self.id, frames=batch, at=trio.current_time()))

    async def _write(self, outbox: trio.MemoryReceiveChannel[_Outgoing | None]) -> None:
        assert self._stream is not None
        async for item in outbox:
            if item is None:  # graceful close: everything before it was written
                self._end("local")
                return
            self._current = item
            # Strategy: Sent goes out *before* the write. A reply cannot exist before its
            # request is written, so in the event stream a request's Sent always precedes
            # the reply's Received (emitted after the write, a fast peer's reply could win
            # the race). If the write fails, SessionError and Closed follow.
            await self._emit(
                schema.Sent(session_id=self.id, frames=list(item.frames), at=trio.current_time())
            )
            if len(self._sent_head) < FrameDecoder.HEAD_BYTES:
                self._sent_head += item.data[: FrameDecoder.HEAD_BYTES - len(self._sent_head)]
            try:
                await self._stream.send_all(item.data)
            except (trio.BrokenResourceError, OSError) as exc:
                self._end("error", exc)
                return
            size = sum(map(len, item.frames))
            c, t = self.counters, self._totals
            c.frames_out += len(item.frames)
            c.bytes_out += size
            t.frames_out += len(item.frames)
            t.bytes_out += size
            self._current = None
            item.done.set()


def _error_kind(exc: BaseException) -> tuple[SessionErrorKind, str]:
    if isinstance(exc, FrameTooLarge):
        return "frame_too_large", str(exc)
    if isinstance(exc, TruncatedFrame):
        return "truncated_frame", str(exc)
    if isinstance(exc, RemoteProtocolError):
        # A length field smaller than the header it includes: a bogus length, like an
        # oversize one.
        return "frame_too_large", str(exc)
    cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
    if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset", f"connection reset by peer ({cause})"
    return "io", f"I/O error: {cause or exc}"


async def open_tcp_stream(host: str, port: int) -> trio.SocketStream:
    """``trio.open_tcp_stream``, with a numeric address connected directly.

    A numeric address resolves to itself, so there is nothing for happy eyeballs to race:
    one socket and one ``connect`` instead of a resolver call, a nursery and a task per
    connection (a third of the set-up time of 10,000 loopback sessions). Names, and IPv6
    addresses with a zone (``fe80::1%eth0``), still go through ``open_tcp_stream``.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or "%" in host:
        return await trio.open_tcp_stream(host, port)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        await sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


def connect_failure(exc: OSError, host: str, port: int) -> tuple[ConnectFailReason, str]:
    """Map a ``open_tcp_stream`` error to a reason and a one-line message."""
    where = f"{host}:{port}"
    # open_tcp_stream raises OSError("all attempts ... failed") from a group of
    # per-address errors; a direct connect raises the one error.
    group = exc.__cause__
    errors = list(group.exceptions) if isinstance(group, ExceptionGroup) else [exc]
    for error in errors:
        if isinstance(error, socket.gaierror):
            return "dns", f"cannot resolve host {host!r}: {error.strerror or error}"
    codes = {getattr(e, "errno", None) for e in errors}
    if errno.ECONNREFUSED in codes:
        return "refused", f"connection to {where} refused (is the server running?)"
    if codes & {errno.ENETUNREACH, errno.EHOSTUNREACH}:
        return "unreachable", f"{where} is unreachable (no route to host)"
    if errno.ETIMEDOUT in codes:
        return "timeout", f"connecting to {where} timed out"
    detail = "; ".join(str(e) for e in errors)
    return "error", f"cannot connect to {where}: {detail}"


def _address(get: Callable[[], Any], fallback: str) -> str:
    """``host:port`` of a socket end; ``fallback`` if the peer already reset it."""
    try:
        address = get()
    except OSError:
        return fallback
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _set_linger_zero(sock: trio.socket.SocketType) -> None:
    """Make ``close()`` send a reset instead of a FIN (an abort, as the peer sees it)."""
    with contextlib.suppress(OSError):  # the kernel may have torn it down already
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
