"""Open a session (host, port, framing preset or custom spec) and list sessions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
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

from ui.session_model import SessionInfo, SessionModel
from ui.widgets.decoder_chooser import DecoderChooser

__all__ = ["CUSTOM_FRAMING", "DEFAULT_PRESETS", "EMPTY_HINT", "SessionPanel"]

DEFAULT_PRESETS = ("le32", "be32", "le16", "be16", "u8", "le64", "be64")
CUSTOM_FRAMING = "custom…"
#: What the empty sessions table says.
EMPTY_HINT = "No sessions yet: open one above, or press Do it!"
#: The widest value a column usually shows (Session, Peer, Framing, State, Frames in,
#: Bytes in, Frames out, Bytes out, Frames/s in, Frames/s out).
#: The host field is wide enough for this (longer names scroll in it).
_HOST_SAMPLE = "server-01.example.com"
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

    open_requested = Signal(str, int, object)  # host, port, framing (preset name or map)
    close_requested = Signal(object)  # SessionInfo
    abort_requested = Signal(object)
    selection_changed = Signal(object)  # SessionInfo | None

    def __init__(self, model: SessionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.host = QLineEdit("127.0.0.1")
        self.host.setPlaceholderText("host")
        self.host.setFixedWidth(self.host.fontMetrics().horizontalAdvance(_HOST_SAMPLE) + 16)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(9000)
        self.framing = QComboBox()
        self.framing.addItems([*DEFAULT_PRESETS, CUSTOM_FRAMING])
        self.framing.setToolTip("length prefix: le32 = 4-byte little-endian (the classic sample)")
        self.length_size = QComboBox()
        self.length_size.addItems(["1", "2", "4", "8"])
        self.length_size.setCurrentText("4")
        self.byte_order = QComboBox()
        self.byte_order.addItems(["little", "big"])
        self.includes_header = QCheckBox("length counts header")
        self.max_length = QSpinBox()
        self.max_length.setRange(1, 1024 * 1024 * 1024)
        self.max_length.setValue(8 * 1024 * 1024)
        self.max_length.setToolTip("maximum frame length (bytes); longer frames close the session")
        self._custom = QWidget()
        custom = QHBoxLayout(self._custom)
        custom.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("size", self.length_size), ("order", self.byte_order)):
            custom.addWidget(QLabel(label))
            custom.addWidget(widget)
        custom.addWidget(self.includes_header)
        custom.addWidget(QLabel("max"))
        custom.addWidget(self.max_length)
        custom.addStretch(1)
        self._custom.hide()
        self.framing.currentTextChanged.connect(
            lambda text: self._custom.setVisible(text == CUSTOM_FRAMING)
        )
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
        # The header and two rows at least; the window's splitter gives it more.
        self.table.setMinimumHeight(header.sizeHint().height() + 2 * 22 + 4)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        model.dataChanged.connect(self._on_selection)  # state changes enable/disable buttons
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("flush queued frames, then close")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setToolTip("reset the connection now, dropping queued frames")
        self.decoder = DecoderChooser()
        self.decoder.failed.connect(self.show_error)
        self.close_button.clicked.connect(lambda: self._emit_for_selected(self.close_requested))
        self.abort_button.clicked.connect(lambda: self._emit_for_selected(self.abort_requested))

        form = QHBoxLayout()
        form.addWidget(QLabel("Host"))
        form.addWidget(self.host)
        form.addWidget(QLabel("Port"))
        form.addWidget(self.port)
        form.addWidget(QLabel("Framing"))
        form.addWidget(self.framing)
        form.addWidget(self.open_button)
        form.addStretch(1)
        form.addWidget(self.close_button)
        form.addWidget(self.abort_button)
        form.addWidget(self.decoder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self._custom)
        layout.addWidget(self.error)
        layout.addWidget(self.table)
        self._update_buttons()

    def set_presets(self, names: list[str]) -> None:
        current = self.framing.currentText()
        self.framing.clear()
        self.framing.addItems([*names, CUSTOM_FRAMING])
        self.framing.setCurrentText(current if current in names else names[0])

    def framing_value(self) -> Any:
        """The preset name, or a custom spec map."""
        text = self.framing.currentText()
        if text != CUSTOM_FRAMING:
            return text
        return {
            "length_size": int(self.length_size.currentText()),
            "byte_order": self.byte_order.currentText(),
            "length_includes_header": self.includes_header.isChecked(),
            "max_frame_length": self.max_length.value(),
        }

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def selected(self) -> SessionInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self._model.session_at(rows[0].row()) if rows else None

    def select(self, info: SessionInfo) -> None:
        for row in range(self._model.rowCount()):
            if self._model.session_at(row) is info:
                self.table.selectionModel().select(
                    self._model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                return

    def _on_open_clicked(self) -> None:
        host = self.host.text().strip()
        if not host:
            self.show_error("enter a host name or address")
            return
        self.show_error("")
        self.open_requested.emit(host, self.port.value(), self.framing_value())

    def _on_selection(self, *_args: Any) -> None:
        self._update_buttons()
        self.selection_changed.emit(self.selected())

    def _update_buttons(self) -> None:
        info = self.selected()
        enabled = info is not None and info.is_open
        self.close_button.setEnabled(enabled)
        self.abort_button.setEnabled(enabled)
        self.decoder.setEnabled(info is not None)

    def _emit_for_selected(self, signal: Any) -> None:
        info = self.selected()
        if info is not None:
            signal.emit(info)
