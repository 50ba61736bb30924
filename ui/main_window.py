"""MainWindow: lays out the widgets and wires them to the models, client and supervisor.

Nothing here talks to the engine directly or formats data: the supervisor and the
``EngineClient`` do the former, the models and ``ui.formatting`` the latter. Errors are
shown next to where they happened (the open form, the compose box, the Do it! line, the
log, the engine banner); there are no modal dialogs.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from decoders import Decoder
from ipc import schema
from ipc.rpc import CommandFailed
from ui.do_it import DO_IT_PAYLOAD, DoItFlow
from ui.event_log import ENGINE_SESSION, log_entries
from ui.formatting import format_time, plural, preview
from ui.log_export import LogExporter
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.session_model import SessionInfo, SessionModel
from ui.supervisor import EngineState, EngineStatus, EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.compose import ComposePanel
from ui.widgets.engine_status import EngineBanner, EngineStatusLabel
from ui.widgets.log_view import LogPanel
from ui.widgets.pulse import TICK_INTERVAL_MS, PulseWidget
from ui.widgets.session_panel import SessionPanel

__all__ = ["MainWindow"]

#: The log's session name for a Do it! run that failed before the engine made a session.
_DO_IT_SESSION = "do-it"
#: How the splitter shares spare height between sessions, compose and log, and the
#: heights it starts from (scaled to the window): the log, the busiest view, gets most.
_SESSIONS_STRETCH, _COMPOSE_STRETCH, _LOG_STRETCH = 1, 0, 4
_SPLITTER_START = (170, 90, 440)


class MainWindow(QMainWindow):
    """The framewire window. ``closed`` is emitted once the engine has been stopped."""

    closed = Signal()

    def __init__(
        self,
        supervisor: EngineSupervisor,
        *,
        log_model: LogModel,
        session_model: SessionModel,
        probe: TickProbe,
        server: tuple[str, int] | None = None,
        framing: str = "le32",
    ) -> None:
        super().__init__()
        self.setWindowTitle("framewire")
        self.supervisor = supervisor
        self.client = supervisor.client
        self.log_model = log_model
        self.session_model = session_model
        self._server = server
        self._framing = framing
        self._clock_offsets: dict[int, float] = {}
        self._closing = False
        self._exporter: LogExporter | None = None
        self._select_when_seen: tuple[int, int] | None = None  # a session just opened

        # --- widgets
        self.pulse = PulseWidget(probe)
        self.do_it_button = QPushButton("Do it!")
        self.do_it_button.setStyleSheet("font-weight: bold; padding: 6px 18px;")
        self.do_it_result = QLabel()
        self.do_it_result.setWordWrap(True)
        self.do_it_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.do_it_target = QLabel()
        self.banner = EngineBanner()
        self.sessions = SessionPanel(session_model)
        if server is not None:
            self.sessions.host.setText(server[0])
            self.sessions.port.setValue(server[1])
        self.sessions.framing.setCurrentText(framing)
        self.compose = ComposePanel()
        self.log_panel = LogPanel(log_model)
        self.status_label = EngineStatusLabel()
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.do_it = DoItFlow(self.client, self)

        # --- layout
        # Strategy: the window must fit a 1024x640 screen with the banner shown and the
        # status bar visible. The top rows are short and fixed; sessions, compose and log
        # share one vertical splitter in which the log takes most of the spare height.
        do_it_row = QHBoxLayout()
        do_it_row.addWidget(self.do_it_button)
        do_it_row.addWidget(self.do_it_target, 1)
        classic = QVBoxLayout()
        classic.addLayout(do_it_row)
        classic.addWidget(self.do_it_result)
        classic.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(classic, 1)
        top.addWidget(self.pulse)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for pane, stretch in (
            (_group("Sessions", self.sessions), _SESSIONS_STRETCH),
            (_group("Compose", self.compose), _COMPOSE_STRETCH),
            (_group("Log", self.log_panel), _LOG_STRETCH),
        ):
            self.splitter.addWidget(pane)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
            self.splitter.setCollapsible(self.splitter.count() - 1, False)
        self.splitter.setSizes(list(_SPLITTER_START))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.resize(1180, 760)

        # --- wiring
        self.pulse.ticked.connect(self._on_frame)
        session_model.rates_changed.connect(self.status_label.show_frames_per_second)
        supervisor.status_changed.connect(self._on_status_changed)
        supervisor.engine_started.connect(self._on_engine_started)
        supervisor.engine_crashed.connect(self._on_engine_crashed)
        supervisor.engine_lost.connect(self._on_engine_lost)
        supervisor.events_received.connect(self._on_events)
        supervisor.protocol_error.connect(self._on_protocol_error)
        supervisor.stopped.connect(self._on_engine_stopped)
        self.banner.wait_clicked.connect(supervisor.wait)
        self.banner.restart_clicked.connect(supervisor.restart)
        self.do_it_button.clicked.connect(self._on_do_it_clicked)
        self.do_it.finished.connect(self._on_do_it_finished)
        self.do_it.failed.connect(self._on_do_it_failed)
        self.sessions.open_requested.connect(self._on_open_requested)
        self.sessions.close_requested.connect(self._on_close_requested)
        self.sessions.abort_requested.connect(self._on_abort_requested)
        self.sessions.selection_changed.connect(self._on_session_selected)
        self.compose.send_requested.connect(self._on_send_requested)
        self.sessions.decoder.decoder_chosen.connect(self._on_decoder_chosen)
        self.log_panel.save_requested.connect(self.save_log)
        self._on_status_changed(supervisor.status)
        self._update_do_it_target()

    def _on_frame(self) -> None:
        """Right after an animation tick: do the periodic view work that is due before the
        next one, so a table repaint never lands on a tick."""
        self.log_model.flush_if_due(TICK_INTERVAL_MS)
        self.session_model.refresh_if_due(TICK_INTERVAL_MS)

    # ------------------------------------------------------------------ engine

    def _on_status_changed(self, status: EngineStatus) -> None:
        self.status_label.show_status(status)
        self.banner.show_status(status)
        ready = status.state in (EngineState.READY, EngineState.NOT_RESPONDING)
        self.sessions.open_button.setEnabled(ready)
        self.do_it_button.setEnabled(ready and not self.do_it.running)

    def _on_engine_started(self, generation: int, hello: schema.Hello) -> None:
        self._clock_offsets[generation] = hello.clock_offset
        if hello.framing_presets:
            self.sessions.set_presets(list(hello.framing_presets))
        self._note(Direction.INFO, f"engine {generation} started (pid {hello.pid}, "
                                   f"{hello.engine_version})")  # fmt: skip

    def _on_engine_crashed(self, generation: int, why: str) -> None:
        self._note(Direction.ERROR, f"engine {generation} {why}")

    def _on_engine_lost(self, generation: int, why: str) -> None:
        lost = self.session_model.mark_lost(generation, why)
        self.banner.sessions_lost(lost)
        if lost:
            self._note(
                Direction.ERROR, f"{plural(lost, 'session')} of engine {generation} lost: {why}"
            )
        self.do_it.cancel("the engine went away")

    def _on_events(self, generation: int, events: list[schema.Event]) -> None:
        self.session_model.apply_events(generation, events)
        offset = self._clock_offsets.get(generation, 0.0)
        append = self.log_model.append
        for entry in log_entries(generation, offset, events):
            append(entry.session, entry.direction, entry.wall, entry.payloads)
        if self.do_it.running:
            self.do_it.on_events(generation, events)
        if self._select_when_seen is not None:
            info = self.session_model.session(*self._select_when_seen)
            if info is not None:
                self._select_when_seen = None
                self.sessions.select(info)

    def _on_protocol_error(self, message: str) -> None:
        self._note(Direction.ERROR, f"IPC: {message}")

    def _note(self, direction: Direction, text: str, session: str = ENGINE_SESSION) -> None:
        self.log_model.append_note(session, direction, time.time(), text)

    # ------------------------------------------------------------------ Do it!

    def _do_it_address(self) -> tuple[str, int]:
        if self._server is not None:
            return self._server
        return self.sessions.host.text().strip(), self.sessions.port.value()

    def _update_do_it_target(self) -> None:
        host, port = self._do_it_address()
        self.do_it_target.setText(
            f"connects to {host}:{port}, sends “{DO_IT_PAYLOAD.decode()}”, logs the reply"
        )

    def _on_do_it_clicked(self) -> None:
        host, port = self._do_it_address()
        self._update_do_it_target()
        self.do_it_result.setStyleSheet("color: #555;")
        self.do_it_result.setText("connecting…")
        self.do_it_button.setEnabled(False)
        self.do_it.start(host, port, self._framing)

    def _on_do_it_finished(self, reply: bytes, wall: float) -> None:
        text = f"[{format_time(wall)}] reply: {preview(reply)}"
        self.do_it_result.setStyleSheet("color: #1b5e20;")
        self.do_it_result.setText(text)
        session = self.do_it.session_name or _DO_IT_SESSION
        self.log_model.append_note(session, Direction.INFO, wall, f"Do it! {text}")
        self.do_it_button.setEnabled(self.client.generation > 0)

    def _on_do_it_failed(self, why: str) -> None:
        self.do_it_result.setStyleSheet("color: #b71c1c;")
        self.do_it_result.setText(f"Do it! failed: {why}")
        self._note(
            Direction.ERROR, f"Do it! failed: {why}", self.do_it.session_name or _DO_IT_SESSION
        )
        self.do_it_button.setEnabled(self.client.generation > 0)

    # ------------------------------------------------------------------ sessions, compose

    def _on_open_requested(self, host: str, port: int, framing: Any) -> None:
        self.sessions.open_button.setEnabled(False)
        generation = self.client.generation

        def done(result: Any, error: CommandFailed | None) -> None:
            self.sessions.open_button.setEnabled(self.client.generation > 0)
            if error is not None:
                message = error.message or error.type
                # The engine's messages usually name the address already.
                self.sessions.show_error(
                    message if host in message else f"{host}:{port}: {message}"
                )
                return
            key = (generation, int(result["session_id"]))
            info = self.session_model.session(*key)
            if info is not None:
                self.sessions.select(info)
            else:  # the answer overtook the session's first event: select it when it comes
                self._select_when_seen = key

        self.client.open(host, port, framing, done)

    def _session_done(self, action: str, info: SessionInfo) -> Any:
        def done(_result: Any, error: CommandFailed | None) -> None:
            if error is not None:
                self.sessions.show_error(f"{action} {info.name}: {error.message or error.type}")

        return done

    def _on_close_requested(self, info: SessionInfo) -> None:
        self.session_model.mark_closing(info.generation, info.session_id)
        self.client.close(info.generation, info.session_id, self._session_done("close", info))

    def _on_abort_requested(self, info: SessionInfo) -> None:
        self.client.abort(info.generation, info.session_id, self._session_done("abort", info))

    def _on_session_selected(self, info: SessionInfo | None) -> None:
        self.compose.set_target(info.name if info is not None and info.is_open else None)
        if info is not None:
            self.sessions.decoder.show_choice(self.log_model.decoding.label(info.name))

    def _on_decoder_chosen(self, decoder: Decoder, label: str) -> None:
        info = self.sessions.selected()
        if info is None:
            return
        self.log_model.decoding.set_decoder(info.name, decoder, label)
        self.log_model.refresh_data()
        self.log_panel.refresh_detail()

    def _on_send_requested(self, payload: bytes) -> None:
        info = self.sessions.selected()
        if info is None or not info.is_open:
            self.compose.show_error("select an open session first")
            return
        self.compose.show_error("")

        def done(_result: Any, error: CommandFailed | None) -> None:
            if error is not None:
                self.compose.show_error(f"send to {info.name}: {error.message or error.type}")

        self.client.send(info.generation, info.session_id, [payload], done)

    # ------------------------------------------------------------------ log

    def save_log(self, path: str) -> LogExporter:
        """Save the visible log rows to ``path`` in the background (returns the exporter)."""
        exporter = LogExporter(self.log_model, path, self)
        exporter.finished.connect(
            lambda rows, p: self.statusBar().showMessage(f"saved {rows:,} rows to {p}", 10_000)
        )
        exporter.failed.connect(lambda why: self.statusBar().showMessage(why, 10_000))
        exporter.finished.connect(exporter.deleteLater)
        self._exporter = exporter
        exporter.start()
        return exporter

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the engine first (bounded by the supervisor's deadlines), then close."""
        if self.supervisor.status.state is EngineState.STOPPED:
            self.pulse.stop()
            event.accept()
            if not self._closing:
                self._closing = True
                self.closed.emit()
            return
        event.ignore()
        self.statusBar().showMessage("stopping the engine…")
        self.supervisor.shutdown()

    def _on_engine_stopped(self) -> None:
        self.close()


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 2, 6, 4)
    layout.addWidget(widget)
    return box
