"""Open a session (host, port, framing preset or custom spec, text encoding, TLS), guess
a server's framing, listen or relay, and list sessions, listeners and relay pairs.

The mode box picks the role: **Connect** (open a session to HOST:PORT), **Listen** (be the
server on HOST:PORT; 0 picks a free port) or **Relay** (listen on HOST:PORT and relay each
client to the server named after "to"). Listen and relay show a second row: the upstream
(relay), echo (listen), and the limits on the clients they accept. A host other than
loopback is reachable from the network, and the form says so before anything listens.

**TLS** (each mode keeps its own tick) shows a row of options: a client's for Connect
(CA file, client certificate and key, ALPN, server name, Insecure), the listening side's
for Listen and Relay (certificate, key, client CA, ALPN); the relay's upstream has its
own TLS tick and client row. Double-clicking a TLS session (or the table's context menu,
**TLS details…**) shows what its TLS established, or why it failed
(``ui.widgets.tls_details``).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ipc import schema
from ipc.errors import LocalProtocolError
from ipc.framing import PRESET_NOTES, PRESETS, FramingSpec, describe
from ipc.text import ENCODINGS
from ipc.tls import ClientTls
from ui.session_model import SessionInfo, SessionModel
from ui.widgets.decoder_chooser import DecoderChooser
from ui.widgets.tls_details import TlsDetailsDialog
from ui.widgets.tls_options import UNVERIFIED_COLOR, ClientTlsRow, ServerTlsRow

__all__ = [
    "CUSTOM_FRAMING",
    "DEFAULT_PRESETS",
    "EMPTY_HINT",
    "GUESS_FRAMING",
    "MODES",
    "SAME_FRAMING",
    "SessionPanel",
]

#: The roles the form can start, and what its button says for each.
MODES = {"Connect": "Open", "Listen": "Listen", "Relay": "Relay"}
#: The upstream framing box's first entry: the same framing as the clients'.
SAME_FRAMING = "same"
#: The open button's tooltip while a TLS row's Insecure is ticked (the button is red).
_INSECURE_OPEN_TIP = (
    "Insecure is ticked: the server's certificate will NOT be verified (chain and host "
    "name); the session is marked unverified"
)

DEFAULT_PRESETS = tuple(PRESETS)
#: The strip box's "nothing but the length field" value (``strip=None``).
_STRIP_LENGTH_FIELD = -1
CUSTOM_FRAMING = "custom…"
#: The framing box's last entry: read what the server sends and pick the framing for it.
GUESS_FRAMING = "guess…"
#: What the empty sessions table says.
EMPTY_HINT = "No sessions yet: open one above, or press Do it!"
#: The widest value a column usually shows (Session, Peer, Framing, State, Frames in,
#: Bytes in, Frames out, Bytes out, Frames/s in, Frames/s out).
#: The host field is wide enough for this (longer names scroll in it).
_HOST_SAMPLE = "server.example.com"
_COLUMN_SAMPLES = ("e2#10 do-it", "127.0.0.1:65535", "custom…", "connecting", "999,999,999",
                   "999.9 MiB", "999,999,999", "999.9 MiB", "999.9k/s", "999.9k/s")  # fmt: skip

_PEER_COLUMN = 1


class _SessionTable(QTableView):
    """A table that says what to do while it is empty."""

    def __init__(self, placeholder: str) -> None:
        super().__init__()
        self.placeholder = placeholder

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            painter.end()


class SessionPanel(QWidget):
    """Signals carry what the user asked for; the window does the work."""

    open_requested = Signal(str, int, object, object)  # host, port, framing, TLS map | None
    serve_requested = Signal(object)  # schema.Listen | schema.Relay
    guess_requested = Signal(str, int)  # host, port
    close_requested = Signal(object)  # SessionInfo
    abort_requested = Signal(object)
    reconnect_requested = Signal(object)  # SessionInfo of a session that is over
    selection_changed = Signal(object)  # SessionInfo | None

    def __init__(self, model: SessionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.mode = QComboBox()
        self.mode.addItems(list(MODES))
        self.mode.setToolTip(
            "Connect: be the client. Listen: be the server (port 0: any free one). Relay: "
            "listen, and pass each client's frames to the server after 'to', and back"
        )
        self.mode.currentTextChanged.connect(self._on_mode_changed)
        self.mode.setFixedWidth(self.mode.fontMetrics().horizontalAdvance("Connect") + 34)
        #: Each mode's host and port, kept while another mode shows the form.
        self._addresses = dict.fromkeys(MODES, ("127.0.0.1", 0))
        self._mode = "Connect"
        self.host = QLineEdit("127.0.0.1")
        self.host.setPlaceholderText("host")
        self.host.setToolTip("Connect: the server; Listen and Relay: where to listen")
        self.host.setFixedWidth(self.host.fontMetrics().horizontalAdvance(_HOST_SAMPLE) + 16)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(9000)
        self.framing = QComboBox()
        self.framing.addItems([*DEFAULT_PRESETS, CUSTOM_FRAMING, GUESS_FRAMING])
        self._set_preset_tips()
        self.framing.setToolTip(
            "length prefix: le32 = 4-byte little-endian (the classic sample); guess… reads "
            "what the server sends first (or what a failed session got) and picks the "
            "framing that parses it"
        )
        self._chosen_framing = self.framing.currentText()
        self.framing.activated.connect(self._on_framing_activated)
        self.encoding = QComboBox()
        for name, label in ENCODINGS.items():
            self.encoding.addItem(label, name)
        self.encoding.setToolTip(
            "the text encoding of the next session opened: how its payloads are shown and "
            "composed as text"
        )
        self.tls = QCheckBox("TLS")
        self.tls.setToolTip(
            "Connect: speak TLS to the server, verified against the system's CAs or the CA "
            "file. Listen and Relay: the clients speak TLS to this listener (its certificate)"
        )
        #: Each mode's TLS tick, kept while another mode shows the form.
        self._tls_on = dict.fromkeys(MODES, False)
        self.client_tls = ClientTlsRow("TLS")
        self.server_tls = ServerTlsRow("TLS")
        self.upstream_tls = ClientTlsRow("upstream TLS")
        self.client_tls.insecure_toggled.connect(self._update_tls_note)
        self.upstream_tls.insecure_toggled.connect(self._update_tls_note)
        # Narrow boxes (the popups are as wide as their entries): the form must fit 1024 px.
        for combo, chars in ((self.framing, 6), (self.encoding, 5)):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(chars)
        # The custom framing row: Netty's LengthFieldBasedFrameDecoder fields.
        self.length_offset = QSpinBox()
        self.length_offset.setRange(0, 1024)
        self.length_offset.setToolTip("bytes before the length field (a type byte, a preamble)")
        self.length_size = QComboBox()
        self.length_size.addItems(["1", "2", "3", "4", "8", "varint"])
        self.length_size.setCurrentText("4")
        self.byte_order = QComboBox()
        self.byte_order.addItems(["little", "big"])
        self.length_adjust = QSpinBox()
        self.length_adjust.setRange(-65536, 65536)
        self.length_adjust.setToolTip(
            "added to the length to get the bytes after it: negative when the length counts "
            "itself (PostgreSQL: -4), positive for bytes it leaves out (MySQL's sequence id: 1)"
        )
        self.includes_header = QCheckBox("counts header")
        self.includes_header.setToolTip(
            "the length counts the header too (the bytes before it and itself)"
        )
        self.strip = QSpinBox()
        self.strip.setRange(_STRIP_LENGTH_FIELD, 1032)
        self.strip.setValue(_STRIP_LENGTH_FIELD)
        self.strip.setSpecialValueText("length field")
        self.strip.setToolTip(
            "what a frame loses on delivery: the length field only, or its first N bytes "
            "(0: the whole frame is shown)"
        )
        self.max_length = QSpinBox()
        self.max_length.setRange(1, 1024 * 1024 * 1024)
        self.max_length.setValue(8 * 1024 * 1024)
        self.max_length.setToolTip("maximum frame length (bytes); longer frames close the session")
        self.custom_summary = QLabel()
        self.custom_summary.setStyleSheet("color: #555;")
        self._custom = QWidget()
        custom = QHBoxLayout(self._custom)
        custom.setContentsMargins(0, 0, 0, 0)
        for label, widget in (
            ("offset", self.length_offset),
            ("size", self.length_size),
            ("order", self.byte_order),
            ("adjust", self.length_adjust),
        ):
            custom.addWidget(QLabel(label))
            custom.addWidget(widget)
        custom.addWidget(self.includes_header)
        for label, widget in (("strip", self.strip), ("max", self.max_length)):
            custom.addWidget(QLabel(label))
            custom.addWidget(widget)
        custom.addWidget(self.custom_summary, 1)
        self._custom.hide()
        self.framing.currentTextChanged.connect(
            lambda text: self._custom.setVisible(text == CUSTOM_FRAMING)
        )
        for box in (self.length_offset, self.length_adjust, self.strip, self.max_length):
            box.valueChanged.connect(self._check_custom)
        for combo in (self.length_size, self.byte_order):
            combo.currentTextChanged.connect(self._check_custom)
        self.includes_header.toggled.connect(self._check_custom)
        self._check_custom()
        self._build_serve_row()
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.host.returnPressed.connect(self._on_open_clicked)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        self.error.setWordWrap(True)
        self.error.hide()

        self.table = _SessionTable(EMPTY_HINT)
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        # Columns are wide enough for realistic values (counters up to 999,999,999) and
        # their headers; the user can drag them wider. Peer, the one column whose values
        # vary in length (host names), takes what is left, at least a loopback address.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(_PEER_COLUMN, QHeaderView.ResizeMode.Stretch)
        metrics = self.table.fontMetrics()
        for col, sample in enumerate(_COLUMN_SAMPLES):
            header_text = str(model.headerData(col, Qt.Orientation.Horizontal, 0))
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(header_text))
            self.table.setColumnWidth(col, width + 24)
        # The header and two rows at least on a small screen; the window's splitter gives
        # it room for about five at its usual size.
        self.table.setMinimumHeight(header.sizeHint().height() + 2 * 22 + 4)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        model.dataChanged.connect(self._on_selection)  # state changes enable/disable buttons
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("flush queued frames, then close")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setToolTip("reset the connection now, dropping queued frames")
        self.decoder = DecoderChooser()
        self.decoder.failed.connect(self.show_error)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.setToolTip(
            "open a new session to the same server with the same framing"
        )
        self.reconnect_button.clicked.connect(
            lambda: self._emit_for_selected(self.reconnect_requested)
        )
        # The TLS details: double-click a TLS row, or the table's context menu (no button:
        # the form must fit 1024 px).
        self.tls_action = QAction("TLS details…", self.table)
        self.tls_action.setToolTip(
            "what the selected session's TLS established (version, cipher, ALPN, the "
            "peer's certificate, verification), or why it failed"
        )
        self.tls_action.triggered.connect(self.show_tls_details)
        self.table.addAction(self.tls_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.doubleClicked.connect(self._on_double_click)
        self._tls_dialog: TlsDetailsDialog | None = None
        self.close_button.clicked.connect(lambda: self._emit_for_selected(self.close_requested))
        self.abort_button.clicked.connect(lambda: self._emit_for_selected(self.abort_requested))

        form = QHBoxLayout()
        for button in (self.open_button, self.close_button, self.abort_button):
            _fit(button)
        # The mode box names the host field ("Connect [host]", "Listen [host]").
        form.addWidget(self.mode)
        form.addWidget(self.host)
        form.addWidget(QLabel(":"))
        form.addWidget(self.port)
        form.addWidget(QLabel("Framing"))
        form.addWidget(self.framing)
        form.addWidget(self.encoding)
        form.addWidget(self.tls)
        form.addWidget(self.open_button)
        form.addStretch(1)
        form.addWidget(self.reconnect_button)
        form.addWidget(self.close_button)
        form.addWidget(self.abort_button)
        form.addWidget(self.decoder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self._serve)
        for row in (self.client_tls, self.server_tls, self.upstream_tls):
            layout.addWidget(row)
        layout.addWidget(self._custom)
        layout.addWidget(self.error)
        layout.addWidget(self.table)
        self.tls.toggled.connect(self._on_tls_toggled)
        self.upstream_tls_on.toggled.connect(self._update_tls_rows)
        self._update_tls_rows()
        self._update_buttons()

    def _build_serve_row(self) -> None:
        """The second row of Listen and Relay: the upstream, echo, the limits."""
        self.upstream_host = QLineEdit("127.0.0.1")
        self.upstream_host.setPlaceholderText("server")
        self.upstream_host.setFixedWidth(self.host.width())
        self.upstream_port = QSpinBox()
        self.upstream_port.setRange(1, 65535)
        self.upstream_port.setValue(9000)
        self.upstream_framing = QComboBox()
        self.upstream_framing.addItems([SAME_FRAMING, *DEFAULT_PRESETS])
        self.upstream_framing.setToolTip(
            "the server's framing: frames are re-encoded when it differs from the clients'"
        )
        self.upstream_tls_on = QCheckBox("TLS")
        self.upstream_tls_on.setToolTip(
            "the relay speaks TLS to the upstream server (its options: the upstream TLS row)"
        )
        self.echo = QCheckBox("echo")
        self.echo.setToolTip("send each frame a client sends back to it")
        self.max_clients = QSpinBox()
        self.max_clients.setRange(1, 1_000_000)
        self.max_clients.setValue(schema.DEFAULT_MAX_CLIENTS)
        self.max_clients.setToolTip("clients at once; the next one is closed at once (logged)")
        self.idle_timeout = QSpinBox()
        self.idle_timeout.setRange(0, 7 * 24 * 3600)
        self.idle_timeout.setValue(int(schema.DEFAULT_IDLE_TIMEOUT))
        self.idle_timeout.setSuffix(" s")
        self.idle_timeout.setSpecialValueText("never")
        self.idle_timeout.setToolTip("close a client after this long without a byte either way")
        self.partial_timeout = QSpinBox()
        self.partial_timeout.setRange(0, 24 * 3600)
        self.partial_timeout.setValue(int(schema.DEFAULT_PARTIAL_FRAME_TIMEOUT))
        self.partial_timeout.setSuffix(" s")
        self.partial_timeout.setSpecialValueText("never")
        self.partial_timeout.setToolTip(
            "end a client whose frame stays incomplete this long (a peer that sends half a "
            "header and goes silent)"
        )
        self.reachable = QLabel()
        self.reachable.setStyleSheet("color: #b71c1c;")
        self.host.textChanged.connect(self._check_reachable)
        self._serve = QWidget()
        row = QHBoxLayout(self._serve)
        row.setContentsMargins(0, 0, 0, 0)
        self._upstream_widgets: list[QWidget] = [
            QLabel("to"),
            self.upstream_host,
            self.upstream_port,
            self.upstream_framing,
            self.upstream_tls_on,
        ]
        for widget in [*self._upstream_widgets, self.echo]:
            row.addWidget(widget)
        for label, widget in (
            ("max clients", self.max_clients),
            ("idle", self.idle_timeout),
            ("mid-frame", self.partial_timeout),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addWidget(self.reachable, 1)
        self._serve.hide()

    def _on_mode_changed(self, mode: str) -> None:
        """Show the form for ``mode``; each mode keeps its own host and port."""
        previous, self._mode = self._mode, mode
        self._addresses[previous] = (self.host.text(), self.port.value())
        self.tls.setChecked(self._tls_on[mode])
        if mode == "Relay" and previous == "Connect":  # relay to the server just typed
            host, port = self._addresses["Connect"]
            self.upstream_host.setText(host)
            self.upstream_port.setValue(max(port, 1))
        serving = mode != "Connect"
        self.port.setMinimum(0 if serving else 1)
        self.port.setSpecialValueText("any" if serving else "")
        host, port = self._addresses[mode]
        self.host.setText(host)
        self.port.setValue(port)
        self.open_button.setText(MODES[mode])
        _fit(self.open_button)
        self._serve.setVisible(serving)
        for widget in self._upstream_widgets:
            widget.setVisible(mode == "Relay")
        self.echo.setVisible(mode == "Listen")
        self._update_tls_rows()
        self._check_reachable()
        self.show_error("")  # the last mode's note ("listening on …") is not about this one

    def _check_reachable(self, *_args: Any) -> None:
        """Say, before anything listens, when the address is reachable from the network."""
        host = self.host.text().strip()
        warn = self._mode != "Connect" and bool(host) and not _is_loopback(host)
        self.reachable.setText(f"{host} is reachable from the network" if warn else "")

    def serve_command(self) -> schema.Listen | schema.Relay:
        """The Listen or Relay form as the engine's command.

        Raises:
            ValueError: a TLS row's options do not go together (the message says why).
        """
        host, port, framing = self.host.text().strip(), self.port.value(), self.framing_value()
        tls = self.server_tls.options().to_wire() if self.tls.isChecked() else None
        max_clients = self.max_clients.value()
        idle = float(self.idle_timeout.value())
        partial = float(self.partial_timeout.value())
        if self._mode == "Listen":
            return schema.Listen(
                host=host,
                port=port,
                framing=framing,
                echo=self.echo.isChecked(),
                max_clients=max_clients,
                idle_timeout=idle,
                partial_frame_timeout=partial,
                tls=tls,
            )
        upstream = self.upstream_framing.currentText()
        return schema.Relay(
            host=host,
            port=port,
            framing=framing,
            upstream_host=self.upstream_host.text().strip(),
            upstream_port=self.upstream_port.value(),
            upstream_framing=None if upstream == SAME_FRAMING else upstream,
            max_clients=max_clients,
            idle_timeout=idle,
            partial_frame_timeout=partial,
            tls=tls,
            upstream_tls=(
                self.upstream_tls.options().to_wire() if self.upstream_tls_on.isChecked() else None
            ),
        )

    def connect_tls(self) -> ClientTls | None:
        """Connect's TLS options (None: TLS is not ticked for Connect).

        Raises:
            ValueError: the options do not go together.
        """
        return self.client_tls.options() if self._tls_on["Connect"] else None

    def use_client_tls(self, options: ClientTls | None) -> None:
        """Tick (or untick, for None) Connect's TLS and fill its row in with ``options``."""
        self._tls_on["Connect"] = options is not None
        if options is not None:
            self.client_tls.show_options(options)
        if self._mode == "Connect":
            self.tls.setChecked(options is not None)
        self._update_tls_rows()

    def tls_ticks(self) -> dict[str, bool]:
        """Each mode's TLS tick, and the relay upstream's ("Upstream")."""
        return {**self._tls_on, "Upstream": self.upstream_tls_on.isChecked()}

    def set_tls_ticks(self, ticks: dict[str, bool]) -> None:
        for mode in MODES:
            self._tls_on[mode] = ticks.get(mode, self._tls_on[mode])
        self.upstream_tls_on.setChecked(ticks.get("Upstream", self.upstream_tls_on.isChecked()))
        self.tls.setChecked(self._tls_on[self._mode])
        self._update_tls_rows()

    def _on_tls_toggled(self, on: bool) -> None:
        self._tls_on[self._mode] = on
        self._update_tls_rows()

    def _update_tls_rows(self, *_args: Any) -> None:
        """Show the TLS rows the mode and its ticks ask for."""
        tls = self._tls_on[self._mode]
        self.client_tls.setVisible(self._mode == "Connect" and tls)
        self.server_tls.setVisible(self._mode != "Connect" and tls)
        self.upstream_tls.setVisible(self._mode == "Relay" and self.upstream_tls_on.isChecked())
        self._update_tls_note()

    def _update_tls_note(self, *_args: Any) -> None:
        """Say, before anything opens, that Insecure skips verification."""
        insecure = (self.client_tls.isVisibleTo(self) and self.client_tls.insecure.isChecked()) or (
            self.upstream_tls.isVisibleTo(self) and self.upstream_tls.insecure.isChecked()
        )
        # Red, not reworded: a longer word would push the form past a 1024 px screen.
        self.open_button.setStyleSheet(f"color: {UNVERIFIED_COLOR};" if insecure else "")
        self.open_button.setToolTip(_INSECURE_OPEN_TIP if insecure else "")

    def set_presets(self, names: list[str]) -> None:
        current = self.framing.currentText()
        self.framing.clear()
        self.framing.addItems([*names, CUSTOM_FRAMING, GUESS_FRAMING])
        self._set_preset_tips()
        self.framing.setCurrentText(current if current in [*names, CUSTOM_FRAMING] else names[0])
        self._chosen_framing = self.framing.currentText()

    def _set_preset_tips(self) -> None:
        for row in range(self.framing.count()):
            note = PRESET_NOTES.get(self.framing.itemText(row))
            if note is not None:
                self.framing.setItemData(row, note, Qt.ItemDataRole.ToolTipRole)

    def framing_value(self) -> Any:
        """The preset name, or a custom spec map."""
        text = self.framing.currentText()
        return self.custom_fields() if text == CUSTOM_FRAMING else text

    def custom_fields(self) -> dict[str, Any]:
        """The custom row as a framing map (``FramingSpec`` checks it)."""
        size = self.length_size.currentText()
        strip = self.strip.value()
        return {
            "length_offset": self.length_offset.value(),
            "length_size": size if size == "varint" else int(size),
            "byte_order": self.byte_order.currentText(),
            "length_adjust": self.length_adjust.value(),
            "length_includes_header": self.includes_header.isChecked(),
            "strip": None if strip == _STRIP_LENGTH_FIELD else strip,
            "max_frame_length": self.max_length.value(),
        }

    def set_framing(self, spec: FramingSpec) -> None:
        """Show ``spec``: its preset if it is one, else the custom row filled in."""
        name = describe(spec)
        if name in PRESETS and self.framing.findText(name) >= 0:
            self.framing.setCurrentText(name)
            self._chosen_framing = name
            return
        self.length_offset.setValue(spec.length_offset)
        self.length_size.setCurrentText(str(spec.length_size))
        self.byte_order.setCurrentText(spec.byte_order)
        self.length_adjust.setValue(spec.length_adjust)
        self.includes_header.setChecked(spec.length_includes_header)
        self.strip.setValue(_STRIP_LENGTH_FIELD if spec.strip is None else spec.strip)
        self.max_length.setValue(spec.max_frame_length)
        self.framing.setCurrentText(CUSTOM_FRAMING)
        self._chosen_framing = CUSTOM_FRAMING

    def encoding_value(self) -> str:
        """The text encoding chosen for the next session (an ``ipc.text`` name)."""
        return str(self.encoding.currentData())

    def _check_custom(self, *_args: Any) -> bool:
        """Say what the custom row describes, or why it is not a framing."""
        try:
            spec = FramingSpec(**self.custom_fields())
        except LocalProtocolError as exc:
            self.custom_summary.setStyleSheet("color: #b71c1c;")
            self.custom_summary.setText(str(exc))
            return False
        self.custom_summary.setStyleSheet("color: #555;")
        self.custom_summary.setText(f"= {describe(spec)}")
        return True

    def show_note(self, message: str) -> None:
        """A neutral message under the form (a guess's result)."""
        self.error.setStyleSheet("color: #1b5e20;")
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _on_framing_activated(self, _index: int) -> None:
        if self.framing.currentText() != GUESS_FRAMING:
            self._chosen_framing = self.framing.currentText()
            return
        self.framing.setCurrentText(self._chosen_framing)  # until the guess says otherwise
        self.guess()

    def guess(self) -> None:
        """Ask for a framing guess for the host and port in the form."""
        host = self.host.text().strip()
        if not host:
            self.show_error("enter a host name or address")
            return
        self.show_note(f"reading what {host}:{self.port.value()} sends…")
        self.guess_requested.emit(host, self.port.value())

    def show_error(self, message: str) -> None:
        self.error.setStyleSheet("color: #b71c1c;")
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def selected(self) -> SessionInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self._model.session_at(rows[0].row()) if rows else None

    def select(self, info: SessionInfo) -> None:
        for row in range(self._model.rowCount()):
            if self._model.session_at(row) is info:
                index = self._model.index(row, 0)
                self.table.selectionModel().select(
                    index,
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                self.reveal(info)
                return

    def reveal(self, info: SessionInfo) -> None:
        """Scroll ``info``'s row into view, whole (a new session or listener at the
        bottom), once the table has laid out the row just inserted (before that there is
        nothing to scroll to)."""
        for row in range(self._model.rowCount()):
            if self._model.session_at(row) is info:
                target = QPersistentModelIndex(self._model.index(row, 0))
                QTimer.singleShot(0, self.table, functools.partial(self._scroll_to, target))
                return

    def _scroll_to(self, target: QPersistentModelIndex) -> None:
        if target.isValid():
            # The view lays out inserted rows (and sets its scroll range) on a zero timer
            # of its own, which may not have run yet: now, or the range stops short.
            self.table.executeDelayedItemsLayout()
            self.table.scrollTo(self._model.index(target.row(), target.column()))

    def _on_open_clicked(self) -> None:
        host = self.host.text().strip()
        if not host:
            self.show_error("enter a host name or address")
            return
        if self.framing.currentText() == CUSTOM_FRAMING and not self._check_custom():
            self.show_error(f"custom framing: {self.custom_summary.text()}")
            return
        if self._mode == "Relay" and not self.upstream_host.text().strip():
            self.show_error("enter the server to relay to")
            return
        try:
            tls = self.connect_tls() if self._mode == "Connect" else None
            command = self.serve_command() if self._mode != "Connect" else None
        except ValueError as exc:
            self.show_error(f"TLS: {exc}")
            return
        self.show_error("")
        if command is None:
            wire = tls.to_wire() if tls is not None else None
            self.open_requested.emit(host, self.port.value(), self.framing_value(), wire)
            return
        self.serve_requested.emit(command)

    def _on_selection(self, *_args: Any) -> None:
        self._update_buttons()
        info = self.selected()
        if self._tls_dialog is not None and self._tls_dialog.isVisible():
            self._tls_dialog.details.show_session(info)
        self.selection_changed.emit(info)

    def _on_double_click(self, _index: QModelIndex) -> None:
        if _has_tls(self.selected()):
            self.show_tls_details()

    def show_tls_details(self) -> TlsDetailsDialog:
        """Open (or raise) the TLS details window; it follows the selection while open."""
        if self._tls_dialog is None:
            self._tls_dialog = TlsDetailsDialog(self)
        self._tls_dialog.details.show_session(self.selected())
        self._tls_dialog.show()
        self._tls_dialog.raise_()
        return self._tls_dialog

    def _update_buttons(self) -> None:
        info = self.selected()
        enabled = info is not None and info.is_open
        self.close_button.setEnabled(enabled)
        self.abort_button.setEnabled(enabled)
        kind = info.kind if info is not None else "session"
        self.close_button.setToolTip(_CLOSE_TIPS[kind])
        self.abort_button.setToolTip(_ABORT_TIPS[kind])
        self.decoder.setEnabled(info is not None and kind != "listener")
        # A session that is over can only be opened again: Reconnect takes the place of
        # Close and Abort (the form fits 1024 px that way).
        self.tls_action.setEnabled(_has_tls(info))
        over = info is not None and info.is_over
        self.reconnect_button.setVisible(over)
        self.close_button.setVisible(not over)
        self.abort_button.setVisible(not over)

    def _emit_for_selected(self, signal: Any) -> None:
        info = self.selected()
        if info is not None:
            signal.emit(info)


_CLOSE_TIPS = {
    "session": "flush queued frames, then close",
    "pair": "close the client (after flushing); the relay then closes the upstream",
    "listener": "stop listening; the clients it accepted stay",
}
_ABORT_TIPS = {
    "session": "reset the connection now, dropping queued frames",
    "pair": "reset the client now; the relay resets the upstream too",
    "listener": "stop listening and close the clients it accepted",
}


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (a name other than localhost counts as not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _has_tls(info: SessionInfo | None) -> bool:
    """Whether ``info`` has TLS details to show: what a handshake established, or why it
    failed."""
    return info is not None and bool(info.tls or info.upstream_tls or info.tls_error)


def _fit(button: QPushButton) -> None:
    """A button as wide as its words (the style's 80 px minimum for each would push the
    form past a 1024 px screen)."""
    width = button.fontMetrics().horizontalAdvance(button.text()) + 30
    button.setMinimumWidth(width)
    button.setMaximumWidth(width)
