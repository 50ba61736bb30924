"""MainWindow: lays out the widgets and wires them to the models, client and supervisor.

Nothing here talks to the engine directly or formats data: the supervisor and the
``EngineClient`` do the former, the models and ``ui.formatting`` the latter. Errors are
shown next to where they happened (the open form, the compose box, the Do it! line, the
log, the engine banner); there are no modal dialogs.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from decoders import Decoder
from exchanges import Outcome, ScriptError, SessionFrame, script_text
from ipc import schema
from ipc.diagnosis import guess_framing, looks_like
from ipc.framing import PRESETS, parse_framing
from ipc.rpc import CommandFailed
from ui import window_settings
from ui.do_it import DO_IT_PAYLOAD, DoItFlow
from ui.event_log import ENGINE_SESSION, RelayLeg, log_entries
from ui.formatting import format_time, plural, preview, rows_in_words
from ui.log_export import LogExporter
from ui.log_model import LogModel, SessionContext
from ui.log_store import Direction, LogRow
from ui.script_player import ScriptPlayer, load_for_session
from ui.session_model import SessionInfo, SessionModel
from ui.supervisor import EngineState, EngineStatus, EngineSupervisor
from ui.tick_probe import TickProbe
from ui.tls_text import window_hint
from ui.widgets.compose import ComposePanel
from ui.widgets.engine_status import EngineBanner, EngineStatusLabel
from ui.widgets.log_view import LogPanel
from ui.widgets.pulse import TICK_INTERVAL_MS, PulseWidget
from ui.widgets.saved_messages import SavedMessagesPanel
from ui.widgets.session_panel import SessionPanel

__all__ = ["MainWindow"]

#: The log's session name for a Do it! run that failed before the engine made a session.
_DO_IT_SESSION = "do-it"
#: How long Guess… waits for a server that speaks first.
_GUESS_WAIT_S = 3.0
#: How the splitter shares spare height between sessions, compose and log, and the
#: heights it starts from (scaled to the window): the log, the busiest view, gets most.
_SESSIONS_STRETCH, _COMPOSE_STRETCH, _LOG_STRETCH = 1, 0, 4
_SPLITTER_START = (220, 120, 420)


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
        capture: str | None = None,
        settings: QSettings | None = None,
        project: str | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("framewire")
        self.supervisor = supervisor
        self.client = supervisor.client
        self.log_model = log_model
        self.session_model = session_model
        self._server = server
        # Do it!'s framing: a preset name, or framing words as a map for the engine.
        self._framing: schema.Framing = (
            framing if framing in PRESETS else parse_framing(framing).to_wire()
        )
        #: The capture file while the Capture toggle is on (re-sent to each new engine).
        self._capture_path = capture
        #: Text encodings and TLS options of sessions just opened, until their events are
        #: in the model.
        self._encodings: dict[tuple[int, int], str] = {}
        self._open_tls: dict[tuple[int, int], dict[str, Any] | None] = {}
        #: Where the window's state is remembered (ui.window_settings); None: nowhere.
        self.settings = settings
        #: Connect's TLS came from the command line (``--tls``/``--cafile``/``--insecure``):
        #: for this run only, never remembered (the launcher's demo CA is a temporary file).
        self.tls_given = False
        self._clock_offsets: dict[int, float] = {}
        self._closing = False
        self._exporter: LogExporter | None = None
        self._select_when_seen: tuple[int, int] | None = None  # a session just opened
        self._reveal_when_seen: tuple[int, int] | None = None  # a listener just started
        #: The relay legs of the engine attached to (its generation, legs by session id),
        #: whose history is logged under their pairs.
        self._attached_legs: tuple[int, dict[int, RelayLeg]] = (0, {})
        #: Scripts and replays running in sessions (ui.script_player).
        self.players: list[ScriptPlayer] = []

        # --- widgets
        self.pulse = PulseWidget(probe)
        self.do_it_button = QPushButton("Do it!")
        self.do_it_button.setStyleSheet("font-weight: bold; padding: 6px 18px;")
        self.do_it_button.setToolTip("the classic sample: connect, send “hello”, log the reply")
        self.do_it_result = QLabel()
        self.do_it_result.setWordWrap(True)
        self.do_it_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.do_it_target = QLabel()
        self.banner = EngineBanner()
        self.sessions = SessionPanel(session_model)
        if server is not None:
            self.sessions.host.setText(server[0])
            self.sessions.port.setValue(server[1])
        self.sessions.set_framing(parse_framing(framing))
        self.capture_toggle = QCheckBox("Capture")
        self.capture_toggle.setToolTip(
            "write every frame of every session to a JSON lines file as it happens "
            "(rotated at 100 MB; written by the engine process, so the window never waits)"
        )
        self.capture_toggle.setChecked(capture is not None)
        self.capture_status = QLabel()
        self.capture_status.setStyleSheet("color: #555;")
        self.compose = ComposePanel()
        # Saved messages: --project, else messages.toml beside the remembered settings.
        if project is None and settings is not None:
            project = str(Path(settings.fileName()).parent / "messages.toml")
        self.saved = SavedMessagesPanel(project)
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
        do_it_row.addWidget(self.capture_toggle)
        do_it_row.addWidget(self.capture_status)
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
            (
                _side_by_side(
                    _group("Compose", self.compose), _group("Saved messages", self.saved)
                ),
                _COMPOSE_STRETCH,
            ),
            (_group("Log", self.log_panel), _LOG_STRETCH),
        ):
            self.splitter.addWidget(pane)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
            self.splitter.setCollapsible(self.splitter.count() - 1, False)
        self.splitter.setSizes(list(_SPLITTER_START))
        #: The open form's height over the sessions table (``_keep_sessions_table``).
        self._form_height: int | None = None
        self.sessions.table.installEventFilter(self)
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
        supervisor.attached.connect(self._on_attached)
        self.banner.wait_clicked.connect(supervisor.wait)
        self.banner.restart_clicked.connect(supervisor.restart)
        self.banner.reattach_clicked.connect(supervisor.reattach)
        self.banner.start_local_clicked.connect(supervisor.start_local)
        self.do_it_button.clicked.connect(self._on_do_it_clicked)
        self.do_it.finished.connect(self._on_do_it_finished)
        self.do_it.failed.connect(self._on_do_it_failed)
        self.sessions.open_requested.connect(self._on_open_requested)
        self.sessions.serve_requested.connect(self._on_serve_requested)
        self.sessions.guess_requested.connect(self._on_guess_requested)
        self.capture_toggle.toggled.connect(self._on_capture_toggled)
        self.sessions.close_requested.connect(self._on_close_requested)
        self.sessions.abort_requested.connect(self._on_abort_requested)
        self.sessions.reconnect_requested.connect(self._on_reconnect_requested)
        self.sessions.selection_changed.connect(self._on_session_selected)
        self.sessions.tls.toggled.connect(lambda _on: self._update_do_it_target())
        self.compose.send_requested.connect(self._on_send_requested)
        self.saved.send_requested.connect(self._on_send_requested)
        self.saved.edit_requested.connect(self.compose.load_message)
        self.saved.save_button.clicked.connect(self._on_save_message)
        self.saved.run_requested.connect(self.run_script)
        self.log_panel.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.log_panel.table.customContextMenuRequested.connect(self._on_log_menu)
        self.sessions.decoder.decoder_chosen.connect(self._on_decoder_chosen)
        self.log_panel.save_requested.connect(self.save_log)
        self._add_shortcuts()
        self._on_status_changed(supervisor.status)
        self._update_do_it_target()

    def _add_shortcuts(self) -> None:
        """The window's keys (docs/gui.md lists them; each control's tooltip names its
        own). A disabled button's key does nothing, as a click would."""
        save = self.log_panel.save_button
        keys: list[tuple[QKeySequence, Any, QWidget | None]] = [
            (QKeySequence("F5"), self.do_it_button.click, self.do_it_button),
            (QKeySequence(QKeySequence.StandardKey.New), self.sessions.host, None),
            (QKeySequence("Ctrl+L"), self.compose.editor, None),
            (QKeySequence(QKeySequence.StandardKey.Find), self.log_panel.text_filter, None),
            (QKeySequence(QKeySequence.StandardKey.Save), save.click, save),
            (QKeySequence(QKeySequence.StandardKey.Quit), self.close, None),
        ]
        for sequence, action, tipped in keys:
            if isinstance(action, QLineEdit):
                action = functools.partial(_focus, action)
            QShortcut(sequence, self, action)
            if tipped is not None:
                text = sequence.toString(QKeySequence.SequenceFormat.NativeText)
                tip = tipped.toolTip()
                tipped.setToolTip(f"{tip} ({text})" if tip else text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.sessions.table and event.type() == QEvent.Type.Resize:
            self._keep_sessions_table()
        return super().eventFilter(watched, event)

    def _keep_sessions_table(self) -> None:
        """Rows of the open form coming and going (Listen and Relay's second row, the
        custom framing row, a note under the form) move the splitter, so the sessions
        table keeps its height: the log gives or takes the difference. Without this a
        relay's form left the table two rows, and the new listener's row out of sight."""
        form = self.sessions.height() - self.sessions.table.height()
        previous, self._form_height = self._form_height, form
        if previous is None or form == previous or not self.splitter.isVisible():
            return
        sessions, compose, log = self.splitter.sizes()
        grow = form - previous
        # The log gives first, then Compose (its history list), each down to its minimum.
        from_log = min(grow, log - _pane_minimum(self.splitter, 2))
        from_compose = min(grow - from_log, compose - _pane_minimum(self.splitter, 1))
        grow = from_log + from_compose
        if grow != 0:
            self.splitter.setSizes([sessions + grow, compose - from_compose, log - from_log])

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
        if self._capture_path is not None and self.capture_toggle.isChecked():
            self._start_capture(self._capture_path)
        path = self.supervisor.status.attached_to
        how = f"attached at {path}" if path else "started"
        self._note(Direction.INFO, f"engine {generation} {how} (pid {hello.pid}, "
                                   f"{hello.engine_version})")  # fmt: skip

    def _on_attached(self, generation: int, snapshot: dict[str, Any]) -> None:
        """The attached engine's sessions, listeners and relay pairs so far; its history
        follows as events."""
        sessions = snapshot.get("sessions")
        if not isinstance(sessions, list):
            sessions = []
        self.session_model.apply_snapshot(generation, sessions)
        listeners, pairs = snapshot.get("listeners"), snapshot.get("pairs")
        self.session_model.apply_roles_snapshot(
            generation,
            listeners if isinstance(listeners, list) else [],
            pairs if isinstance(pairs, list) else [],
        )
        legs: dict[int, RelayLeg] = {}
        shown = {"session": 0, "listener": 0, "relay pair": 0}
        for info in self.session_model.sessions():
            if info.generation != generation:
                continue
            shown["relay pair" if info.kind == "pair" else info.kind] += 1
            if info.kind == "pair":
                legs[info.client_session_id] = RelayLeg(info.session_id, client=True)
                legs[info.upstream_session_id] = RelayLeg(info.session_id, client=False)
                context = SessionContext(peer=info.peer_text.partition(" ⇄ ")[0],
                                         framing=info.framing)  # fmt: skip
                self.log_model.set_context(info.name, context)
        self._attached_legs = (generation, legs)
        history = snapshot.get("history")
        frames = history.get("frames", 0) if isinstance(history, dict) else 0
        what = [plural(count, kind) for kind, count in shown.items() if count or kind == "session"]
        self._note(
            Direction.INFO,
            f"attached: {', '.join(what)}; {plural(frames, 'frame')} of history follow",
        )

    def _on_engine_crashed(self, generation: int, why: str) -> None:
        self._note(Direction.ERROR, f"engine {generation} {why}")

    def _on_engine_lost(self, generation: int, why: str) -> None:
        for player in list(self.players):
            if player.generation == generation:
                player.engine_lost(f"the engine went away: {why}")
        lost = self.session_model.mark_lost(generation, why)
        self.banner.sessions_lost(lost)
        if lost:
            what = rows_in_words(lost)
            self._note(Direction.ERROR, f"{what} of engine {generation} lost: {why}")
        self.do_it.cancel("the engine went away")

    def _on_events(self, generation: int, events: list[schema.Event]) -> None:
        self.session_model.apply_events(generation, events)
        for ev in events:
            if isinstance(ev, schema.Connected | schema.Accepted):
                self._update_context(generation, ev.session_id, ev.peer)
            elif isinstance(ev, schema.PairOpened):
                pair = self.session_model.pair(generation, ev.pair_id)
                if pair is not None:  # the log's pair rows are the client's frames and back
                    context = SessionContext(
                        peer=ev.client, framing=pair.framing, unverified=pair.unverified
                    )
                    self.log_model.set_context(pair.name, context)
            elif isinstance(ev, schema.TlsEstablished):
                self._mark_unverified(generation, ev.session_id)
        offset = self._clock_offsets.get(generation, 0.0)
        append = self.log_model.append
        legs = self._attached_legs[1] if self._attached_legs[0] == generation else None
        pair_of = functools.partial(self.session_model.pair_of_leg, generation)
        for entry in log_entries(generation, offset, events, legs, pair_of=pair_of):
            append(entry.session, entry.direction, entry.wall, entry.payloads)
        if self.do_it.running:
            self.do_it.on_events(generation, events)
        for player in list(self.players):
            player.on_events(generation, events)
        if self._reveal_when_seen is not None:
            listener = self.session_model.listener(*self._reveal_when_seen)
            if listener is not None:
                self._reveal_when_seen = None
                self.sessions.reveal(listener)
        if self._select_when_seen is not None:
            info = self.session_model.session(*self._select_when_seen)
            if info is not None:
                key, self._select_when_seen = self._select_when_seen, None
                self._update_context(*key, "")
                self.sessions.select(info)

    def _mark_unverified(self, generation: int, session_id: int) -> None:
        """Rows of a session (or pair) whose TLS was not verified carry the mark in the log."""
        info = self.session_model.session(generation, session_id)
        pair = self.session_model.pair_of_leg(generation, session_id)
        if pair is not None:
            info = self.session_model.pair(generation, pair)
        if info is not None and info.unverified:
            context = self.log_model.context(info.name)
            self.log_model.set_context(info.name, context._replace(unverified=True))

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
        tls = " over TLS" if self.sessions.tls_ticks()["Connect"] else ""
        self.do_it_target.setText(
            f"connects to {host}:{port}{tls}, sends “{DO_IT_PAYLOAD.decode()}”, logs the reply"
        )

    def _on_do_it_clicked(self) -> None:
        """Do it! speaks TLS as Connect's form says (ticked, with its options)."""
        host, port = self._do_it_address()
        self._update_do_it_target()
        try:
            tls = self.sessions.connect_tls()
        except ValueError as exc:
            self._on_do_it_failed(f"TLS: {exc}")
            return
        self.do_it_result.setStyleSheet("color: #555;")
        self.do_it_result.setText("connecting…")
        self.do_it_button.setEnabled(False)
        self.do_it.start(host, port, self._framing, tls.to_wire() if tls is not None else None)

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

    def _on_open_requested(
        self, host: str, port: int, framing: Any, tls: dict[str, Any] | None = None
    ) -> None:
        """Open a session (``tls``: ``ClientTls``'s map; None: plaintext)."""
        self.sessions.open_button.setEnabled(False)
        generation = self.client.generation

        def done(result: Any, error: CommandFailed | None) -> None:
            self.sessions.open_button.setEnabled(self.client.generation > 0)
            if error is not None:
                message = error.message or error.type
                # The engine's messages usually name the address already.
                if host not in message:
                    message = f"{host}:{port}: {message}"
                data = error.data if isinstance(error.data, dict) else {}
                hint = window_hint(str(data.get("tls_cause", "")))
                self.sessions.show_error(f"{message}\n→ {hint}" if hint else message)
                return
            key = (generation, int(result["session_id"]))
            self._encodings[key] = encoding
            self._open_tls[key] = tls
            info = self.session_model.session(*key)
            if info is not None:
                self._update_context(*key, str(result.get("peer", "")))
                self.sessions.select(info)
            else:  # the answer overtook the session's first event: select it when it comes
                self._select_when_seen = key

        encoding = self.sessions.encoding_value()
        self.client.open(host, port, framing, done, tls=tls)

    def _on_serve_requested(self, command: schema.Listen | schema.Relay) -> None:
        """Listen or Relay: start a listener; its row comes with its ``listening`` event."""
        self.sessions.open_button.setEnabled(False)
        generation = self.client.generation

        def done(result: Any, error: CommandFailed | None) -> None:
            self.sessions.open_button.setEnabled(self.client.generation > 0)
            if error is not None:
                self.sessions.show_error(error.message or error.type)
                return
            where = str(result["local"])
            key = (generation, int(result["listener_id"]))
            listener = self.session_model.listener(*key)
            if listener is not None:  # in view, as a new session is
                self.sessions.reveal(listener)
            else:  # the answer overtook the listener's first event: when it comes
                self._reveal_when_seen = key
            if result["reachable"]:
                self.sessions.show_error(
                    f"listening on {where}: reachable from the network, not only from this machine"
                )
            else:
                self.sessions.show_note(f"listening on {where}")

        self.client.request(command, done)

    def _update_context(self, generation: int, session_id: int, peer: str) -> None:
        """Tell the log how to show and save a session's rows (its encoding, peer,
        framing), once both its events and the open's answer said them."""
        info = self.session_model.session(generation, session_id)
        if info is None:
            return
        encoding = self._encodings.pop((generation, session_id), None)
        if encoding is not None:
            info.encoding = encoding
        if (generation, session_id) in self._open_tls:
            info.tls_options = self._open_tls.pop((generation, session_id))
        if peer:
            context = SessionContext(info.encoding, peer, info.framing, info.unverified)
            self.log_model.set_context(info.name, context)
        elif encoding is not None:
            self.log_model.set_context(
                info.name, self.log_model.context(info.name)._replace(encoding=encoding)
            )
        if info is self.sessions.selected():
            self._on_session_selected(info)

    def _on_guess_requested(self, host: str, port: int) -> None:
        """Guess…: the bytes a failed session of that server got, or what it sends."""
        info = self.sessions.selected()
        head = info.diagnosis.head if info is not None and info.diagnosis is not None else b""
        if info is not None and head and (info.host, info.port) == (host, port):
            self._show_guess(head, f"what {info.name} received")
            return

        def done(result: Any, error: CommandFailed | None) -> None:
            if error is not None:
                self.sessions.show_error(f"guess: {error.message or error.type}")
            elif not result["data"]:
                why = "closed" if result["closed"] else f"sent nothing in {_GUESS_WAIT_S:g} s"
                self.sessions.show_error(
                    f"{host}:{port} {why}: it may wait for a request; open a session, send "
                    "one, and press Guess… with that session selected"
                )
            else:
                self._show_guess(result["data"], f"what {result['peer']} sent")

        command = schema.Sniff(host=host, port=port, wait=_GUESS_WAIT_S, connect_timeout=5.0)
        self.client.request(command, done, timeout_s=_GUESS_WAIT_S + 10.0)

    def _show_guess(self, data: bytes, source: str) -> None:
        seen = looks_like(data)
        if seen is not None:
            self.sessions.show_error(f"{source}: {seen[1]}")
            return
        guesses = guess_framing(data)
        if not guesses:
            self.sessions.show_error(f"{source}: no framing parses these {len(data)} bytes")
            return
        best = guesses[0]
        self.sessions.set_framing(best.spec)
        others = ", ".join(g.name for g in guesses[1:4])
        also = f" (next best: {others})" if others else ""
        self.sessions.show_note(f"{source}: {best.sentence()}: framing set to {best.name}{also}")

    # ------------------------------------------------------------------ capture

    def _on_capture_toggled(self, on: bool) -> None:
        if not on:
            self.capture_status.setText("")
            self.client.request(schema.Capture(), self._capture_done)
            return
        if self._capture_path is not None:
            self._start_capture(self._capture_path)
            return
        # A non-modal dialog, as Save…: the animation keeps running meanwhile.
        dialog = QFileDialog(self, "Capture to", "framewire-capture.jsonl")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["JSON lines (*.jsonl)", "All files (*)"])
        dialog.fileSelected.connect(self._start_capture)
        dialog.rejected.connect(lambda: self.capture_toggle.setChecked(False))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _start_capture(self, path: str) -> None:
        self._capture_path = path
        self.capture_status.setText(f"→ {path}")
        self.client.request(schema.Capture(path=path), self._capture_done)

    def _capture_done(self, result: Any, error: CommandFailed | None) -> None:
        if error is not None:
            self._capture_path = None
            self.capture_status.setText("")
            self.capture_toggle.blockSignals(True)
            self.capture_toggle.setChecked(False)
            self.capture_toggle.blockSignals(False)
            self._note(Direction.ERROR, f"capture: {error.message or error.type}")
        elif not result["active"]:
            self._note(Direction.INFO, f"capture stopped ({result['lines']:,} lines written)")

    def _session_done(self, action: str, info: SessionInfo) -> Any:
        def done(_result: Any, error: CommandFailed | None) -> None:
            if error is not None:
                self.sessions.show_error(f"{action} {info.name}: {error.message or error.type}")

        return done

    def _on_close_requested(self, info: SessionInfo) -> None:
        done = self._session_done("close", info)
        if info.kind == "listener":
            self.client.close_listener(info.generation, info.session_id, callback=done)
            return
        self.session_model.mark_closing(info)
        # A pair is closed through its client leg; the relay closes the upstream after it.
        session_id = info.client_session_id if info.kind == "pair" else info.session_id
        self.client.close(info.generation, session_id, done)

    def _on_abort_requested(self, info: SessionInfo) -> None:
        done = self._session_done("abort", info)
        if info.kind == "listener":
            self.client.close_listener(
                info.generation, info.session_id, close_sessions=True, callback=done
            )
            return
        session_id = info.client_session_id if info.kind == "pair" else info.session_id
        self.client.abort(info.generation, session_id, done)

    def _on_reconnect_requested(self, info: SessionInfo) -> None:
        """A new session to where a closed, failed or lost one went, framed the same and
        with the same TLS options; one whose TLS failed (or that this window did not open)
        takes the form's TLS row, where the failure's hint says to fix it."""
        tls = info.tls_options
        if info.tls_cause or (tls is None and info.tls is not None and info.tls.side == "client"):
            try:
                tls = self.sessions.client_tls.options().to_wire()
            except ValueError as exc:
                self.sessions.show_error(f"TLS: {exc}")
                return
        self._on_open_requested(info.host, info.port, info.spec or info.framing, tls)

    def _on_session_selected(self, info: SessionInfo | None) -> None:
        if info is not None and info.can_send:
            self.compose.set_target(info.name, info.encoding, pair=info.kind == "pair")
            self.saved.set_target(True, info.encoding)
        else:
            self.compose.set_target(None)
            self.saved.set_target(False)
        if info is not None:
            self.sessions.decoder.show_choice(self.log_model.decoding.label(info.name))

    # ------------------------------------------------------------------ saved messages

    def _on_save_message(self) -> None:
        self.saved.save(self.saved.name.text(), self.compose.message())

    def run_script(self, path: str) -> ScriptPlayer | None:
        """Run a script, or replay a recording, in the selected session; its frames show in
        the log as any others, and its result (the failing step's report) as a note after
        them. Returns the player (None if it could not start: said in the panel)."""
        info = self.sessions.selected()
        if info is None or not info.can_send or info.kind == "pair":
            self.saved.show_error("select an open session (not a relay pair) to run it in")
            return None
        try:
            script = load_for_session(path)
        except ScriptError as exc:
            self.saved.show_error(str(exc))
            return None
        self.saved.show_error("")
        player = ScriptPlayer(
            script, info.generation, info.session_id,
            send=self.client.send, close=self.client.close,
            decoder=self.log_model.decoding.decoder(info.name), encoding=info.encoding,
            parent=self,
        )  # fmt: skip
        self.players.append(player)
        player.finished.connect(lambda outcome: self._script_finished(player, info.name, outcome))
        steps = script.step_count()
        self._note(Direction.INFO, f"running {path} ({plural(steps, 'step')})", session=info.name)
        player.start()
        return player

    def _script_finished(self, player: ScriptPlayer, session: str, outcome: Outcome) -> None:
        if player in self.players:
            self.players.remove(player)
        runner = player.runner
        if outcome.passed:
            sent, received = plural(runner.frames_out, "frame"), runner.frames_in
            text = f"✓ {runner.script.path}: passed ({sent} sent, {received} received)"
            self._note(Direction.INFO, text, session=session)
        else:
            self._note(Direction.ERROR, f"✗ {outcome.report}", session=session)

    def _on_log_menu(self, position: QPoint) -> None:
        """The log's context menu: a row's payload as a saved message, its session as a
        script (non-modal: the menu pops up and the window goes on)."""
        index = self.log_panel.table.indexAt(position)
        if not index.isValid():
            return
        row: LogRow = self.log_model.data(index, Qt.ItemDataRole.UserRole)
        if row.direction not in (Direction.IN, Direction.OUT):
            return
        encoding = self.log_model.context(row.session).encoding
        menu = QMenu(self)
        menu.addAction("Save as message", lambda: self.saved.save_payload(row.payload, encoding))
        menu.addAction(
            f"Save session {row.session} as script…", lambda: self._save_session_script(row.session)
        )
        menu.popup(self.log_panel.table.viewport().mapToGlobal(position))

    def _save_session_script(self, session: str) -> None:
        dialog = QFileDialog(self, "Save session as script", f"session-{session.strip('#')}.toml")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Scripts (*.toml)", "All files (*)"])
        dialog.fileSelected.connect(
            lambda path: self._note(*self.write_session_script(session, path), session=session)
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def write_session_script(self, session: str, path: str) -> tuple[Direction, str]:
        """Write ``session``'s frames held in the log as a script (``exchanges.script_text``):
        its sends as send steps, its replies as expect steps. Returns the log note."""
        store = self.log_model.store
        frames = [
            SessionFrame(row.direction.value, row.payload)
            for row in store.rows(store.first_seq, store.end_seq)
            if row.session == session and row.direction in (Direction.IN, Direction.OUT)
        ]
        context = self.log_model.context(session)
        text = script_text(
            frames,
            name=f"session {session} {context.peer}".strip(),
            framing=context.framing,
            encoding=context.encoding,
            comment=f"saved by framewire from session {session} ({context.peer}); run it with\n"
            f"framewire-engine HOST:PORT --script {Path(path).name}",
        )
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            return Direction.ERROR, f"cannot save the script: {exc.strerror}"
        return (
            Direction.INFO,
            f"saved {plural(len(frames), 'frame')} of {session} as a script: {path}",
        )

    def _on_decoder_chosen(self, decoder: Decoder, label: str) -> None:
        info = self.sessions.selected()
        if info is None:
            return
        self.log_model.decoding.set_decoder(info.name, decoder, label)
        self.log_model.refresh_data()
        self.log_panel.refresh_detail()

    def _on_send_requested(self, payload: bytes) -> None:
        info = self.sessions.selected()
        if info is None or not info.can_send:
            self.compose.show_error("select an open session first")
            return
        session_id = info.session_id
        if info.kind == "pair":  # inject into the leg the compose box names
            leg = self.compose.chosen_leg()
            session_id = info.upstream_session_id if leg == "upstream" else info.client_session_id
            if not session_id:
                self.compose.show_error(f"{info.name}: the upstream is not connected yet")
                return
        self.compose.show_error("")

        def done(_result: Any, error: CommandFailed | None) -> None:
            if error is not None:
                self.compose.show_error(f"send to {info.name}: {error.message or error.type}")

        self.client.send(info.generation, session_id, [payload], done)

    # ------------------------------------------------------------------ log

    def save_log(self, path: str) -> LogExporter | None:
        """Save the visible log rows to ``path`` while the window goes on (returns the
        exporter; None while another save runs: Save… is disabled then). Progress and
        Cancel are in the log's footer, and then how the save ended."""
        if self._exporter is not None and self._exporter.running:
            return None
        exporter = LogExporter(self.log_model, path, self)
        panel = self.log_panel

        def over(outcome: str, failed: bool = False) -> None:
            panel.saving_over(outcome, failed=failed)
            exporter.deleteLater()
            if self._exporter is exporter:
                self._exporter = None

        def finished(rows: int, where: str) -> None:
            skipped = exporter.skipped
            note = f" ({skipped:,} dropped by the cap before their turn)" if skipped else ""
            over(f"saved {rows:,} rows to {where}{note}")

        exporter.progressed.connect(panel.show_saving)
        exporter.finished.connect(finished)
        exporter.failed.connect(lambda why: over(why, failed=True))
        exporter.cancelled.connect(lambda: over(f"not saved: {path}"))
        panel.save_cancel_requested.connect(exporter.cancel)
        self._exporter = exporter
        panel.show_saving(0, exporter.total)
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
                if self.settings is not None:
                    window_settings.save(self, self.settings)
                self.closed.emit()
            return
        event.ignore()  # the status line says "engine stopping" meanwhile
        self.supervisor.shutdown()

    def _on_engine_stopped(self) -> None:
        self.close()


def _focus(field: QLineEdit) -> None:
    """A shortcut's field: focused, its text selected to be typed over."""
    field.setFocus(Qt.FocusReason.ShortcutFocusReason)
    field.selectAll()


def _pane_minimum(splitter: QSplitter, index: int) -> int:
    """The height below which the splitter would not shrink its pane ``index``."""
    pane = splitter.widget(index)
    assert pane is not None
    return max(pane.minimumSizeHint().height(), pane.minimumHeight())


def _side_by_side(left: QWidget, right: QWidget) -> QWidget:
    """Compose and the saved messages beside it (the panel narrower)."""
    pair = QWidget()
    row = QHBoxLayout(pair)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(left, 2)
    row.addWidget(right, 1)
    return pair


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 2, 6, 4)
    layout.addWidget(widget)
    return box
