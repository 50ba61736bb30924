"""The requests that act on the engine's sessions: checked, then run against the Engine.

Each handler takes its decoded command (``ipc.schema``) and returns the result dict, or
raises a ``FramewireError`` that becomes the request's error response. A new method
that acts on sessions or listeners is a schema class in ``ipc/schema.py`` plus a handler
registered in ``Commands.__init__``. Requests a
connection answers itself (``ping``, ``get_api_info``, ``flow_control``, ``shutdown``)
are not here: they concern the controller, not the sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.limits import Limits
from engine.sniff import sniff
from ipc.codec import MAX_MESSAGE_BYTES
from ipc.errors import FramewireError, LocalProtocolError, SchemaError
from ipc.framing import FramingSpec
from ipc.schema import (
    Abort,
    Capture,
    Close,
    CloseListener,
    Command,
    Framing,
    Listen,
    Listening,
    ListListeners,
    ListSessions,
    Open,
    Relay,
    Send,
    Sniff,
)
from ipc.tls import ClientTls, ServerTls

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = ["MAX_IPC_FRAME_LENGTH", "MAX_SNIFF_BYTES", "CaptureFailed", "Commands", "Handler"]

#: A session's max_frame_length must let one frame travel in one IPC message.
MAX_IPC_FRAME_LENGTH = MAX_MESSAGE_BYTES - 64 * 1024

#: The most a ``sniff`` reads.
MAX_SNIFF_BYTES = 64 * 1024

#: Runs one decoded command; returns the response's result.
Handler = Callable[[Any], Awaitable[dict[str, Any]]]


def _check_host(method: str, host: str, field: str = "host") -> None:
    """A host name or address as the resolver takes it: not empty, no control characters
    (the C resolver would stop at a NUL: ``"127.0.0.1\\x00x"`` would reach 127.0.0.1).

    Raises:
        SchemaError: empty, or a control character in it.
    """
    if not host:
        raise SchemaError(f"{method}: {field} must not be empty")
    bad = next((c for c in host if c < " " or c == "\x7f"), None)
    if bad is not None:
        raise SchemaError(
            f"{method}: {field} {host[:64]!r} contains the control character {bad!r} "
            f"at {host.index(bad)}"
        )


class Commands:
    """The session commands of one engine, by command type."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.handlers: dict[type[Command], Handler] = {
            Open: self._open,
            Send: self._send,
            Close: self._close,
            Abort: self._abort,
            ListSessions: self._list_sessions,
            Capture: self._capture,
            Sniff: self._sniff,
            Listen: self._listen,
            Relay: self._relay,
            CloseListener: self._close_listener,
            ListListeners: self._list_listeners,
        }

    async def _open(self, command: Open) -> dict[str, Any]:
        spec = _framing_spec("open", command.framing)
        if not 1 <= command.port <= 65535:
            raise SchemaError(f"open: port {command.port} out of range")
        _check_host("open", command.host)
        if not command.connect_timeout > 0:
            raise SchemaError("open: connect_timeout must be > 0")
        session_id = await self._engine.connect(
            command.host,
            command.port,
            framing=spec,
            connect_timeout=command.connect_timeout,
            label=command.label,
            tls=_client_tls("open", command.tls),
        )
        result: dict[str, Any] = {"session_id": session_id}
        # One lookup, not a scan of every session: opening n sessions stays O(n).
        info = self._engine.describe(session_id)
        if info is not None:  # None: it ended already (the peer closed at once)
            result.update(local=info["local"], peer=info["peer"])
            if "tls" in info:
                result["tls"] = info["tls"]
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

    async def _capture(self, command: Capture) -> dict[str, Any]:
        engine = self._engine
        if not command.path:
            stopped = await engine.stop_capture()
            return {"path": "", "active": False, "lines": stopped.lines if stopped else 0}
        try:
            engine.start_capture(command.path, max_bytes=command.max_bytes, keep=command.keep)
        except OSError as exc:
            raise CaptureFailed(f"capture: cannot write {command.path}: {exc.strerror}") from None
        except ValueError as exc:
            raise SchemaError(f"capture: {exc}") from None
        return {"path": command.path, "active": True, "lines": 0}

    async def _sniff(self, command: Sniff) -> dict[str, Any]:
        _check_host("sniff", command.host)
        if not 1 <= command.port <= 65535:
            raise SchemaError("sniff: port must be in 1..65535")
        if not 1 <= command.max_bytes <= MAX_SNIFF_BYTES:
            raise SchemaError(f"sniff: max_bytes must be in 1..{MAX_SNIFF_BYTES}")
        if not 0 < command.wait <= 60 or not command.connect_timeout > 0:
            raise SchemaError("sniff: wait must be in (0, 60] and connect_timeout > 0")
        sniffed = await sniff(
            command.host,
            command.port,
            send=command.send,
            max_bytes=command.max_bytes,
            read_seconds=command.wait,
            connect_timeout=command.connect_timeout,
        )
        return {"data": sniffed.data, "closed": sniffed.closed, "peer": sniffed.peer}

    async def _listen(self, command: Listen) -> dict[str, Any]:
        spec = _framing_spec("listen", command.framing)
        event = await self._engine.listen(
            _listen_host("listen", command.host, command.port),
            command.port,
            framing=spec,
            label=command.label,
            echo=command.echo,
            limits=_limits("listen", command),
            tls=_server_tls("listen", command.tls),
        )
        return _listening_result(event)

    async def _relay(self, command: Relay) -> dict[str, Any]:
        spec = _framing_spec("relay", command.framing)
        upstream_spec = (
            None
            if command.upstream_framing is None
            else _framing_spec("relay", command.upstream_framing)
        )
        _check_host("relay", command.upstream_host, "upstream_host")
        if not 1 <= command.upstream_port <= 65535:
            raise SchemaError("relay: upstream_port must be in 1..65535")
        if not command.connect_timeout > 0:
            raise SchemaError("relay: connect_timeout must be > 0")
        event = await self._engine.relay(
            _listen_host("relay", command.host, command.port),
            command.port,
            command.upstream_host,
            command.upstream_port,
            framing=spec,
            upstream_framing=upstream_spec,
            connect_timeout=command.connect_timeout,
            label=command.label,
            limits=_limits("relay", command),
            tls=_server_tls("relay", command.tls),
            upstream_tls=_client_tls("relay", command.upstream_tls),
        )
        return _listening_result(event)

    async def _close_listener(self, command: CloseListener) -> dict[str, Any]:
        await self._engine.close_listener(
            command.listener_id, close_sessions=command.close_sessions
        )
        return {}

    async def _list_listeners(self, command: ListListeners) -> dict[str, Any]:
        return {"listeners": self._engine.listeners()}


class CaptureFailed(FramewireError):
    """The capture file cannot be opened (the error response's type)."""


def _framing_spec(method: str, framing: Framing) -> FramingSpec:
    """The checked framing of a command: valid, and small enough for one IPC message."""
    spec = FramingSpec.from_wire(framing)
    if spec.max_frame_length > MAX_IPC_FRAME_LENGTH:
        raise SchemaError(
            f"{method}: max_frame_length {spec.max_frame_length} > {MAX_IPC_FRAME_LENGTH}, "
            "the largest frame one IPC message carries"
        )
    return spec


def _client_tls(method: str, tls: dict[str, Any] | None) -> ClientTls | None:
    """A command's client TLS options (``ipc.tls.ClientTls``), checked; None: plaintext."""
    if tls is None:
        return None
    try:
        return ClientTls.from_wire(tls)
    except ValueError as exc:
        raise SchemaError(f"{method}: {exc}") from None


def _server_tls(method: str, tls: dict[str, Any] | None) -> ServerTls | None:
    """A listener's TLS options (``ipc.tls.ServerTls``), checked; None: plaintext."""
    if tls is None:
        return None
    try:
        return ServerTls.from_wire(tls)
    except ValueError as exc:
        raise SchemaError(f"{method}: {exc}") from None


def _listen_host(method: str, host: str, port: int) -> str:
    if not host:
        raise SchemaError(f"{method}: host must not be empty (0.0.0.0 or :: for every address)")
    _check_host(method, host)
    if not 0 <= port <= 65535:
        raise SchemaError(f"{method}: port {port} out of range (0 picks a free one)")
    return host


def _limits(method: str, command: Listen | Relay) -> Limits:
    try:
        return Limits.from_wire(
            command.max_clients, command.idle_timeout, command.partial_frame_timeout
        )
    except LocalProtocolError as exc:
        raise SchemaError(f"{method}: {exc}") from None


def _listening_result(event: Listening) -> dict[str, Any]:
    return {
        "listener_id": event.listener_id,
        "host": event.host,
        "port": event.port,
        "local": event.local,
        "reachable": event.reachable,
    }
