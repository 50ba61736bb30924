"""The engine's exceptions: what ``Engine`` methods raise on purpose.

Split as trio splits its resource errors: ``SessionClosed`` means *you* closed it,
``SessionBroken`` means the world broke it (the ``OSError`` is kept as ``__cause__``).
Protocol errors (a frame too large to encode, a peer breaking the framing) come from
``ipc.errors``; a bad *peer* never raises here, it becomes ``SessionError`` + ``Closed``
events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from ipc.errors import FramewireError
from ipc.schema import ConnectFailReason

if TYPE_CHECKING:
    from ipc.tls import TlsCause

__all__ = [
    "ConnectFailed",
    "EngineError",
    "ListenFailed",
    "SessionBroken",
    "SessionClosed",
    "TlsConfigError",
    "TlsFailed",
    "TooManySessions",
    "UnknownListener",
    "UnknownSession",
]


class EngineError(FramewireError):
    """Base of the engine's errors; catch it to handle any of them."""


class SessionClosed(EngineError):
    """The session was closed or aborted on this side (or the engine shut down).

    What now: stop using this session id; open a new session to talk again.
    """


class SessionBroken(EngineError):
    """The peer or the network broke the session (reset, protocol error, I/O error).

    The session is gone and a ``SessionError`` event says why; ``__cause__`` holds the
    underlying error when there is one. What now: open a new session.
    """


class UnknownSession(EngineError):
    """No session has this id (never existed, or it ended and was forgotten).

    What now: check the id; the events stream tells when sessions end.
    """


class UnknownListener(EngineError):
    """No live listener has this id (never existed, or it was closed).

    What now: check the id; ``listener_closed`` events tell when listeners stop.
    """


class ListenFailed(EngineError):
    """The listening address could not be bound: already in use, not permitted, not an
    address of this machine, or a host name that does not resolve.

    What now: pick another port (0 lets the system choose) or address.
    """


class TooManySessions(EngineError):
    """The engine already holds ``max_sessions`` sessions; nothing was opened.

    What now: close sessions you no longer need, or raise the limit at ``open_engine``.
    """


class ConnectFailed(EngineError):
    """The TCP connection could not be made; the session never existed for the peer.

    ``reason`` is one of ``"refused"`` (nothing listens on that port), ``"dns"`` (the host
    name did not resolve), ``"timeout"`` (no answer within the connect timeout),
    ``"unreachable"`` (no route to the host or network), ``"tls"`` (the TLS handshake
    failed: ``TlsFailed``) or ``"error"`` (any other OS error). What now: fix the address
    or start the server, then connect again.
    """

    def __init__(self, reason: ConnectFailReason, message: str) -> None:
        if reason not in get_args(ConnectFailReason):
            raise ValueError(f"unknown connect failure reason {reason!r}")
        super().__init__(message)
        self.reason: ConnectFailReason = reason
        self.message = message


class TlsFailed(ConnectFailed):
    """The TLS handshake failed (reason ``"tls"``); ``cause`` says why in one word
    (``ipc.tls.TlsCause``: ``expired``, ``hostname``, ``unknown_ca``, ...) and the message
    in a sentence. What now: what the message says (trust the CA with --cafile, connect by
    the certificate's name, give a client certificate...)."""

    def __init__(self, cause: TlsCause, message: str) -> None:
        super().__init__("tls", message)
        self.cause: TlsCause = cause


class TlsConfigError(EngineError):
    """TLS options name a file that cannot be read or used (a CA file, a certificate, a
    key); nothing was opened. What now: fix the path or the file."""
