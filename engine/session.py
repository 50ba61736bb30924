"""One TCP session: its stream, a reader and a writer around ``FrameDecoder``.

Theory of operation. ``Session.run`` is started in the engine's nursery with
``start_soon``, and ``Engine.connect`` waits for it in ``wait_connected``; everything the
session does happens inside that task (or, after it dozed, ``resume``'s). Where the
stream comes from is the session's ``Opening`` (``engine.streams``: connect, or a stream
a listener accepted); the rest is the same for every role:

1. emit what the opening announces (``Connecting``); obtain the stream (connect, bounded
   by the connect timeout). On failure emit ``ConnectFailed``; ``wait_connected`` raises
   ``engine.errors.ConnectFailed``, so the error surfaces from ``Engine.connect``;
2. emit what the opening says once up (``Connected``, ``Accepted``), wake
   ``wait_connected``;
3. open the session's own nursery; its body is the **reader** (``receive_frames``: large
   reads, whole chunks decoded at once, one ``Received`` event per read). The **writer**
   (takes queued sends one by one, emits ``Sent``, writes them) is a task started in that
   nursery by the first ``send`` or ``close``. Until its first bytes, a connected session
   with nothing to do *dozes* instead: its socket waits in the engine's watcher and its
   task ends (an idle session is no task at all: ``engine.readiness``); bytes, a send or
   an end start its task again (``resume``), which goes on as here;
4. the session ends when the peer closes, a task hits an error, or someone calls
   ``close``/``abort``/``shutdown``: ``_end(by)`` records the first reason and cancels the
   session's cancel scope, which cancels exactly this session's tasks (or wakes a dozing
   session, whose task then ends it);
5. the socket is closed (with ``SO_LINGER`` 0 for an abort, so the peer sees a reset);
   ``SessionError`` is emitted if a task failed, then ``Closed`` with the final counters.
   A bad peer or a failed socket ends only its own session, as these two events: the
   reader and writer catch protocol and I/O errors, and anything else (a bug) propagates.

Flow control: the reader ``await``s the bounded event channel, so a consumer that falls
behind stops the reads and TCP pushes back on the peer. The writer takes one send at a
time through an unbuffered channel, so a peer that never reads makes ``send`` wait.

An accepted session or a relay leg has a ``Role`` (``engine.role``): its reader then
waits within the listener's idle and partial-frame timeouts (``engine.limits``), and a
relay leg or an echo hands what it reads to a ``Forward`` (``engine.forward``), which
reports it and writes it to the other leg (or back).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import trio

from engine.errors import ConnectFailed, SessionBroken, SessionClosed, TlsFailed
from engine.limits import IdleTimeout, PartialFrameTimeout, ReadGuard
from engine.readiness import ReadinessWatcher
from engine.streams import Opening, Secure, Transport, connect_failure, set_linger_zero
from ipc import schema
from ipc.diagnosis import Diagnosis, Situation, diagnose
from ipc.errors import FrameTooLarge, RemoteProtocolError, TruncatedFrame
from ipc.framing import FrameDecoder, FramingSpec
from ipc.schema import ClosedBy, ConnectFailReason, SessionErrorKind
from ipc.tls import TlsInfo

if TYPE_CHECKING:
    from engine.forward import Direction
    from engine.role import Role

__all__ = [
    "FINAL_EVENT_GRACE_SECONDS",
    "LARGE_FRAME_BYTES",
    "MAX_READ_BYTES",
    "RECEIVE_BYTES",
    "Counters",
    "PartialFrame",
    "Session",
    "SessionState",
    "error_kind",
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

#: How long a TLS session that ends gracefully may take to send its ``close_notify``.
CLOSE_NOTIFY_SECONDS = 1.0

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


class PartialFrame(NamedTuple):
    """A frame a session has started to receive and not finished."""

    #: Bytes of it received, its header's included.
    received: int
    #: Bytes that would complete its header or body: at least this many more to come.
    missing: int


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
    guard: ReadGuard | None = None,
    tap: Callable[[bytes | bytearray], None] | None = None,
) -> None:
    """The receive loop: read ``stream`` until EOF, ``await deliver(batch)`` once per read.

    ``batch`` holds every frame completed by that read (never empty). This is the whole
    receive path of a session, exposed so benchmarks can drive it directly. With a
    ``guard`` each read waits within its timeouts; ``tap`` sees each read's bytes before
    they are decoded (a relay leg that forwards the bytes as they came).

    Returns at EOF on a frame boundary.

    Raises:
        FrameTooLarge, TruncatedFrame, RemoteProtocolError: the peer broke the framing
            (frames before the error have been delivered).
        PartialFrameTimeout, IdleTimeout: (with a guard) a timeout passed.
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
        if guard is None:
            data = await receive_some(size)
        else:
            data = await guard.receive(receive_some, size, decoder)
        if tap is not None:
            tap(data)
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
    data: bytes | memoryview
    #: Whether the writer reports it as ``Sent`` (forwarded relay frames are not).
    report: bool = True
    #: The frames' payload bytes, if the sender knew them (-1: the writer counts).
    nbytes: int = -1
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
        "_dozing",
        "_emit",
        "_error",
        "_nursery",
        "_on_end",
        "_outbox_receive",
        "_outbox_send",
        "_over_event",
        "_reason",
        "_sent_head",
        "_socket",
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
        "role",
        "spec",
        "state",
        "tls",
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
        role: Role | None = None,
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
        #: What the TLS handshake established (None: plaintext, or not yet).
        self.tls: TlsInfo | None = None
        #: Whether the session is over and its last event was emitted.
        self.over = False
        #: Created by the first wait for the end (see ``wait_over``).
        self._over_event: trio.Event | None = None
        self._emit = emit
        self._totals = totals
        self._on_end = on_end
        #: Where the session dozes until its first bytes (None: it waits in its task).
        self._watcher = watcher
        #: Whether it dozes in the watcher now (no task; ``_wake`` starts one).
        self._dozing = False
        #: None for a session the user connected; see ``engine.role``.
        self.role = role
        self._closed_by: ClosedBy | None = None
        self._error: BaseException | None = None
        #: Why the session was closed on this side, when more can be said than ``by``
        #: (an idle timeout, the other leg of a relay pair ending); ``Closed.details``.
        self._reason = ""
        self._stream: trio.abc.Stream | None = None
        #: The TCP socket under the stream (None for a stream without one: tests).
        self._socket: trio.socket.SocketType | None = None
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
        """The ``list_sessions`` map, plus ``local``/``peer`` ("" until connected) and the
        role (``role``: "connect", "accept" or "relay"; ``listener_id``; for a relay leg
        ``pair_id`` and ``leg``)."""
        c = self.counters
        info = {
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
            "role": "connect",
        }
        if self.role is not None:
            info.update(self.role.describe())
        if self.tls is not None:
            info["tls"] = self.tls.to_wire()
        return info

    # ------------------------------------------------------------------ lifecycle

    async def run(self, opening: Opening) -> None:
        """Obtain the stream from ``opening``, wake ``wait_connected``, serve until the
        session ends, or until it dozes: connected and with nothing to do, a session
        waits in the engine's watcher with no task (``engine.readiness``), which starts
        ``resume`` when it has something to do.

        Calls ``on_end(self)`` last, once the session is over. Started with ``start_soon``
        rather than ``nursery.start``: ``start`` opens a nursery for every session and
        moves the task out of it once started (setting up 10,000 idle sessions took ~10%
        longer that way, tools/bench/sessions.py).
        """
        dozing = False
        try:
            # The nursery's cancel scope is the session's: _end cancels it, and with it
            # exactly this session's work (the connect, the reader, the writer).
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._closed_by is not None:  # ended before it started running
                    nursery.cancel_scope.cancel()
                announcement = opening.announce(self)
                if announcement is not None:
                    await self._emit(announcement)
                transport = await self._open(opening)
                if transport is not None:  # else ConnectFailed is raised below
                    self._stream, sock = transport.stream, transport.socket
                    self._socket = sock
                    self.local, self.peer = transport.local, transport.peer
                    self.tls = transport.tls
                    self.state = SessionState.CONNECTED
                    await self._emit(opening.opened(self))
                    self._started = True
                    if self._connect_done is not None:
                        self._connect_done.set()
                    if transport.secure is not None and not await self._secure(transport.secure):
                        return  # the handshake failed: SessionError and Closed say why
                    if self.tls is not None:
                        await self._emit(
                            schema.TlsEstablished(
                                session_id=self.id, tls=self.tls.to_wire(), at=trio.current_time()
                            )
                        )
                        # OpenSSL may hold decrypted bytes already: no waiting on the
                        # socket for the first ones.
                        sock = None
                    # The reader runs in this task, the nursery's own body. The writer
                    # joins it on the first send (_outbox).
                    if self._outbox_receive is not None:  # sends queued while connecting
                        nursery.start_soon(self._write, self._outbox_receive)
                    dozing = await self._serve(sock, may_doze=True)
        finally:
            if not dozing:  # else resume() takes over, in a task of its own
                self._nursery = None
                await self._close_out()

    async def resume(self, readable: bool) -> None:
        """The session's task again, after dozing (started by the engine's watcher):
        ``readable``, the socket has bytes (or a hang-up) to read; else the session was
        woken to send (its writer starts here) or to end. Then as ``run``."""
        self._dozing = False
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._closed_by is not None:  # woken to end
                    nursery.cancel_scope.cancel()
                if self._outbox_receive is not None:
                    nursery.start_soon(self._write, self._outbox_receive)
                await self._serve(None if readable else self._socket, may_doze=False)
        finally:
            self._nursery = None
            await self._close_out()

    async def _serve(self, sock: trio.socket.SocketType | None, *, may_doze: bool) -> bool:
        """Wait for the first bytes on ``sock`` (None: read now), then read until the
        session ends. Returns True instead if the session dozes: the caller's task ends
        and the engine's watcher starts ``resume`` when there is something to do.

        Until the peer first sends something, a session only waits for its socket to
        become readable: one that was never spoken to holds no decoder and no reader
        frames (receive_frames' stack of waiting frames, ~2 KiB), and, dozing, no task
        either (engine/readiness.py). An accepted session waits within its idle timeout.
        """
        try:
            if sock is None:
                pass
            elif self.role is not None:
                await self._first_bytes_within(self.role.guard, sock)
            elif (
                may_doze
                and self._watcher is not None
                and self._outbox_receive is None
                and self._closed_by is None
            ):
                self._watcher.doze(sock.fileno(), self)
                # From here an _end or a send wakes the session through the watcher.
                self._nursery = None
                self._dozing = True
                return True
            else:
                await trio.lowlevel.wait_readable(sock.fileno())
        except OSError as exc:  # epoll refused the socket (max_user_watches)
            self._end("error", exc)
        except IdleTimeout as exc:
            self._end("local", reason=str(exc))
        else:
            await self._read()
        return False

    def _wake(self) -> None:
        """Have the watcher start a dozing session's task (``resume``), to send or end."""
        if self._dozing:
            self._dozing = False
            assert self._watcher is not None and self._socket is not None
            self._watcher.wake(self._socket.fileno())

    async def _close_out(self) -> None:
        """The session's last steps: its socket closed and last events emitted
        (``_finish``), then ``on_end``."""
        try:
            await self._finish()
        finally:
            self._on_end(self)
            if self._connect_done is not None:  # ended while connecting
                self._connect_done.set()

    async def _secure(self, secure: Secure) -> bool:
        """Make the TLS handshake of an accepted client (announced already); on failure
        end the session with the ``TlsFailed`` (kind "tls") and return False."""
        assert self._stream is not None
        try:
            self._stream, self.tls = await secure(self._stream, self.peer)
        except TlsFailed as exc:
            self._end("error", exc)
            return False
        return True

    async def _first_bytes_within(self, guard: ReadGuard, sock: trio.socket.SocketType) -> None:
        """Wait for the first bytes (or a hang-up) within the idle timeout.

        Raises:
            IdleTimeout: nothing moved either way for ``idle_timeout`` seconds.
        """
        while True:
            with trio.move_on_at(guard.idle_deadline()):
                await trio.lowlevel.wait_readable(sock.fileno())
                return
            guard.check_idle()  # else a write moved bytes meanwhile: wait on

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
                    await self.wait_over()
                raise
            finally:
                self._connect_done = None
        if not self._started:
            raise self.ended_error()

    async def _open(self, opening: Opening) -> Transport | None:
        """The opening's transport; ``None`` once a failure was recorded and emitted."""
        details: dict[str, Any] = {}
        reason: ConnectFailReason
        try:
            return await opening.open(self)
        except TlsFailed as exc:
            reason, message = "tls", str(exc)
            details["tls_cause"] = exc.cause
            self._error = exc
        except TimeoutError as exc:
            reason = "timeout"
            message = str(exc)
        except OSError as exc:
            reason, message = connect_failure(exc, self.host, self.port)
        except UnicodeError as exc:
            # trio IDNA-encodes the name before resolving it: this one cannot be a DNS
            # name at all (an empty label, or one over 63 bytes).
            reason, message = "dns", f"cannot resolve host {self.host!r}: {exc}"
        self.state = SessionState.FAILED
        if self._error is None:
            self._error = ConnectFailed(reason, message)
        await self._emit(
            schema.ConnectFailed(
                session_id=self.id,
                reason=reason,
                message=message,
                at=trio.current_time(),
                details=details,
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
        # self.tls is set with the TLS stream that established it (engine.tls.TlsStream).
        tls_stream = self._stream if self.tls is not None else None
        if tls_stream is not None and self._closed_by in ("local", "peer", "shutdown"):
            # A graceful end says so in TLS too (close_notify), without waiting for the
            # peer's answer; bounded, so a peer that stopped reading cannot hold it up.
            with trio.move_on_after(CLOSE_NOTIFY_SECONDS, shield=True):
                with contextlib.suppress(trio.BrokenResourceError, trio.BusyResourceError, OSError):
                    await tls_stream.aclose()
        if self._socket is not None:
            if self._closed_by == "abort":
                set_linger_zero(self._socket)
            self._socket.close()
        elif self._stream is not None:  # a stream without a socket (tests)
            await trio.aclose_forcefully(self._stream)
        if not failed:
            # Shielded so a cancelled session still reports how it ended; bounded so a
            # consumer that stopped reading cannot hold up shutdown.
            with trio.move_on_after(FINAL_EVENT_GRACE_SECONDS, shield=True):
                closed_details: dict[str, Any] = {}
                if self._reason:
                    closed_details["reason"] = self._reason
                if self._closed_by == "error" and self._error is not None:
                    kind, message = error_kind(self._error)
                    details: dict[str, Any] = {}
                    diagnosis = self._diagnose_error(self._error)
                    if diagnosis is not None:
                        message = f"{message}: {diagnosis.summary}"
                        details["diagnosis"] = diagnosis.to_wire()
                        if diagnosis.kind == "tls" and self.tls is None:
                            kind = "tls"  # a TLS peer: not a framing problem
                            message += " on a plaintext session"
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
            incomplete = isinstance(error, TruncatedFrame | PartialFrameTimeout)
            situation = "truncated" if incomplete else "frame_too_large"
        elif self.counters.frames_in == 0 and self._sent_head:
            situation = "closed_early"
        else:
            return None
        return diagnose(situation, self.spec, received=received, sent=self._sent_head)

    def partial_frame(self) -> PartialFrame | None:
        """The frame being received, if one is begun and unfinished (None between frames)."""
        decoder = self._decoder
        if decoder is None or not decoder.unfinished_bytes:
            return None
        return PartialFrame(decoder.unfinished_bytes, decoder.frame_bytes_missing)

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

    def _end(self, by: ClosedBy, error: BaseException | None = None, reason: str = "") -> None:
        """Record why the session ends (the first reason wins) and cancel its tasks.

        ``reason`` says more than ``by`` (``Closed.details["reason"]``); a graceful
        ``close`` sets it before its flush, and only a local close keeps it.
        """
        if self._closed_by is None:
            self._closed_by = by
            self._error = error
            if reason or by != "local":
                self._reason = reason
            role = self.role
            if role is not None and role.pair is not None:
                role.pair.leg_ending(self, by, error)
        if self.state in (SessionState.CONNECTING, SessionState.CONNECTED):
            self.state = SessionState.CLOSING
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        else:
            self._wake()

    def end_now(self, by: ClosedBy, reason: str) -> None:
        """Start ending the session without a flush (``abort``, or ``local`` for one still
        connecting); no wait. For a relay pair ending its other leg."""
        self._end(by, reason=reason)

    @property
    def opened(self) -> bool:
        """Whether the stream was obtained (the session may have ended since)."""
        return self._started

    @property
    def reason_detail(self) -> str:
        """Why this side closed the session, when more can be said than ``by``."""
        return self._reason

    def ended_error(self) -> Exception:
        """A new exception for a send on this (ending or ended) session to raise."""
        if isinstance(self._error, TlsFailed):
            # A fresh object per caller: one exception raised in several tasks would
            # collect all their tracebacks.
            return TlsFailed(self._error.cause, self._error.message)
        if isinstance(self._error, ConnectFailed):
            return ConnectFailed(self._error.reason, self._error.message)
        by = self._closed_by
        if by in ("peer", "error"):
            detail = "closed by the peer" if by == "peer" else f"broken: {self._error}"
            broken = SessionBroken(f"session {self.id} was {detail}")
            broken.__cause__ = self._error
            return broken
        if by is None:
            return SessionClosed(f"session {self.id} is closing")
        reason = f": {self._reason}" if self._reason else ""
        return SessionClosed(f"session {self.id} was closed ({by}){reason}")

    # ------------------------------------------------------------------ commands

    async def send(
        self,
        frames: Sequence[bytes],
        data: bytes | memoryview,
        *,
        report: bool = True,
        nbytes: int = -1,
    ) -> None:
        """Queue ``data`` (the encoded ``frames``) and wait until it is written.

        ``report``: emit ``Sent`` for it (forwarded relay frames are reported once, as
        the other leg's ``Received``). If the caller is cancelled while waiting, the
        write may still happen.

        Raises:
            SessionClosed: the session was closed on this side.
            SessionBroken: the peer or the network ended it.
        """
        if self.state not in (SessionState.CONNECTING, SessionState.CONNECTED):
            raise self.ended_error()
        item = _Outgoing(frames, data, report, nbytes)
        try:
            await self._outbox().send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self.ended_error() from None
        await item.done.wait()
        if item.error is not None:
            raise item.error

    async def close(self, reason: str = "") -> None:
        """Flush queued sends, close the socket, wait until ``Closed`` was emitted.

        ``reason``, if given, goes into ``Closed.details`` (when this close is what ends
        the session).
        """
        if self.state in (SessionState.CONNECTING, SessionState.CONNECTED):
            if self._closed_by is None and reason:
                self._reason = reason
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
        await self.wait_over()

    async def abort(self, reason: str = "") -> None:
        """Drop queued sends, reset the connection, wait until ``Closed`` was emitted."""
        self._end("abort", reason=reason)
        await self.wait_over()

    async def wait_over(self) -> None:
        """Return once the session is over and its last event was emitted."""
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
        with the session's nursery (in ``run``); a dozing session is woken to start it
        (in ``resume``).
        """
        if self._outbox_send is None:
            self._outbox_send, self._outbox_receive = trio.open_memory_channel[_Outgoing | None](0)
            if self._started and self._nursery is not None:
                self._nursery.start_soon(self._write, self._outbox_receive)
            else:
                self._wake()  # a dozing session: resume() starts the writer
        return self._outbox_send

    # ------------------------------------------------------------------ tasks

    async def _read(self) -> None:
        assert self._stream is not None
        decoder = self._decoder = FrameDecoder(self.spec)
        deliver: Callable[[list[bytes]], Awaitable[object]] = self._deliver
        guard = tap = None
        role = self.role
        if role is not None:
            guard = role.guard
            forward = role.forward
            if forward is not None:
                deliver = functools.partial(forward.deliver, self, decoder)
                if forward.passthrough:
                    tap = forward.tap
        try:
            await receive_frames(self._stream, decoder, deliver, guard=guard, tap=tap)
        except (RemoteProtocolError, trio.BrokenResourceError, OSError) as exc:
            self._end("error", exc)
        except IdleTimeout as exc:
            self._end("local", reason=str(exc))
        else:
            self._end("peer")

    async def _deliver(self, batch: list[bytes]) -> None:
        await self.report_received(batch)

    async def report_received(
        self,
        batch: list[bytes],
        pair_id: int | None = None,
        direction: Direction | None = None,
        nbytes: int = -1,
    ) -> None:
        """Count ``batch`` as received and emit ``Received`` (with a relay's pair and
        direction). ``nbytes``: its payload bytes, if the caller knows them already."""
        size = sum(map(len, batch)) if nbytes < 0 else nbytes
        c, t = self.counters, self._totals
        c.frames_in += len(batch)
        c.bytes_in += size
        t.frames_in += len(batch)
        t.bytes_in += size
        # Unchecked: the decoder made every frame a bytes object, and the rest is ours;
        # checking each frame again cost ~50 ns a frame (tools/bench/relay.py).
        await self._emit(
            schema.Received._unchecked(
                session_id=self.id,
                frames=batch,
                at=trio.current_time(),
                pair_id=pair_id,
                direction=direction,
            )
        )

    async def _write(self, outbox: trio.MemoryReceiveChannel[_Outgoing | None]) -> None:
        assert self._stream is not None
        role = self.role
        activity = None if role is None else role.guard.activity
        pair_id = None if role is None or role.pair is None else role.pair.id
        direction = None if role is None else role.direction_out
        async for item in outbox:
            if item is None:  # graceful close: everything before it was written
                self._end("local")
                return
            self._current = item
            # Strategy: Sent goes out *before* the write. A reply cannot exist before its
            # request is written, so in the event stream a request's Sent always precedes
            # the reply's Received (emitted after the write, a fast peer's reply could win
            # the race). If the write fails, SessionError and Closed follow.
            if item.report:
                await self._emit(
                    schema.Sent(
                        session_id=self.id,
                        frames=list(item.frames),
                        at=trio.current_time(),
                        pair_id=pair_id,
                        direction=direction,
                    )
                )
            head_room = FrameDecoder.HEAD_BYTES - len(self._sent_head)
            if head_room > 0:
                self._sent_head += bytes(item.data[:head_room])
            try:
                await self._stream.send_all(item.data)
            except (trio.BrokenResourceError, OSError) as exc:
                self._end("error", exc)
                return
            if activity is not None:
                activity.touch()
            size = sum(map(len, item.frames)) if item.nbytes < 0 else item.nbytes
            c, t = self.counters, self._totals
            c.frames_out += len(item.frames)
            c.bytes_out += size
            t.frames_out += len(item.frames)
            t.bytes_out += size
            self._current = None
            item.done.set()


def error_kind(exc: BaseException) -> tuple[SessionErrorKind, str]:
    """The ``SessionError`` kind and message for what ended a session."""
    if isinstance(exc, TlsFailed):
        return "tls", str(exc)
    cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
    if isinstance(cause, ssl.SSLError):  # only a TLS session's stream raises it
        from engine.tls import failure_after_handshake

        tls_alert = failure_after_handshake(exc)
        if tls_alert is not None:
            return "tls", tls_alert
    if isinstance(exc, PartialFrameTimeout):
        return "timeout", str(exc)
    if isinstance(exc, FrameTooLarge):
        return "frame_too_large", str(exc)
    if isinstance(exc, TruncatedFrame):
        return "truncated_frame", str(exc)
    if isinstance(exc, RemoteProtocolError):
        # A length field smaller than the header it includes: a bogus length, like an
        # oversize one.
        return "frame_too_large", str(exc)
    if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset", f"connection reset by peer ({cause})"
    return "io", f"I/O error: {cause or exc}"
