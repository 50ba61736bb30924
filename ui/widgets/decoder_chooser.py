"""The sessions panel's decoder menu: how the selected session's payloads are decoded.

The plain decoders are chosen at once; "protobuf schema…" asks for a FileDescriptorSet
file and a message name, "layout…" for a Python file and the name of its construct
layout (``decoders.decoder_for`` checks both and says what is wrong). Dialogs are
non-modal: the window keeps running while they are open.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QWidget

from decoders import DECODER_NAMES, Decoder, DecoderConfigError, decoder_for

__all__ = ["LAYOUT_CHOICE", "SCHEMA_CHOICE", "DecoderChooser"]

SCHEMA_CHOICE = "protobuf schema…"
LAYOUT_CHOICE = "layout…"


class DecoderChooser(QWidget):
    """``decoder_chosen(decoder, label)`` once the user picked (and set up) a decoder."""

    decoder_chosen = Signal(object, str)
    #: A schema or layout that could not be used (the message says why).
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.addItems([*DECODER_NAMES, SCHEMA_CHOICE, LAYOUT_CHOICE])
        self.combo.setToolTip(
            "how the selected session's payloads are decoded in the log "
            "(auto: JSON, MessagePack, CBOR, Protobuf, text or hex, whichever fits)"
        )
        # A narrow box (its popup is as wide as its entries): the form must fit 1024 px.
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(7)
        self._shown = "auto"
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Decode"))
        layout.addWidget(self.combo)
        self.combo.activated.connect(self._on_activated)

    def show_choice(self, label: str) -> None:
        """Show the current session's decoder (without choosing anything)."""
        self._shown = label
        if self.combo.findText(label) < 0:
            self.combo.insertItem(len(DECODER_NAMES), label)  # a schema or layout set up before
        self.combo.setCurrentText(label)

    def _on_activated(self, _index: int) -> None:
        choice = self.combo.currentText()
        self.combo.setCurrentText(self._shown)  # until the choice is set up
        if choice == SCHEMA_CHOICE:
            self._ask_file(
                "FileDescriptorSet (protoc -o, buf build)",
                "Descriptor sets (*.desc *.pb *.binpb);;All files (*)",
                self._ask_message,
            )
        elif choice == LAYOUT_CHOICE:
            self._ask_file(
                "Python file with a construct layout",
                "Python (*.py);;All files (*)",
                self._ask_layout_name,
            )
        else:
            self.choose(choice)

    def choose(
        self,
        choice: str,
        *,
        proto_descriptor: str | None = None,
        proto_message: str | None = None,
        layout: str | None = None,
    ) -> None:
        """Set up decoder ``choice`` (options as ``decoder_for``'s) and announce it."""
        try:
            decoder: Decoder = decoder_for(
                choice,
                proto_descriptor=proto_descriptor,
                proto_message=proto_message,
                layout=layout,
            )
        except DecoderConfigError as exc:
            self.failed.emit(str(exc))
            return
        label = choice
        if layout is not None:
            path, _, name = layout.rpartition(":")
            label = f"layout {Path(path).name}:{name}"
        elif proto_message is not None:
            label = f"protobuf {proto_message}"
        self.show_choice(label)
        self.decoder_chosen.emit(decoder, label)

    def _ask_file(self, title: str, filters: str, then: Callable[[str], None]) -> None:
        dialog = QFileDialog(self, title)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter(filters)
        dialog.fileSelected.connect(then)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_message(self, path: str) -> None:
        self._ask_name(
            "Message type", "Full name of the message type (e.g. my.pkg.Event):",
            lambda name: self.choose("protobuf", proto_descriptor=path, proto_message=name),
        )  # fmt: skip

    def _ask_layout_name(self, path: str) -> None:
        self._ask_name(
            "Layout", "Name of the construct layout in the file (e.g. MESSAGE):",
            lambda name: self.choose("auto", layout=f"{path}:{name}"),
        )  # fmt: skip

    def _ask_name(self, title: str, label: str, then: Callable[[str], None]) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.textValueSelected.connect(then)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
