"""Saved messages beside Compose: a project file's messages, sent with a double-click.

The panel shows the messages of a project file (``exchanges.messages``: TOML, the file
``framewire-engine --project`` reads). Double-click (or Send) sends the selected one to
the selected session, its placeholders expanded (``{{seq}}`` counts this panel's sends).
Save keeps what Compose holds under the name typed beside it; the same name replaces the
message, which is how a message is edited once "Edit in Compose" put it there. The
list's context menu renames (F2) and deletes (Del); the log's context menu saves a row's
payload as a message. Every change is written to the file at once, through a temporary
file (a crash never leaves half a file); a file that cannot be read is never written
over, and what went wrong is said in the panel.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from exchanges import (
    ExpansionError,
    Message,
    Project,
    ScriptError,
    Variables,
    dump_project,
    load_project,
)
from ipc.payload_text import looks_like_text
from ipc.text import DEFAULT_ENCODING

__all__ = ["SavedMessagesPanel", "message_for_payload"]


def message_for_payload(payload: bytes, encoding: str = DEFAULT_ENCODING) -> Message:
    """A payload as a message: text when it reads as text in ``encoding``, else hex."""
    if looks_like_text(payload, encoding):
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            text = ""
        if text and text.isprintable():
            return Message("text", text)
    return Message("hex", payload.hex(" "))


class SavedMessagesPanel(QWidget):
    """``send_requested(bytes)``: a saved message to send to the selected session;
    ``edit_requested(Message)``: put this message into Compose."""

    send_requested = Signal(bytes)
    edit_requested = Signal(object)
    run_requested = Signal(str)

    def __init__(self, path: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.project = Project()
        self.variables = Variables()
        self._text_encoding = DEFAULT_ENCODING
        self._has_target = False
        self.list = QListWidget()
        # Two entries at least, like Compose's history beside it.
        self.list.setMinimumHeight(2 * self.list.fontMetrics().height() + 8)
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.name = QLineEdit()
        self.name.setPlaceholderText("name")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("save what Compose holds under this name")
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("send the selected message to the selected session")
        self.run_button = QPushButton("Run…")
        self.run_button.setToolTip(
            "run a script (.toml) or replay a recording (.jsonl) in the selected session; "
            "the result, and the step that failed, go to the log"
        )
        # The list's context menu (and keys): Edit, Rename (F2), Delete (Del).
        self.edit_action = QAction("Edit in Compose", self.list)
        self.edit_action.setToolTip("put the message into Compose (Save puts it back)")
        self.rename_action = QAction("Rename", self.list)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.delete_action = QAction("Delete", self.list)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        for action in (self.edit_action, self.rename_action, self.delete_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.list.addAction(action)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        self.error.setWordWrap(True)
        self.error.hide()

        self.list.itemDoubleClicked.connect(self._on_send)
        self.list.itemChanged.connect(self._on_renamed)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.send_button.clicked.connect(self._on_send)
        self.run_button.clicked.connect(self._on_run)
        self.edit_action.triggered.connect(self._on_edit)
        self.rename_action.triggered.connect(self._on_rename)
        self.delete_action.triggered.connect(self._on_delete)

        self.name.setMinimumWidth(self.name.fontMetrics().horizontalAdvance("message 10") + 12)
        for button in (self.save_button, self.send_button, self.run_button):
            button.setStyleSheet("padding: 3px 8px;")  # compact: the name gets the width
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.save_button)
        row.addWidget(self.send_button)
        row.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(self.list, 1)
        self.load()

    # ------------------------------------------------------------------ the file

    def load(self) -> None:
        """Read the project file (a missing one is an empty project)."""
        if self.path is not None and os.path.exists(self.path):
            try:
                self.project = load_project(self.path)
            except ScriptError as exc:
                self.show_error(f"{exc} (the panel will not write over it)")
                self._writable = False
                self._fill()
                return
        self._writable = True
        self.variables = Variables(self.project.variables)
        self._fill()
        self.show_error("")

    def _write(self) -> bool:
        if self.path is None:
            return True  # kept for this window only
        if not self._writable:
            self.show_error(f"{self.path} could not be read, so it is not written over")
            return False
        folder = Path(self.path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".messages-", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as f:
                f.write(dump_project(self.project))
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)
            self.show_error(f"cannot write {self.path}: {exc.strerror}")
            return False
        self.show_error("")
        return True

    def _fill(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for name, message in self.project.messages.items():
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(message.describe())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
            if name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        where = f"kept in {self.path}" if self.path else "kept in no file (--project FILE)"
        self.list.setToolTip(
            f"{where}\ndouble-click: send to the selected session; right-click: edit, "
            "rename (F2), delete (Del)"
        )
        self._update_buttons()

    # ------------------------------------------------------------------ the session

    def set_target(self, has_target: bool, text_encoding: str = DEFAULT_ENCODING) -> None:
        """Whether a session is selected to send to, and its text encoding."""
        self._has_target = has_target
        self._text_encoding = text_encoding
        self._update_buttons()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    # ------------------------------------------------------------------ changes

    def save(self, name: str, message: Message) -> bool:
        """Keep ``message`` as ``name`` (replacing one of that name) and write the file."""
        name = name.strip()
        if not name:
            self.show_error("type a name for the message first")
            return False
        self.project.messages[name] = message
        if not self._write():
            return False
        self._fill(select=name)
        return True

    def save_payload(self, payload: bytes, encoding: str = DEFAULT_ENCODING) -> str:
        """Save a log row's payload under a new name ("message N"); return the name."""
        number = len(self.project.messages) + 1
        while f"message {number}" in self.project.messages:
            number += 1
        name = f"message {number}"
        if self.save(name, message_for_payload(payload, encoding)):
            self.name.setText(name)
        return name

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _on_send(self) -> None:
        name = self.selected_name()
        if name is None or not self._has_target:
            return
        message = self.project.messages[name]
        self.variables.seq += 1
        try:
            payload = message.render(self.variables, self._text_encoding)
        except ExpansionError as exc:
            self.variables.seq -= 1
            self.show_error(f"{name}: {exc}")
            return
        self.show_error("")
        self.send_requested.emit(payload)

    def _on_run(self) -> None:
        # A dialog that returns at once, as Save… and Capture's: no nested event loop
        # runs the window's events under this call meanwhile.
        dialog = QFileDialog(self, "Run a script or replay a recording")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Scripts and recordings (*.toml *.jsonl *.json)", "All files (*)"])
        dialog.fileSelected.connect(self.run_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_edit(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.name.setText(name)
            self.edit_requested.emit(self.project.messages[name])

    def _on_rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _on_delete(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        message = self.project.messages.pop(name)
        if not self._write():
            self.project.messages[name] = message
        self._fill()

    def _on_renamed(self, item: QListWidgetItem) -> None:
        old = str(item.data(Qt.ItemDataRole.UserRole))
        new = item.text().strip()
        if new == old:
            return
        if not new or new in self.project.messages:
            self.show_error(f"{new!r} is taken" if new else "a message needs a name")
            self._fill(select=old)
            return
        # Keep the file's order: the renamed message stays where it was.
        self.project.messages = {
            (new if name == old else name): message
            for name, message in self.project.messages.items()
        }
        if not self._write():
            self.project.messages = {
                (old if name == new else name): message
                for name, message in self.project.messages.items()
            }
            new = old
        self._fill(select=new)

    def _update_buttons(self) -> None:
        selected = self.selected_name() is not None
        self.send_button.setEnabled(selected and self._has_target)
        self.run_button.setEnabled(self._has_target)
        for action in (self.edit_action, self.rename_action, self.delete_action):
            action.setEnabled(selected)
