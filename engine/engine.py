"""The Engine: owns the nursery and the session table; the public async API.

``open_engine()`` opens the engine's nursery and yields an ``Engine``. Each session runs as
one task in that nursery (``Session.run``), with its own nursery inside it (its reader,
and its writer once it has sent something), so closing or losing one session cancels
exactly its tasks and never touches the others. An idle session has no task: until its
first bytes it dozes in the engine's ``ReadinessWatcher`` (one task, one epoll set; see
``engine.readiness``), which starts its task again (``Session.resume``) in this nursery.
Everything the engine observes is an ``ipc.schema`` event on
``Engine.events``, a bounded channel with one consumer: when the consumer falls behind,
sessions stop reading their sockets (TCP pushes back on the peers) rather than buffering
without bound or dropping events.

Three roles, one kind of session: ``connect`` (a client), ``listen`` (a server: each
client a listener accepts is a session, ``engine.listener``) and ``relay`` (each accepted
client and the upstream connection made for it are two sessions, a pair,
``engine.relay``). Listeners run as tasks of the engine's nursery too; closing one stops
the accepting, and its sessions stay.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from engine.errors import EngineError, TooManySessions, UnknownListener, UnknownSession
from engine.limits import Limits
from engine.readiness import ReadinessWatcher, open_watcher
from engine.session import Counters, PartialFrame, Session
from engine.streams import Connect, Opening
from ipc import schema
from ipc.errors import LocalProtocolError
from ipc.framing import DEFAULT, FramingSpec, encode_frames

# The roles' and layers' modules (listen, relay, TLS, capture) are imported by the
# methods that use them: a one-shot client (``framewire-engine HOST:PORT --send x``,
# run in loops by scripts) pays only for the client's imports (tools/bench/startup.py).
if TYPE_CHECKING:
    from engine.capture import Capture
    from engine.listener import Listener
    from engine.relay import Upstream
    from engine.role import Role
    from ipc.diagnosis import Diagnosis
    from ipc.tls import ClientTls, ServerTls

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "ENDED_SESSIONS_REMEMBERED",
    "EVENT_BUFFER",
    "SHUTDOWN_GRACE_SECONDS",
    "Engine",
    "EngineStatistics",
    "open_engine",
]

#: Events held between the sessions and the consumer. Small on purpose (trio-websocket's
#: backpressure advice): one ``Received`` event carries a whole read's worth of frames, so
#: a few dozen are plenty to keep the pipe busy, and the bound is what makes a slow
#: consumer stop the socket reads.
EVENT_BUFFER = 64

#: Sessions one engine holds at most (connecting or connected).
DEFAULT_MAX_SESSIONS = 10_000

#: How long ``aclose`` lets sessions close their sockets and emit ``Closed`` before it
#: cancels what is left.
SHUTDOWN_GRACE_SECONDS = 2.0

#: Ended sessions whose fate is remembered, so a late ``send`` says "closed"/"broken"
#: rather than "unknown session". Bounded like every other table.
ENDED_SESSIONS_REMEMBERED = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineStatistics:
    """Engine-wide totals since it started (payload bytes; headers not counted)."""

    sessions: int
    frames_in: int
    bytes_in: int
    frames_out: int
    bytes_out: int


class Engine:
    """Many TCP sessions with length-prefixed framing. Get one from ``open_engine()``.

    Attributes:
        events: every ``ipc.schema`` event, in order per session. Bounded; read it from
            exactly one task, and keep reading, or the sessions stop receiving.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        max_sessions: int,
        event_buffer: int,
        watcher: ReadinessWatcher | None = None,
    ) -> None:
        self._nursery = nursery
        self._watcher = watcher
        self._max_sessions = max_sessions
        self._events_send, self.events = trio.open_memory_channel[schema.Event](event_buffer)
        self._sessions: dict[int, Session] = {}
        self._ended: OrderedDict[int, Session] = OrderedDict()
        self._next_id = 1
        self._listeners: dict[int, Listener] = {}
        self._listener_ids = itertools.count(1)
        self._pair_ids = itertools.count(1)
        self._totals = Counters()
        #: The continuous capture, while one runs (``start_capture``).
        self._capture: Capture | None = None
        # Bound once and shared: a bound method made per session is 64 bytes each.
        self._emit = self._emit_event
        #: Every event of the engine goes through this (sessions, listeners, pairs).
        self.emit = self._emit
        self._on_session_end = self._forget
        self._closing = False
        self._all_ended = trio.Event()
        self._all_ended.set()
        #: When the engine started, on trio's clock (the ``at`` of its events).
        self.started_at = trio.current_time()

    async def connect(
        self,
        host: str,
        port: int,
        *,
        framing: FramingSpec = DEFAULT,
        connect_timeout: float = 10.0,
        label: str = "",
        tls: ClientTls | None = None,
    ) -> int:
        """Open a session; return its id once connected (with ``tls``, once the TLS
        handshake is done too: ``connect_timeout`` bounds both).

        Emits ``Connecting`` (with the new id), then ``Connected`` or ``ConnectFailed``.
        These go through the bounded ``events`` channel like every event, so the consumer
        must be reading (from another task) for ``connect`` to return. If the caller is
        cancelled while connecting, the attempt is abandoned and the session ends with
        ``Closed(by="shutdown")``.

        Raises:
            ConnectFailed: refused, DNS failure, timeout, unreachable or another OS error
                (see ``reason``); a ``ConnectFailed`` event was emitted.
            TooManySessions: ``max_sessions`` sessions are open already.
            SessionClosed: the session was closed (or the engine shut down) while
                connecting.
            LocalProtocolError: the port or the timeout is out of range.
            TlsFailed: the TLS handshake failed (a ``ConnectFailed`` of reason "tls").
            TlsConfigError: a file the TLS options name cannot be used (nothing opened).
        """
        if not 1 <= port <= 65535:
            raise LocalProtocolError(f"port {port} is out of range 1-65535")
        if not connect_timeout > 0:
            raise LocalProtocolError(f"connect_timeout must be > 0, not {connect_timeout}")
        opening: Opening = Connect(connect_timeout)
        if tls is not None:
            from engine.tls import SecureConnect, client_context

            opening = SecureConnect(Connect(connect_timeout), client_context(tls), tls)
        session = self.start_session(opening, host, port, spec=framing, label=label)
        await session.wait_connected()
        return session.id

    def start_session(
        self,
        opening: Opening,
        host: str,
        port: int,
        *,
        spec: FramingSpec,
        label: str = "",
        role: Role | None = None,
    ) -> Session:
        """Make a session that gets its stream from ``opening`` and start it (no wait).

        For the roles' modules (``engine.listener``, ``engine.relay``); a library user
        calls ``connect``, ``listen`` or ``relay``.

        Raises:
            TooManySessions: ``max_sessions`` sessions are open already.
            EngineError: the engine is shutting down.
        """
        if self._closing:
            raise EngineError("the engine is shutting down")
        if len(self._sessions) >= self._max_sessions:
            raise TooManySessions(
                f"the engine already holds {len(self._sessions)} sessions "
                f"(max_sessions={self._max_sessions})"
            )
        session = Session(
            session_id=self._next_id,
            host=host,
            port=port,
            spec=spec,
            label=label,
            emit=self._emit,
            totals=self._totals,
            on_end=self._on_session_end,
            watcher=self._watcher,
            role=role,
        )
        self._next_id += 1
        self._sessions[session.id] = session
        if self._all_ended.is_set():
            self._all_ended = trio.Event()
        self._nursery.start_soon(session.run, opening)
        return session

    def room(self) -> int:
        """How many more sessions the engine may hold now."""
        return 0 if self._closing else self._max_sessions - len(self._sessions)

    def spawn(self, async_fn: Callable[[], Awaitable[object]]) -> None:
        """Run a task in the engine's nursery (a relay pair's; it ends with the engine)."""
        self._nursery.start_soon(async_fn)

    def new_pair_id(self) -> int:
        return next(self._pair_ids)

    # ------------------------------------------------------------------ listeners

    async def listen(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        framing: FramingSpec = DEFAULT,
        label: str = "",
        echo: bool = False,
        limits: Limits = Limits(),  # noqa: B008 (frozen, so one shared default is safe)
        tls: ServerTls | None = None,
    ) -> schema.Listening:
        """Listen on ``host``:``port`` (port 0: a free one); each client that connects
        becomes a session (``Accepted``, then the usual events), sent back what it
        sends if ``echo``. Returns the ``Listening`` event (also emitted): the listener's
        id, the port bound, and whether the address is reachable from the network (any
        address but loopback is). With ``tls`` each client makes a TLS handshake once
        accepted: ``TlsEstablished``, or ``SessionError`` (kind "tls") and ``Closed``.

        Raises:
            ListenFailed: the address cannot be bound (in use, not permitted, unknown).
            TlsConfigError: the TLS certificate, key or client CA cannot be used.
            EngineError: the engine is shutting down.
            LocalProtocolError: the port is out of range.
        """
        return await self._start_listener(
            host, port, spec=framing, label=label, limits=limits, echo=echo, tls=tls
        )

    async def relay(
        self,
        listen_host: str,
        listen_port: int,
        upstream_host: str,
        upstream_port: int,
        *,
        framing: FramingSpec = DEFAULT,
        upstream_framing: FramingSpec | None = None,
        connect_timeout: float = 10.0,
        label: str = "",
        limits: Limits = Limits(),  # noqa: B008 (frozen, so one shared default is safe)
        tls: ServerTls | None = None,
        upstream_tls: ClientTls | None = None,
    ) -> schema.Listening:
        """Listen like ``listen`` (``tls``: a TLS listener); for each client, connect to
        the upstream and relay frames both ways (``engine.relay``): decoded with
        ``framing`` on the client leg and ``upstream_framing`` (default: the same) on
        the upstream leg, re-encoded for the other. Frames come as ``Received`` events
        with ``pair_id`` and ``direction``; ``send`` to a leg injects frames into it.
        ``upstream_tls``: the upstream leg speaks TLS, verified as ``connect``'s ``tls``
        says (a failed handshake closes the client leg with the reason).

        Raises:
            ListenFailed, EngineError, LocalProtocolError: as ``listen`` (and an upstream
                port out of range, or a connect_timeout <= 0).
        """
        if not 1 <= upstream_port <= 65535:
            raise LocalProtocolError(f"upstream port {upstream_port} is out of range 1-65535")
        if not connect_timeout > 0:
            raise LocalProtocolError(f"connect_timeout must be > 0, not {connect_timeout}")
        from engine.relay import Upstream
        from engine.tls import client_context

        upstream = Upstream(
            host=upstream_host,
            port=upstream_port,
            spec=framing if upstream_framing is None else upstream_framing,
            connect_timeout=connect_timeout,
            tls=upstream_tls,
            context=None if upstream_tls is None else client_context(upstream_tls),
        )
        return await self._start_listener(
            listen_host,
            listen_port,
            spec=framing,
            label=label,
            limits=limits,
            upstream=upstream,
            tls=tls,
        )

    async def _start_listener(
        self,
        host: str,
        port: int,
        *,
        spec: FramingSpec,
        label: str,
        limits: Limits,
        echo: bool = False,
        upstream: Upstream | None = None,
        tls: ServerTls | None = None,
    ) -> schema.Listening:
        if not 0 <= port <= 65535:
            raise LocalProtocolError(f"port {port} is out of range 0-65535")
        if self._closing:
            raise EngineError("the engine is shutting down")
        from engine.listener import Listener
        from engine.tls import ServerHandshake, server_context

        listener = Listener(
            self,
            self._emit,
            next(self._listener_ids),
            host=host,
            port=port,
            spec=spec,
            label=label,
            limits=limits,
            echo=echo,
            upstream=upstream,
            tls=None if tls is None else ServerHandshake(server_context(tls), tls),
        )
        self._listeners[listener.id] = listener

        async def run(task_status: trio.TaskStatus[schema.Listening]) -> None:
            try:
                await listener.run(task_status=task_status)
            finally:
                del self._listeners[listener.id]

        event: schema.Listening = await self._nursery.start(run)
        return event

    async def close_listener(self, listener_id: int, *, close_sessions: bool = False) -> None:
        """Stop accepting; the sessions it accepted stay, unless ``close_sessions`` (then
        they are closed gracefully, as ``close`` does). Returns once done.

        Raises:
            UnknownListener: no live listener has this id.
        """
        listener = self._listeners.get(listener_id)
        if listener is None:
            raise UnknownListener(f"no listener {listener_id}")
        listener.close()
        await listener.wait_closed()
        if close_sessions:
            async with trio.open_nursery() as nursery:
                for session in list(self._sessions.values()):
                    if session.role is not None and session.role.listener_id == listener_id:
                        nursery.start_soon(session.close)

    def listeners(self) -> list[dict[str, Any]]:
        """One map per live listener, as documented in ``ipc.schema.ListListeners``."""
        return [listener.describe() for listener in self._listeners.values()]

    async def _emit_event(self, event: schema.Event) -> None:
        """Every event of every session: to the capture, if one runs, then to ``events``."""
        capture = self._capture
        if capture is not None:
            if capture.error is None:
                await capture.record(event)
            else:  # the disk filled up or went away: stop capturing, say why, carry on
                self._capture = None
                self._nursery.start_soon(capture.aclose)
                message = f"capture to {capture.path} stopped: {capture.error}"
                log = schema.LogLine(level="error", message=message, at=trio.current_time())
                await self._events_send.send(log)
        await self._events_send.send(event)

    def start_capture(
        self,
        path: str,
        *,
        max_bytes: int | None = None,
        keep: int | None = None,
    ) -> Capture:
        """Append every frame and session event from now on to ``path`` (``engine.capture``;
        ``max_bytes`` and ``keep``: its ``DEFAULT_CAPTURE_BYTES`` and ``DEFAULT_CAPTURE_KEEP``
        when not given).

        A capture already running is stopped first (its queued lines are written).

        Raises:
            OSError: ``path`` cannot be opened for appending.
            ValueError: ``max_bytes`` or ``keep`` out of range.
        """
        from engine.capture import DEFAULT_CAPTURE_BYTES, DEFAULT_CAPTURE_KEEP, Capture

        capture = Capture(
            path,
            max_bytes=DEFAULT_CAPTURE_BYTES if max_bytes is None else max_bytes,
            keep=DEFAULT_CAPTURE_KEEP if keep is None else keep,
        )
        previous, self._capture = self._capture, capture
        if previous is not None:
            self._nursery.start_soon(previous.aclose)
        self._nursery.start_soon(capture.run)
        return capture

    async def stop_capture(self) -> Capture | None:
        """Stop the capture, once its queued lines are written; return it (None if none)."""
        capture, self._capture = self._capture, None
        if capture is not None:
            await capture.aclose()
        return capture

    @property
    def capture(self) -> Capture | None:
        """The capture running now, if any."""
        return self._capture

    def _forget(self, session: Session) -> None:
        """Move an ended session from the live table to the remembered ones."""
        if session.role is not None and session.role.on_end is not None:
            session.role.on_end(session)
        del self._sessions[session.id]
        self._ended[session.id] = session
        if len(self._ended) > ENDED_SESSIONS_REMEMBERED:
            self._ended.popitem(last=False)
        if not self._sessions:
            self._all_ended.set()

    async def send(self, session_id: int, frames: Sequence[bytes]) -> None:
        """Send ``frames`` in order, as one write; return once written to the socket.

        A peer that does not read makes this wait (memory stays bounded). Emits ``Sent``
        after writing (possibly just after this returns: a slow event consumer delays the
        session's next write, never the completion of this one). If the caller is
        cancelled while waiting, the frames may still be written.

        Raises:
            UnknownSession: no such session.
            SessionClosed: the session was closed on this side.
            SessionBroken: the peer or the network ended the session.
            LocalProtocolError: a frame is too large for the session's framing; nothing
                was sent.
        """
        session = self._session(session_id)
        data = encode_frames(frames, session.spec)
        await session.send(frames, data)

    async def close(self, session_id: int) -> None:
        """Close gracefully: flush queued sends, close the socket, emit ``Closed(by="local")``.

        Returns once the session is over. If the peer never reads, the flush waits; use
        ``abort`` (or a cancel scope) then.

        Raises:
            UnknownSession: no such session (a session that already ended is not an error).
        """
        session = self._live_session(session_id)
        if session is not None:
            await session.close()

    async def abort(self, session_id: int) -> None:
        """Close at once: drop queued sends, reset the connection, emit ``Closed(by="abort")``.

        Raises:
            UnknownSession: no such session (a session that already ended is not an error).
        """
        session = self._live_session(session_id)
        if session is not None:
            await session.abort()

    def sessions(self) -> list[dict[str, Any]]:
        """One map per live session, as documented in ``ipc.schema.ListSessions``."""
        return [session.describe() for session in self._sessions.values()]

    def describe(self, session_id: int) -> dict[str, Any] | None:
        """The ``sessions()`` map of one session; ``None`` if it has ended.

        Raises:
            UnknownSession: no such session (never existed, or ended long ago).
        """
        session = self._live_session(session_id)
        return None if session is None else session.describe()

    def diagnose(self, session_id: int) -> Diagnosis | None:
        """What the session's first bytes say about its framing so far (``ipc.diagnosis``),
        as if it ended now: for a client that stops waiting for a reply.

        Raises:
            UnknownSession: no such session (never existed, or ended long ago).
        """
        session = self._live_session(session_id)
        if session is None:
            session = self._ended[session_id]
        return session.diagnose_now()

    def partial_frame(self, session_id: int) -> PartialFrame | None:
        """The frame the session has begun to receive and not finished; None between
        frames, or once the session has ended.

        Raises:
            UnknownSession: no such session (never existed, or ended long ago).
        """
        session = self._live_session(session_id)
        return None if session is None else session.partial_frame()

    def statistics(self) -> EngineStatistics:
        """Engine-wide totals since the engine started."""
        t = self._totals
        return EngineStatistics(
            sessions=len(self._sessions),
            frames_in=t.frames_in,
            bytes_in=t.bytes_in,
            frames_out=t.frames_out,
            bytes_out=t.bytes_out,
        )

    async def aclose(self) -> None:
        """Close every session, emitting ``Closed(by="shutdown")``, then stop the engine.

        Sessions get ``SHUTDOWN_GRACE_SECONDS`` to close their sockets and hand over their
        last event; whatever is left then is cancelled. Idempotent.
        """
        self._closing = True
        for listener in self._listeners.values():
            listener.close("shutdown")
        for session in list(self._sessions.values()):
            session.shutdown()
        with trio.move_on_after(SHUTDOWN_GRACE_SECONDS):
            await self._all_ended.wait()
            await self.stop_capture()
        self._nursery.cancel_scope.cancel()

    def _session(self, session_id: int) -> Session:
        """The live session, or raise what a command on that id should raise."""
        session = self._live_session(session_id)
        if session is None:
            raise self._ended[session_id].ended_error()
        return session

    def _live_session(self, session_id: int) -> Session | None:
        """The live session, None if it ended recently, UnknownSession otherwise."""
        session = self._sessions.get(session_id)
        if session is None and session_id not in self._ended:
            raise UnknownSession(f"no session {session_id}")
        return session


@asynccontextmanager
async def open_engine(
    *, max_sessions: int = DEFAULT_MAX_SESSIONS, event_buffer: int = EVENT_BUFFER
) -> AsyncIterator[Engine]:
    """Run an engine for the duration of the ``async with`` block.

    On exit every session is closed (``Engine.aclose``) within the shutdown deadline.
    """
    # One nursery around the body (an exception from it comes out one group deep): the
    # watcher's task runs beside the sessions' and ``aclose`` cancels both (having woken
    # the dozing sessions to close). Its epoll set closes after that nursery.
    engine: Engine | None = None
    try:
        with open_watcher() as watcher:
            async with trio.open_nursery() as nursery:
                if watcher is not None:
                    watcher.start(nursery)
                engine = Engine(
                    nursery, max_sessions=max_sessions, event_buffer=event_buffer, watcher=watcher
                )
                try:
                    yield engine
                finally:
                    with trio.CancelScope(shield=True):
                        await engine.aclose()
    finally:
        # Every session task is done, also when the body raised: tell the consumer (which
        # may run outside the block) that no more events will come.
        if engine is not None:
            engine._events_send.close()
