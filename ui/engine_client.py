"""EngineClient: the window's API to the current engine, with timeouts, never blocking.

The supervisor ``attach``es the client to each engine's ``EngineChannel`` and ``detach``es
it when that engine ends; the window keeps one client across restarts. Every command takes
``callback(result, error)``, called exactly once, always from the event loop (never from
inside the call): with the result, with the engine's error, with ``Timeout`` after
``timeout_s`` (a ``QTimer``), or with ``EngineGone``/``NoEngine`` when the engine is not
there. Commands about a session carry the engine generation that owns it: a session of a
dead engine fails at once with ``SessionLost`` instead of reaching its successor, which
numbers its sessions from 1 again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from ipc import schema
from ipc.codec import ErrorInfo
from ipc.errors import LocalProtocolError
from ipc.qt_channel import EngineChannel
from ipc.rpc import CommandFailed

__all__ = ["Callback", "EngineClient"]

#: ``callback(result, error)``: exactly one is not None.
Callback = Callable[[Any, CommandFailed | None], None]

#: Timeouts for commands whose duration the engine does not bound itself.
DEFAULT_TIMEOUT_S = 10.0
#: Added to ``open``'s own connect timeout, which the engine enforces.
OPEN_MARGIN_S = 5.0
SEND_TIMEOUT_S = 30.0


def _failed(kind: str, message: str) -> CommandFailed:
    return CommandFailed(ErrorInfo(kind, message))


def _ignore(_result: Any, _error: CommandFailed | None) -> None:
    return None


class EngineClient(QObject):
    """Commands to the current engine; see the module docstring for the callback rules."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._channel: EngineChannel | None = None
        self._generation = 0

    @property
    def generation(self) -> int:
        """The attached engine's generation (1 for the first engine), 0 when none."""
        return self._generation if self._channel is not None else 0

    def attach(self, channel: EngineChannel, generation: int) -> None:
        self._channel = channel
        self._generation = generation

    def detach(self) -> None:
        """The engine ended: pending requests fail with ``EngineGone``."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def request(
        self,
        command: schema.Command,
        callback: Callback = _ignore,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Send ``command``; ``callback`` runs once, later, from the event loop."""
        channel = self._channel
        if channel is None:
            self._later(callback, None, _failed("NoEngine", "the engine is not running"))
            return
        done = False
        timer: QTimer | None = None

        def on_result(result: Any, error: CommandFailed | None) -> None:
            nonlocal done
            if done:
                return
            done = True
            if timer is not None:
                timer.stop()
                timer.deleteLater()
            callback(result, error)

        try:
            msgid = channel.request(command, on_result)
        except LocalProtocolError as exc:  # a command we cannot encode: our bug or bad input
            self._later(callback, None, _failed(type(exc).__name__, str(exc)))
            return
        if timeout_s is not None:
            timer = QTimer(self)
            timer.setSingleShot(True)

            def on_timeout() -> None:
                channel.forget(msgid)
                on_result(None, _failed("Timeout", f"no answer within {timeout_s:g} s"))

            timer.timeout.connect(on_timeout)
            timer.start(int(timeout_s * 1000))

    def _later(self, callback: Callback, result: Any, error: CommandFailed | None) -> None:
        QTimer.singleShot(0, self, lambda: callback(result, error))

    # ------------------------------------------------------------------ commands

    def open(
        self,
        host: str,
        port: int,
        framing: schema.Framing,
        callback: Callback,
        *,
        label: str = "",
        connect_timeout: float = 10.0,
        tls: dict[str, Any] | None = None,
    ) -> None:
        """``tls``: ``ipc.tls.ClientTls``'s map (None: plaintext)."""
        cmd = schema.Open(
            host=host,
            port=port,
            framing=framing,
            label=label,
            connect_timeout=connect_timeout,
            tls=tls,
        )
        self.request(cmd, callback, connect_timeout + OPEN_MARGIN_S)

    def _session_request(
        self, generation: int, command: schema.Command, callback: Callback, timeout_s: float
    ) -> None:
        if generation != self.generation:
            self._later(callback, None, _failed("SessionLost", "the session's engine is gone"))
            return
        self.request(command, callback, timeout_s)

    def send(
        self, generation: int, session_id: int, frames: list[bytes], callback: Callback = _ignore
    ) -> None:
        cmd = schema.Send(session_id=session_id, frames=frames)
        self._session_request(generation, cmd, callback, SEND_TIMEOUT_S)

    def close(self, generation: int, session_id: int, callback: Callback = _ignore) -> None:
        cmd = schema.Close(session_id=session_id)
        self._session_request(generation, cmd, callback, DEFAULT_TIMEOUT_S)

    def abort(self, generation: int, session_id: int, callback: Callback = _ignore) -> None:
        cmd = schema.Abort(session_id=session_id)
        self._session_request(generation, cmd, callback, DEFAULT_TIMEOUT_S)

    def close_listener(
        self,
        generation: int,
        listener_id: int,
        *,
        close_sessions: bool = False,
        callback: Callback = _ignore,
    ) -> None:
        cmd = schema.CloseListener(listener_id=listener_id, close_sessions=close_sessions)
        self._session_request(generation, cmd, callback, DEFAULT_TIMEOUT_S)
