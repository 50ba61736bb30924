"""Helpers for GUI tests that drive the window like a user."""

from __future__ import annotations

from ui.log_store import Direction
from ui.main_window import MainWindow
from ui.session_model import SessionInfo


def open_session(qtbot, win: MainWindow, host: str, port: int) -> SessionInfo:
    """Open a session through the form; wait until it is connected and selected."""
    win.sessions.host.setText(host)
    win.sessions.port.setValue(port)
    before = {(s.generation, s.session_id) for s in win.session_model.sessions()}
    win.sessions.open_button.click()

    def connected() -> SessionInfo:
        new = [
            s for s in win.session_model.sessions() if (s.generation, s.session_id) not in before
        ]
        assert new and new[0].state == "connected"
        assert win.sessions.selected() is new[0]
        return new[0]

    qtbot.waitUntil(lambda: connected() is not None, timeout=10_000)
    return connected()


def send_text(win: MainWindow, text: str) -> None:
    win.compose.mode.setCurrentText("Text")
    win.compose.editor.setText(text)
    assert win.compose.send_button.isEnabled()
    win.compose.send_button.click()


def payloads(win: MainWindow, session: str, direction: Direction) -> list[bytes]:
    store = win.log_model.store
    rows = store.rows(store.first_seq, store.end_seq)
    return [r.payload for r in rows if r.session == session and r.direction is direction]
