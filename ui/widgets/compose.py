"""Compose a frame as text, hex or JSON (validated as you type), send it, resend from history.

With a relay pair selected, a box says which leg the frame is injected into: to the server
(the upstream leg) or to the client (the client leg).

JSON is sent as written, or encoded as MessagePack or CBOR (``decoders.encode``: an object
``{"$hex": "00ff"}`` stands for bytes).
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from decoders import EncodeError, encode_json_text
from exchanges import Message
from ipc.text import DEFAULT_ENCODING, ENCODINGS, TextEncodingError, encode_text
from ui.formatting import HexError, hex_error, parse_hex, preview

__all__ = ["LEGS", "MAX_HISTORY", "ComposePanel"]

#: A relay pair's legs, as the leg box names them: where an injected frame goes.
LEGS = {"to the server": "upstream", "to the client": "client"}

#: Sent frames kept for resending (oldest dropped).
MAX_HISTORY = 100
_BAD_INPUT_STYLE = "QLineEdit { border: 1px solid #c62828; background: #ffebee; }"
#: What JSON is sent as: the combo's text and ``decoders.encode``'s name.
JSON_ENCODINGS = {"as JSON": "json", "as MessagePack": "msgpack", "as CBOR": "cbor"}
#: The editor's modes as ``exchanges.Message`` forms.
_FORMS = {"Text": "text", "Hex": "hex", "JSON": "json"}
_HINTS = {
    "Text": "frame payload (text, {encoding})",
    "Hex": "hex bytes, e.g. 68 65 6c 6c 6f",
    "JSON": 'JSON, e.g. {"op": "login", "seq": 7} (bytes: {"$hex": "00ff"})',
}


class ComposePanel(QWidget):
    """``send_requested(bytes)`` when the user sends; the window knows the target session."""

    send_requested = Signal(bytes)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text_encoding = DEFAULT_ENCODING
        self.mode = QComboBox()
        self.mode.addItems(list(_HINTS))
        self.encoding = QComboBox()
        self.encoding.addItems(list(JSON_ENCODINGS))
        self.encoding.setToolTip("JSON is sent as typed, or encoded as MessagePack or CBOR")
        self.encoding.hide()
        self.editor = QLineEdit()
        self.editor.setPlaceholderText("frame payload (text, UTF-8)")
        self.send_button = QPushButton("Send")
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.history = QListWidget()
        # Three whole entries at least (two and a clipped third said too little); the
        # window's splitter gives it more when there is room.
        item = self.history.fontMetrics().lineSpacing() + 4  # an entry: its text, margins
        self.history.setMinimumHeight(3 * item + 2 * self.history.frameWidth() + 2)
        self.history.setToolTip("sent frames: double-click to send again")
        self.resend_button = QPushButton("Resend")
        self.target = QLabel("no session selected")
        self.target.setStyleSheet("color: #555;")
        self.leg = QComboBox()
        self.leg.addItems(list(LEGS))
        self.leg.setToolTip(
            "inject the frame into the relay pair: to the server (as if the client sent it) "
            "or to the client (as if the server did)"
        )
        self.leg.hide()

        self.mode.currentTextChanged.connect(self._on_mode_changed)
        self.encoding.currentTextChanged.connect(self._validate)
        self.editor.textChanged.connect(self._validate)
        self.editor.returnPressed.connect(self._on_send)
        self.send_button.clicked.connect(self._on_send)
        self.resend_button.clicked.connect(self._on_resend)
        self.history.itemDoubleClicked.connect(self._on_resend)
        self.history.itemSelectionChanged.connect(self._validate)

        row = QHBoxLayout()
        row.addWidget(self.target)
        row.addWidget(self.leg)
        row.addWidget(self.mode)
        row.addWidget(self.editor, 1)
        row.addWidget(self.encoding)
        row.addWidget(self.send_button)
        history = QHBoxLayout()
        history.addWidget(self.history, 1)
        history.addWidget(self.resend_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addLayout(history)
        self.set_target(None)

    def set_target(
        self, name: str | None, text_encoding: str = DEFAULT_ENCODING, *, pair: bool = False
    ) -> None:
        """The session (or relay ``pair``) frames go to (``None``: sending is disabled), and
        the encoding its text is written in (``ipc.text``)."""
        self._has_target = name is not None
        self._text_encoding = text_encoding
        self.leg.setVisible(pair)
        if name is None:
            self.target.setText("select an open session to send")
        else:
            self.target.setText(f"inject into {name}" if pair else f"to {name}")
        self._on_mode_changed(self.mode.currentText())

    def chosen_leg(self) -> str:
        """The relay leg chosen for the next frame: ``upstream`` or ``client``."""
        return LEGS[self.leg.currentText()]

    def payload(self) -> bytes:
        """The editor's payload.

        Raises:
            HexError: in hex mode, when the text is not valid hex.
            EncodeError: in JSON mode, when the text is not JSON (or cannot be encoded).
        """
        text = self.editor.text()
        mode = self.mode.currentText()
        if mode == "Hex":
            return parse_hex(text)
        if mode == "JSON":
            return encode_json_text(text, JSON_ENCODINGS[self.encoding.currentText()])
        return encode_text(text, self._text_encoding)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def message(self) -> Message:
        """What the editor holds as a saved message (the saved-messages panel keeps it):
        its form, text as typed (placeholders and all) and, for JSON, what it is sent as."""
        form = _FORMS[self.mode.currentText()]
        encoding = JSON_ENCODINGS[self.encoding.currentText()] if form == "json" else "json"
        return Message(form, self.editor.text(), encoding)

    def load_message(self, message: Message) -> None:
        """Put a saved message into the editor, to edit and save back or send as it is."""
        self.mode.setCurrentText(next(k for k, v in _FORMS.items() if v == message.form))
        if message.form == "json":
            shown = {v: k for k, v in JSON_ENCODINGS.items()}[message.encoding]
            self.encoding.setCurrentText(shown)
        body = message.body
        self.editor.setText(body if isinstance(body, str) else json.dumps(body))

    def history_payloads(self) -> list[bytes]:
        """The history's payloads, the newest first."""
        return [
            self.history.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.history.count())
        ]

    def set_history(self, payloads: list[bytes]) -> None:
        """Replace the history (the newest first), as remembered from an earlier run."""
        self.history.clear()
        for payload in payloads[:MAX_HISTORY]:
            self.history.addItem(self._history_item(payload))
        self._validate()

    def _history_item(self, payload: bytes) -> QListWidgetItem:
        item = QListWidgetItem(f"{preview(payload, 60)}  ({len(payload)} B)")
        item.setData(Qt.ItemDataRole.UserRole, payload)
        return item

    def add_history(self, payload: bytes) -> None:
        for row in range(self.history.count()):
            if self.history.item(row).data(Qt.ItemDataRole.UserRole) == payload:
                self.history.takeItem(row)
                break
        item = self._history_item(payload)
        self.history.insertItem(0, item)
        while self.history.count() > MAX_HISTORY:
            self.history.takeItem(self.history.count() - 1)
        self.history.setCurrentItem(item)  # Resend sends the last frame again

    def _on_mode_changed(self, mode: str) -> None:
        encoding = ENCODINGS.get(self._text_encoding, self._text_encoding)
        self.editor.setPlaceholderText(_HINTS[mode].replace("{encoding}", encoding))
        self.encoding.setVisible(mode == "JSON")
        self._validate()

    def _problem(self) -> str | None:
        mode, text = self.mode.currentText(), self.editor.text()
        if mode == "Hex":
            return hex_error(text)
        if mode == "JSON" and text.strip():
            try:
                self.payload()
            except EncodeError as exc:
                return str(exc)
        if mode == "Text":
            try:
                encode_text(text, self._text_encoding)
            except TextEncodingError as exc:
                return str(exc)
        return None

    def _validate(self) -> None:
        problem = self._problem()
        self.editor.setStyleSheet(_BAD_INPUT_STYLE if problem else "")
        self.show_error(problem or "")
        self.send_button.setEnabled(self._has_target and problem is None)
        self.resend_button.setEnabled(self._has_target and self._resend_item() is not None)

    def _on_send(self) -> None:
        if not self.send_button.isEnabled():
            return
        try:
            payload = self.payload()
        except (HexError, EncodeError, TextEncodingError) as exc:
            self.show_error(str(exc))
            return
        self.add_history(payload)
        self.send_requested.emit(payload)

    def _resend_item(self) -> QListWidgetItem | None:
        selected = self.history.selectedItems()
        return selected[0] if selected else None

    def _on_resend(self) -> None:
        item = self._resend_item()
        if item is not None and self._has_target:
            self.send_requested.emit(item.data(Qt.ItemDataRole.UserRole))
