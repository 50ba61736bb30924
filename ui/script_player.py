"""Running a script or replaying a recording in a session of the window, with Qt.

``ScriptPlayer`` is the window's driver of an ``exchanges.Runner`` (the CLI's is
``engine/cli/script_driver.py``): the window hands it the session's events as they come
(``on_events``), it sends what the runner sends through the ``EngineClient`` (one frame
at a time: the runner waits for each send's reply), wakes the runner at its deadlines
with a single-shot ``QTimer``, and emits ``finished(Outcome)`` once. Nothing here waits:
every step is a callback on the GUI thread, so a script never stalls the window.

``load_for_session`` turns a file into the script to run: a ``.jsonl`` recording is
replayed as the client (``exchanges.script_from_recording``), anything else is read as
a TOML script.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from decoders import Decoder, decoder_for
from exchanges import (
    CloseConnection,
    Outcome,
    Runner,
    Script,
    ScriptError,
    SendFrame,
    Variables,
    load_script,
    script_from_recording,
)
from exchanges.runner import Action
from exchanges.session_end import describe_end
from ipc import schema
from ipc.rpc import CommandFailed

__all__ = ["ScriptPlayer", "load_for_session"]

#: ``send(generation, session_id, frames, done)`` and ``close(generation, session_id,
#: done)``: the ``EngineClient`` calls the player makes.
Send = Callable[[int, int, list[bytes], Callable[[Any, CommandFailed | None], None]], None]
Close = Callable[[int, int, Callable[[Any, CommandFailed | None], None]], None]


def load_for_session(path: str) -> Script:
    """The script in ``path``: a recording (``.jsonl``/``.json``) to replay, else TOML.

    Raises:
        ScriptError: unreadable, or a mistake in it (with its line).
    """
    if Path(path).suffix.lower() in (".jsonl", ".json"):
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptError(f"cannot read it: {exc}", path=path) from None
        return script_from_recording(lines, path=path)
    return load_script(path)


class ScriptPlayer(QObject):
    """One run of ``script`` in the session ``(generation, session_id)``."""

    finished = Signal(object)

    def __init__(
        self,
        script: Script,
        generation: int,
        session_id: int,
        *,
        send: Send,
        close: Close,
        decoder: Decoder | None = None,
        encoding: str = "utf-8",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.generation = generation
        self.session_id = session_id
        self.runner = Runner(
            script,
            variables=Variables(script.variables),
            decoder=decoder or decoder_for(script.decoder or "auto"),
            encoding=encoding,
        )
        self._send = send
        self._close = close
        self._error: schema.SessionError | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_deadline)
        self._over = False

    @property
    def outcome(self) -> Outcome | None:
        return self.runner.outcome if self._over else None

    def start(self) -> None:
        self._perform(self.runner.start(time.monotonic()))

    def on_events(self, generation: int, events: list[schema.Event]) -> None:
        """The engine's events (the window's every batch): this session's feed the runner."""
        if self._over or generation != self.generation:
            return
        for event in events:
            if getattr(event, "session_id", None) != self.session_id:
                continue
            now = time.monotonic()
            if isinstance(event, schema.Received):
                actions: list[Action] = []
                for frame in event.frames:
                    actions += self.runner.frame_received(frame, now)
                self._perform(actions)
            elif isinstance(event, schema.SessionError):
                self._error = event
            elif isinstance(event, schema.Closed):
                why, kind = describe_end(event, self._error)
                self._perform(self.runner.connection_ended(why, now, kind=kind))
            if self.outcome is not None:
                return

    def engine_lost(self, why: str) -> None:
        """The engine went away: the session with it."""
        if not self._over:
            self._perform(self.runner.connection_ended(why, time.monotonic()))

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                self._send(self.generation, self.session_id, [action.payload], self._on_sent)
            elif isinstance(action, CloseConnection):
                self._close(self.generation, self.session_id, lambda _r, _e: None)
        self._reschedule()

    def _on_sent(self, _result: Any, error: CommandFailed | None) -> None:
        if self._over:
            return
        now = time.monotonic()
        if error is None:
            self._perform(self.runner.send_done(now))
        elif error.type == "LocalProtocolError":
            self._perform(self.runner.send_failed(error.message, now))
        # Otherwise the session ended: its Closed event says how.

    def _on_deadline(self) -> None:
        if not self._over:
            self._perform(self.runner.tick(time.monotonic()))

    def _reschedule(self) -> None:
        if self.runner.outcome is not None:
            self._timer.stop()
            if not self._over:
                self._over = True
                self.finished.emit(self.runner.outcome)
            return
        deadline = self.runner.deadline
        if deadline is None:
            self._timer.stop()
            return
        self._timer.start(max(0, round((deadline - time.monotonic()) * 1000)))
