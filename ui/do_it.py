"""The classic sample's "Do it!": connect, send ``hello``, log the reply, disconnect.

A small state machine over ``EngineClient``: ``start`` opens a session labelled
``do-it``; once open it sends ``hello``; the first frame received on that session is the
reply, reported by ``finished(reply: bytes, wall: float)``; then the session is closed.
Any failure (refused, timeout, engine gone) is reported by ``failed(str)``. Nothing waits:
the reply is recognised in the event stream the window feeds to ``on_events``.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ipc import schema
from ipc.diagnosis import Diagnosis
from ipc.rpc import CommandFailed
from ui.engine_client import EngineClient
from ui.event_log import diagnosis_text
from ui.formatting import session_name

__all__ = ["DO_IT_LABEL", "DO_IT_PAYLOAD", "DoItFlow"]

DO_IT_PAYLOAD = b"hello"
#: The engine's label for the run's session (the sessions table shows it).
DO_IT_LABEL = "do-it"
#: Overall bound on one run, connect included.
DO_IT_TIMEOUT_MS = 10_000


class DoItFlow(QObject):
    """One run at a time; ``running`` tells whether a run is in progress."""

    finished = Signal(bytes, float)
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._session: tuple[int, int] | None = None  # (generation, session id)
        self._session_name: str | None = None
        self._generation = 0
        self._running = False
        #: Whether the run speaks TLS (a plaintext one closed by a server may have met TLS).
        self._tls = False
        #: The run's session's error, until its ``closed`` says the run failed.
        self._error: schema.SessionError | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DO_IT_TIMEOUT_MS)
        self._timer.timeout.connect(lambda: self._fail("no reply within 10 s"))

    @property
    def running(self) -> bool:
        return self._running

    @property
    def session_name(self) -> str | None:
        """The window's name for the last run's session (``#3``), once the engine made
        one: the run's summary is logged under it, beside the session's traffic."""
        return self._session_name

    def start(
        self,
        host: str,
        port: int,
        framing: schema.Framing = "le32",
        tls: dict[str, Any] | None = None,
    ) -> None:
        """Run it against ``host:port``; ``tls``: ``ClientTls``'s map (None: plaintext)."""
        if self._running:
            return
        self._running = True
        self._tls = tls is not None
        self._session = None
        self._session_name = None
        self._error = None
        self._timer.start()
        generation = self._generation = self._client.generation
        self._client.open(
            host, port, framing, lambda r, e: self._on_open(generation, r, e), label=DO_IT_LABEL,
            connect_timeout=5.0, tls=tls,
        )  # fmt: skip

    def on_events(self, generation: int, events: list[schema.Event]) -> None:
        """Watch the engine's events for the reply on our session."""
        if self._running and self._session_name is None and generation == self._generation:
            # Known before the open command answers, so a failed connect is named too.
            for ev in events:
                if isinstance(ev, schema.Connecting) and ev.label == DO_IT_LABEL:
                    self._session_name = session_name(generation, ev.session_id)
        if not self._running or self._session is None or self._session[0] != generation:
            return
        sid = self._session[1]
        for ev in events:
            if isinstance(ev, schema.Received) and ev.session_id == sid and ev.frames:
                self._finish(ev.frames[0])
                return
            if isinstance(ev, schema.SessionError) and ev.session_id == sid:
                self._error = ev
            if isinstance(ev, schema.Closed) and ev.session_id == sid:
                self._fail(self._closed_why(ev))
                return

    def _closed_why(self, closed: schema.Closed) -> str:
        """Why the run's session ended without a reply, with what its bytes say (issue
        17: against a be32 server Do it! said only "closed before replying")."""
        error, self._error = self._error, None
        if error is not None:
            why = error.message  # the engine's, its diagnosis included
            found = Diagnosis.from_wire(error.details.get("diagnosis"))
            if found is not None and found.suggestion is not None:
                why += f": choose framing {found.suggestion}"
            return why
        why = f"the server closed the connection ({closed.by}) before replying"
        found = Diagnosis.from_wire(closed.details.get("diagnosis"))
        if found is not None and found.kind == "nothing" and found.suggestion is None:
            # Nothing came back, and the bytes sent cannot tell a server that refused our
            # header from one that closes on purpose: no framing is named, both are said.
            found = None
            if closed.by == "peer":
                why += " (if it speaks another framing: choose it, or guess…)"
        if closed.by == "peer" and not self._tls:
            # A TLS server closes without a word on a frame that is no TLS handshake.
            why += " (if it speaks TLS: tick TLS)"
        return why if found is None else f"{why}: {diagnosis_text(found)}"

    def _on_open(self, generation: int, result: Any, error: CommandFailed | None) -> None:
        if not self._running:
            if error is None:  # it opened after we gave up: do not leave it open
                self._client.close(generation, int(result["session_id"]))
            return
        if error is not None:
            # The engine's message says what failed ("connection to … refused …").
            self._fail(error.message or f"cannot connect ({error.type})")
            return
        self._session = (generation, int(result["session_id"]))
        self._session_name = session_name(*self._session)
        self._client.send(generation, self._session[1], [DO_IT_PAYLOAD], self._on_sent)

    def _on_sent(self, _result: Any, error: CommandFailed | None) -> None:
        if error is not None and self._running:
            self._fail(f"cannot send {DO_IT_PAYLOAD.decode()}: {error.message or error.type}")

    def _finish(self, reply: bytes) -> None:
        wall = time.time()
        self._end()
        self.finished.emit(reply, wall)

    def _fail(self, why: str) -> None:
        if self._running:
            self._end()
            self.failed.emit(why)

    def _end(self) -> None:
        self._running = False
        self._timer.stop()
        if self._session is not None:
            generation, sid = self._session
            self._client.close(generation, sid)
            self._session = None

    def cancel(self, why: str) -> None:
        """Stop a run in progress (e.g. the engine died)."""
        self._fail(why)
