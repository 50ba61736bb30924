"""The always-visible engine status (status bar) and the non-modal engine banner."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.formatting import format_duration, format_rate, rows_in_words
from ui.supervisor import EngineState, EngineStatus

__all__ = ["EngineBanner", "EngineStatusLabel", "status_text"]

_COLORS = {
    EngineState.STARTING: "#8d6e00",
    EngineState.READY: "#1b5e20",
    EngineState.NOT_RESPONDING: "#e65100",
    EngineState.CRASHED: "#b71c1c",
    EngineState.STOPPING: "#555555",
    EngineState.STOPPED: "#555555",
    EngineState.GONE: "#b71c1c",
}


def status_text(status: EngineStatus, frames_per_second: float) -> str:
    """One line: state, then pid, round-trip time and frames/s when they mean something.

    ``frames_per_second`` is the sessions table's total, so that the two always agree.
    """
    state = status.state
    if state is EngineState.NOT_RESPONDING:
        head = f"engine not responding for {format_duration(status.silent_for)}"
    elif state is EngineState.CRASHED:
        head = (
            "engine crashed, waiting for you (too many restarts)"
            if status.waiting_for_user
            else "engine crashed, restarting"
        )
    elif state is EngineState.GONE:
        head = "detached from the engine"
    else:
        head = f"engine {state.value}"
    parts = [head]
    if status.attached_to:
        where = "was at" if state is EngineState.GONE else "attached to"
        parts.append(f"{where} {status.attached_to}")
    if status.pid is not None:
        parts.append(f"pid {status.pid}")
    if state is EngineState.NOT_RESPONDING:
        parts.append("rtt —")  # the last answer's rtt would suggest it still answers
    elif state is EngineState.READY and status.rtt is not None:
        parts.append(f"rtt {status.rtt * 1000:.1f} ms")
    if state in (EngineState.READY, EngineState.NOT_RESPONDING):
        parts.append(format_rate(frames_per_second, " frames/s in"))
    return " · ".join(parts)


class EngineStatusLabel(QLabel):
    """Coloured one-line engine status, with the frames/s received by all sessions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status = EngineStatus()
        self._frames_per_second = 0.0

    def show_status(self, status: EngineStatus) -> None:
        self._status = status
        self._render()

    def show_frames_per_second(self, frames_per_second: float) -> None:
        """The sessions table's total rate in (``SessionModel.rates_changed``)."""
        self._frames_per_second = frames_per_second
        self._render()

    def _render(self) -> None:
        status = self._status
        color = _COLORS[status.state]
        text = status_text(status, self._frames_per_second)
        self.setText(f'<span style="color:{color}">●</span> {text}')
        self.setToolTip(status.detail or "")


class EngineBanner(QFrame):
    """Shown above the work area when the engine hangs or crashes; never modal."""

    wait_clicked = Signal()
    restart_clicked = Signal()
    reattach_clicked = Signal()
    start_local_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engineBanner")
        self._title = QLabel()
        self._title.setWordWrap(True)
        self._detail = QLabel()
        self._detail.setWordWrap(True)
        self._detail.setStyleSheet("font-family: monospace; font-size: 11px;")
        self.wait_button = QPushButton("Wait")
        self.restart_button = QPushButton("Restart engine")
        self.wait_button.clicked.connect(self.wait_clicked)
        self.restart_button.clicked.connect(self.restart_clicked)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        self.reattach_button = QPushButton("Attach again")
        self.reattach_button.clicked.connect(self.reattach_clicked)
        self.start_local_button = QPushButton("Start a local engine")
        self.start_local_button.clicked.connect(self.start_local_clicked)
        self._kind = ""  # what the banner shows: "hang" or "crash"
        self._crash_detail = ""
        #: Open sessions, listeners, pairs lost in the crashes this banner reports.
        self._lost: Counter[str] = Counter()
        self._last_status = EngineStatus()
        self._shown: tuple[object, ...] = ()
        text = QVBoxLayout()
        text.addWidget(self._title)
        text.addWidget(self._detail)
        row = QHBoxLayout(self)
        row.addLayout(text, 1)
        self._buttons = (
            self.wait_button,
            self.restart_button,
            self.reattach_button,
            self.start_local_button,
            self.dismiss_button,
        )
        for button in self._buttons:
            row.addWidget(button)
        self.hide()

    def show_status(self, status: EngineStatus) -> None:
        self._last_status = status
        state = status.state
        if state is EngineState.NOT_RESPONDING and status.banner:
            # An engine this window attached to is not ours to restart.
            restart = () if status.attached_to else (self.restart_button,)
            self._show(
                "#fff3e0", "#e65100",
                f"The engine is not responding ({format_duration(status.silent_for)}). "
                "The window still works; its sessions are paused until it answers.",
                f"pid {status.pid}", kind="hang", buttons=(self.wait_button, *restart),
            )  # fmt: skip
        elif state is EngineState.GONE:
            self._show(
                "#ffebee", "#b71c1c",
                f"This window is no longer attached to the engine at {status.attached_to}. "
                "That engine is never restarted from here: attach again (once it runs), "
                "or start a local engine, whose sessions end with this window.",
                status.detail, kind="gone",
                buttons=(self.reattach_button, self.start_local_button),
            )  # fmt: skip
        elif state is EngineState.CRASHED:
            if not (self._kind == "crash" and self.isVisible()):
                self._lost = Counter()  # a new report
            self._crash_detail = status.detail
            if status.waiting_for_user:
                # Restart is the only way on: no Dismiss, or nothing would be left to
                # click (Do it! and Open are disabled until an engine is ready).
                self._show_crash(
                    "The engine crashed too often: press Restart engine to try again.",
                    self.restart_button,
                )
            else:
                self._show_crash("The engine crashed; a new one is starting.")
        elif self._kind == "crash" and self.isVisible() and state is EngineState.STARTING:
            self._show_crash("The engine crashed; a new one is starting.")
        elif self._kind == "crash" and self.isVisible() and state is EngineState.READY:
            # Restarting now would kill the healthy new engine and its sessions.
            self._show_crash(f"The engine crashed and was restarted (new pid {status.pid}).")
        elif self._kind in ("hang", "gone") or state in (
            EngineState.STOPPING,
            EngineState.STOPPED,
        ):
            # Hang over, or the user chose "Wait". A crash report stays until dismissed:
            # the new engine comes up within a second, too fast to read why the old one died.
            self.hide()

    def sessions_lost(self, lost: Mapping[str, int]) -> None:
        """Open sessions, listeners and pairs (counts by kind) went with a crashed engine
        (the report says so)."""
        if sum(lost.values()) and self._kind == "crash" and self.isVisible():
            self._lost.update(lost)
            self.show_status(self._last_status)

    def _show_crash(self, title: str, button: QPushButton | None = None) -> None:
        if self._lost.total() == 1:
            title += f" Its {rows_in_words(self._lost, 'open').partition(' ')[2]} was lost."
        elif self._lost:
            title += f" Its {rows_in_words(self._lost, 'open')} were lost."
        buttons = (button or self.dismiss_button,)
        self._show("#ffebee", "#b71c1c", title, self._crash_detail, kind="crash", buttons=buttons)

    def _show(
        self,
        background: str,
        border: str,
        title: str,
        detail: str,
        *,
        kind: str,
        buttons: tuple[QPushButton, ...],
    ) -> None:
        shown = (background, title, detail, kind, buttons)
        if self.isVisible() and shown == self._shown:
            return  # status updates arrive several times a second; restyling is not free
        self._shown = shown
        self._kind = kind
        self.setStyleSheet(
            f"#engineBanner {{ background: {background}; border: 1px solid {border}; "
            "border-radius: 4px; }"
        )
        self._title.setText(f"<b>{title}</b>")
        self._detail.setText(detail)
        self._detail.setVisible(bool(detail))
        for button in self._buttons:
            button.setVisible(button in buttons)
        self.show()
