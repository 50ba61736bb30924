"""A listener: one listening socket whose clients become sessions (the server role).

``Listener.run`` is a task of the engine's nursery, with a cancel scope of its own:
``close`` stops the accepting and nothing else, so the sessions it accepted carry on (they
are the engine's, like every session). It binds, emits ``Listening`` (the port actually
bound, and whether the address is reachable from the network), then accepts until closed.
Each client becomes either an accepted session (``listen``; with ``echo`` it sends every
frame back) or the client leg of a relay pair (``relay``, see ``engine.relay``), with the
listener's ``Limits``: past ``max_clients`` live clients, or when the engine is full, a
client is accepted and closed at once and a ``log`` event says why (at most
``REFUSAL_LINES_PER_SECOND`` such lines; the rest are counted in the next one).

Binding is loopback unless the caller names another address; ``Listening.reachable``
says when it is not loopback, so the CLI and the GUI can say the port is open to the
network.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

import trio

from engine.errors import ListenFailed
from engine.forward import Forward
from engine.limits import Activity, Limits, ReadGuard
from engine.relay import start_pair
from engine.role import Role
from engine.streams import Accept, Transport, address_of, host_and_port, tcp_transport
from engine.tls import ServerHandshake
from ipc import schema
from ipc.framing import FramingSpec
from ipc.schema import ListenerClosedBy

if TYPE_CHECKING:
    from engine.engine import Engine
    from engine.relay import Upstream
    from engine.session import Emit, Session

__all__ = ["ACCEPT_ERROR_PAUSE_SECONDS", "BACKLOG", "REFUSAL_LINES_PER_SECOND", "Listener"]

#: The listen queue: clients the kernel holds while the engine is busy.
BACKLOG = socket.SOMAXCONN
#: After an accept failed for want of resources (file descriptors, memory), wait this
#: long before accepting again, as ``trio.serve_listeners`` does.
ACCEPT_ERROR_PAUSE_SECONDS = 0.1
#: Lines logged about clients turned away, per second at most.
REFUSAL_LINES_PER_SECOND = 10
#: How long the last event of a closing listener may wait for the consumer.
_FINAL_EVENT_GRACE_SECONDS = 2.0


class Listener:
    """One listening socket of the engine (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        emit: Emit,
        listener_id: int,
        *,
        host: str,
        port: int,
        spec: FramingSpec,
        label: str,
        limits: Limits,
        echo: bool = False,
        upstream: Upstream | None = None,
        tls: ServerHandshake | None = None,
    ) -> None:
        self.engine = engine
        self.id = listener_id
        self.host = host
        self.port = port
        self.spec = spec
        self.label = label
        self.limits = limits
        self.echo = echo
        self.upstream = upstream
        #: The handshake each client makes (None: a plaintext listener).
        self.tls = tls
        self.local = ""
        self.reachable = False
        self.opened_at = trio.current_time()
        #: Clients accepted and turned away in all; live client sessions.
        self.accepted = 0
        self.refused = 0
        self.clients: set[int] = set()
        self._emit = emit
        self._scope = trio.CancelScope()
        self._closed_by: ListenerClosedBy = "shutdown"
        self._done = trio.Event()
        self._refusal_window = 0.0
        self._refusal_lines = 0
        self._refusals_unlogged = 0

    @property
    def role(self) -> schema.ListenerRole:
        return "listen" if self.upstream is None else "relay"

    def listening_event(self) -> schema.Listening:
        upstream = self.upstream
        return schema.Listening(
            listener_id=self.id,
            role=self.role,
            host=self.host,
            port=self.port,
            local=self.local,
            reachable=self.reachable,
            framing=self.spec.to_wire(),
            upstream="" if upstream is None else upstream.address,
            upstream_framing={} if upstream is None else upstream.spec.to_wire(),
            echo=self.echo,
            label=self.label,
            limits=self.limits.to_wire(),
            at=trio.current_time(),
            tls={} if self.tls is None else self.tls.options.to_wire(),
            upstream_tls=None
            if upstream is None or upstream.tls is None
            else upstream.tls.to_wire(),
        )

    def describe(self) -> dict[str, Any]:
        """The ``list_listeners`` map."""
        info = self.listening_event().to_params()
        del info["at"]
        info.update(
            clients=len(self.clients),
            accepted=self.accepted,
            refused=self.refused,
            opened_at=self.opened_at,
        )
        return info

    async def run(self, *, task_status: trio.TaskStatus[schema.Listening]) -> None:
        """Bind, report ``Listening`` (also to ``task_status``), accept until closed.

        Raises:
            ListenFailed: (before ``started``) the address could not be bound.
        """
        try:
            sock = await _bind(self.host, self.port)
        except BaseException:
            self._done.set()
            raise
        try:
            with sock:
                self.local = address_of(sock.getsockname, "?")
                self.port = sock.getsockname()[1]
                self.reachable = _reachable(sock.getsockname()[0])
                event = self.listening_event()
                await self._emit(event)
                task_status.started(event)
                with self._scope:
                    await self._accept(trio.SocketListener(sock))
        finally:
            self._done.set()
            with trio.move_on_after(_FINAL_EVENT_GRACE_SECONDS, shield=True):
                await self._emit(
                    schema.ListenerClosed(
                        listener_id=self.id,
                        by=self._closed_by,
                        accepted=self.accepted,
                        refused=self.refused,
                        at=trio.current_time(),
                    )
                )

    def close(self, by: ListenerClosedBy = "local") -> None:
        """Stop accepting (the sessions accepted stay); ``wait_closed`` waits for it."""
        if not self._scope.cancel_called:
            self._closed_by = by
            self._scope.cancel()

    async def wait_closed(self) -> None:
        await self._done.wait()

    async def _accept(self, listener: trio.SocketListener) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # out of descriptors or memory: wait for some to free
                await self._log("warning", f"cannot accept a client: {exc}")
                await trio.sleep(ACCEPT_ERROR_PAUSE_SECONDS)
                continue
            refusal = self._refusal()
            if refusal is not None:
                self.refused += 1
                peer = address_of(stream.socket.getpeername, "?")
                stream.socket.close()
                await self._log_refusal(peer, refusal)
                continue
            self.accepted += 1
            transport = tcp_transport(stream, "?")
            if self.tls is not None:  # the handshake comes once the session is announced
                transport = dataclasses.replace(transport, secure=self.tls)
            if self.upstream is None:
                session = self._start_client(transport)
            else:
                session = start_pair(self, transport, self.upstream)
            self.clients.add(session.id)

    def _refusal(self) -> str | None:
        """Why the next client cannot be taken now, or None."""
        if len(self.clients) >= self.limits.max_clients:
            return f"{len(self.clients):,} clients connected (max_clients)"
        room = self.engine.room()
        if room < (1 if self.upstream is None else 2):
            return "the engine holds all the sessions it may (max_sessions)"
        return None

    def _start_client(self, transport: Transport) -> Session:
        forward = Forward(None, report=True, passthrough=True) if self.echo else None
        role = Role(
            kind="accept",
            listener_id=self.id,
            guard=ReadGuard(self.limits, Activity()),
            forward=forward,
            on_end=self.client_ended,
        )
        host, port = host_and_port(transport.peer)
        session = self.engine.start_session(
            Accept(transport, self.id), host, port, spec=self.spec, label=self.label, role=role
        )
        if forward is not None:
            forward.bind(session)
        return session

    def client_ended(self, session: Session) -> None:
        self.clients.discard(session.id)

    async def _log(self, level: str, message: str) -> None:
        where = f"listener {self.id} ({self.local})"
        await self._emit(
            schema.LogLine(level=level, message=f"{where}: {message}", at=trio.current_time())
        )

    async def _log_refusal(self, peer: str, why: str) -> None:
        now = trio.current_time()
        if now - self._refusal_window >= 1.0:
            self._refusal_window, self._refusal_lines = now, 0
        if self._refusal_lines >= REFUSAL_LINES_PER_SECOND:
            self._refusals_unlogged += 1
            return
        self._refusal_lines += 1
        more = self._refusals_unlogged
        self._refusals_unlogged = 0
        also = f" ({more:,} more turned away since the last such line)" if more else ""
        await self._log("warning", f"turned away {peer}: {why}{also}")


def _reachable(host: str) -> bool:
    """Whether a bound address is reachable from the network (anything but loopback)."""
    return not ipaddress.ip_address(host.split("%")[0]).is_loopback


async def _bind(host: str, port: int) -> trio.socket.SocketType:
    """A listening socket on ``host`` (its first address) and ``port`` (0: any free one).

    Raises:
        ListenFailed: the host does not resolve, or the address cannot be bound.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not host:
        raise ListenFailed("the host to listen on is empty (0.0.0.0 or :: for every address)")
    try:
        infos = await trio.socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as exc:
        raise ListenFailed(f"cannot listen on {where}: {host!r} does not resolve ({exc})") from exc
    family, kind, proto, _, address = infos[0]
    sock = trio.socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenFailed(f"cannot listen on {where}: {_bind_failure(exc)}") from exc
    return sock


def _bind_failure(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (another program listens there?)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "not an address of this machine"
    return exc.strerror or str(exc)
