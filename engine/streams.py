"""Where a session's byte stream comes from: the one thing the roles differ in.

A session is a session whatever its role (docs/design.md, "Roles and layers"): frames,
counters, flow control and close/abort work the same for a connected one, an accepted one
and each leg of a relay pair. What differs is how its stream is obtained, and that is an
``Opening``: ``Connect`` makes a TCP connection, ``Accept`` takes one a listener accepted.
The session asks its opening for the first event to report (``announce``), for the
stream (``open``), and for the event that says it is up (``opened``).

A ``Transport`` is what an opening hands over: the stream frames are read from and written
to, and the TCP socket under it when there is one (for addresses, the reset of an abort
and the engine's readiness watcher). A layer that wraps the stream is an opening that
wraps another: it takes the inner transport and replaces its ``stream`` (TLS on a client
side: ``engine.tls.SecureConnect``, before the session says it is connected). An
accepted TLS client makes its handshake after the session is announced, so a failed one
is seen: its transport carries the handshake to make (``secure``).
Tests hand a session a memory stream with no socket.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ipc import schema
from ipc.schema import ConnectFailReason

if TYPE_CHECKING:
    from engine.session import Session
    from ipc.tls import TlsInfo

__all__ = [
    "Accept",
    "Connect",
    "Opening",
    "Secure",
    "Transport",
    "address_of",
    "connect_failure",
    "host_and_port",
    "open_tcp_stream",
    "set_linger_zero",
    "tcp_transport",
]


#: Makes the TLS handshake over a stream with the peer named (for messages); returns
#: the TLS stream and what it established (raises ``engine.errors.TlsFailed``).
Secure = Callable[[trio.abc.Stream, str], Awaitable[tuple[trio.abc.Stream, "TlsInfo"]]]


@dataclass(frozen=True, slots=True)
class Transport:
    """A session's stream, ready for frames.

    Attributes:
        stream: what frames are read from and written to.
        socket: the TCP socket under ``stream``; None for a stream without one (tests).
        local, peer: "host:port" of each end.
        tls: what the TLS handshake established, when ``stream`` is TLS already (a
            client side: ``engine.tls.SecureConnect``).
        secure: the TLS handshake still to make once the session is announced (an
            accepted client of a TLS listener: ``engine.tls.ServerHandshake``).
    """

    stream: trio.abc.Stream
    socket: trio.socket.SocketType | None
    local: str
    peer: str
    tls: TlsInfo | None = None
    secure: Secure | None = None


class Opening(Protocol):
    """How a session obtains its stream (see the module docstring)."""

    def announce(self, session: Session) -> schema.Event | None:
        """The event that says the session exists, before its stream is there (or None)."""

    async def open(self, session: Session) -> Transport:
        """The session's transport.

        Raises:
            OSError (``TimeoutError`` for a timeout), UnicodeError: the stream could not
                be obtained; the session reports it as ``ConnectFailed``.
        """

    def opened(self, session: Session) -> schema.Event:
        """The event that says the session is up (after ``open`` returned)."""


class Connect:
    """Connect to the session's host and port, within ``timeout`` seconds."""

    __slots__ = ("pair_id", "timeout")

    def __init__(self, timeout: float, *, pair_id: int | None = None) -> None:
        self.timeout = timeout
        #: The relay pair whose upstream leg this is, if any.
        self.pair_id = pair_id

    def announce(self, session: Session) -> schema.Event:
        return schema.Connecting(
            session_id=session.id,
            host=session.host,
            port=session.port,
            framing=session.spec.to_wire(),
            label=session.label,
            at=trio.current_time(),
            pair_id=self.pair_id,
        )

    async def open(self, session: Session) -> Transport:
        where = f"{session.host}:{session.port}"
        with trio.move_on_after(self.timeout):
            return tcp_transport(await open_tcp_stream(session.host, session.port), where)
        raise TimeoutError(f"connecting to {where} timed out after {self.timeout:g} s")

    def opened(self, session: Session) -> schema.Event:
        # Unchecked: every value is the engine's own (set-up time of many sessions).
        return schema.Connected._unchecked(
            session_id=session.id, local=session.local, peer=session.peer, at=trio.current_time()
        )


class Accept:
    """Take a stream a listener accepted (``engine.listener``)."""

    __slots__ = ("listener_id", "pair_id", "transport")

    def __init__(
        self, transport: Transport, listener_id: int, *, pair_id: int | None = None
    ) -> None:
        self.transport = transport
        self.listener_id = listener_id
        self.pair_id = pair_id

    def announce(self, session: Session) -> None:
        return None

    async def open(self, session: Session) -> Transport:
        await trio.lowlevel.checkpoint()
        return self.transport

    def opened(self, session: Session) -> schema.Event:
        return schema.Accepted(
            session_id=session.id,
            listener_id=self.listener_id,
            local=session.local,
            peer=session.peer,
            framing=session.spec.to_wire(),
            label=session.label,
            at=trio.current_time(),
            pair_id=self.pair_id,
        )


def tcp_transport(stream: trio.SocketStream, peer_fallback: str) -> Transport:
    """The transport of a TCP stream, with its addresses."""
    sock = stream.socket
    return Transport(
        stream, sock, address_of(sock.getsockname, "?"), address_of(sock.getpeername, peer_fallback)
    )


async def open_tcp_stream(host: str, port: int) -> trio.SocketStream:
    """``trio.open_tcp_stream``, with a numeric address connected directly.

    A numeric address resolves to itself, so there is nothing for happy eyeballs to race:
    one socket and one ``connect`` instead of a resolver call, a nursery and a task per
    connection (a third of the set-up time of 10,000 loopback sessions). Names, and IPv6
    addresses with a zone (``fe80::1%eth0``), still go through ``open_tcp_stream``.
    """
    family = _numeric_family(host)
    if family is None:
        return await trio.open_tcp_stream(host, port)
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        await sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


@functools.lru_cache(maxsize=256)
def _numeric_family(host: str) -> socket.AddressFamily | None:
    """The address family of a numeric address without a zone; None for anything else
    (a name). Cached: the many sessions of a set-up mostly go to a few hosts."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if "%" in host:
        return None
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def connect_failure(exc: OSError, host: str, port: int) -> tuple[ConnectFailReason, str]:
    """Map an ``open_tcp_stream`` error to a reason and a one-line message."""
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


def address_of(get: Callable[[], Any], fallback: str) -> str:
    """``host:port`` of a socket end; ``fallback`` if the peer already reset it."""
    try:
        address = get()
    except OSError:
        return fallback
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_and_port(address: str) -> tuple[str, int]:
    """``address_of``'s "host:port" (or "[v6]:port") split; port 0 if it has none."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else 0


def set_linger_zero(sock: trio.socket.SocketType) -> None:
    """Make ``close()`` send a reset instead of a FIN (an abort, as the peer sees it)."""
    with contextlib.suppress(OSError):  # the kernel may have torn it down already
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
