"""The open form's TLS options: a client's (Connect, a relay's upstream) and a listener's
(Listen, a relay's clients), each one row of the sessions panel.

A row builds the IPC's options (``ipc.tls.ClientTls``/``ServerTls``, which check them)
and gives its fields as a map for the remembered settings (``ui.window_settings``). The
files are paths the engine opens; a file it cannot use is its error, shown under the form.

**Insecure** is red, says what it does, and is never remembered: a window that opens
again verifies again (issue 12: never skip verification silently).
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QWidget,
)

from ipc.tls import ClientTls, ServerTls

__all__ = ["INSECURE_TEXT", "UNVERIFIED_COLOR", "ClientTlsRow", "FileField", "ServerTlsRow"]

#: How an unverified TLS session is marked everywhere in the window.
UNVERIFIED_COLOR = "#b71c1c"
#: The Insecure box: what it does, in its own words.
INSECURE_TEXT = "Insecure: do NOT verify"


class FileField(QWidget):
    """A path, typed or chosen with "…" (a non-modal file dialog: the window goes on)."""

    def __init__(self, placeholder: str, tip: str, caption: str) -> None:
        super().__init__()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setToolTip(tip)
        self.edit.setMinimumWidth(self.edit.fontMetrics().horizontalAdvance(placeholder) + 12)
        self._caption = caption
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip(f"choose the {caption}")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(1)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(text)

    def _browse(self) -> None:
        dialog = QFileDialog(self, f"Choose the {self._caption}", self.text())
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["PEM files (*.pem *.crt *.cer *.key)", "All files (*)"])
        dialog.fileSelected.connect(self.edit.setText)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()


def _alpn(text: str) -> tuple[str, ...]:
    """``h2, http/1.1`` or ``h2 http/1.1`` as protocol names."""
    return tuple(name for name in re.split(r"[,\s]+", text) if name)


def _row(title: str, widgets: list[tuple[str, QWidget, int]]) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    heading = QLabel(title)
    heading.setStyleSheet("font-weight: bold;")
    row.addWidget(heading)
    for label, widget, stretch in widgets:
        if label:
            row.addWidget(QLabel(label))
        row.addWidget(widget, stretch)
    return row


class ClientTlsRow(QWidget):
    """How a client side verifies the server and presents itself: CA file, client
    certificate and key, ALPN, server name, and Insecure."""

    #: Insecure was ticked or unticked (the form says what it means).
    insecure_toggled = Signal(bool)

    def __init__(self, title: str = "TLS") -> None:
        super().__init__()
        self.cafile = FileField(
            "system CAs",
            "a PEM file of the CAs to trust instead of the system's (a private CA, the "
            "demo server's)",
            "CA file",
        )
        self.cert = FileField(
            "none", "a client certificate (PEM; may hold its key and chain): mutual TLS",
            "client certificate",
        )  # fmt: skip
        self.key = FileField(
            "in cert", "the client certificate's key (PEM), if not in its file", "key file"
        )
        self.alpn = QLineEdit()
        self.alpn.setPlaceholderText("none")
        self.alpn.setToolTip("ALPN protocols to offer, in order (h2, mqtt, ...)")
        self.alpn.setMaximumWidth(90)
        self.server_name = QLineEdit()
        self.server_name.setPlaceholderText("the host")
        self.server_name.setToolTip(
            "the name sent as SNI and checked against the certificate (default: the host)"
        )
        self.server_name.setMaximumWidth(120)
        self.insecure = QCheckBox(INSECURE_TEXT)
        self.insecure.setStyleSheet(f"QCheckBox {{ color: {UNVERIFIED_COLOR}; }}")
        self.insecure.setToolTip(
            "connect without checking the server's certificate (chain and host name): "
            "anyone between you and the server can read and change the frames. The "
            "session is marked unverified in the table, the log and its TLS details"
        )
        self.insecure.toggled.connect(self.insecure_toggled)
        self.setLayout(
            _row(
                title,
                [
                    ("CA", self.cafile, 3),
                    ("cert", self.cert, 2),
                    ("key", self.key, 2),
                    ("ALPN", self.alpn, 1),
                    ("name", self.server_name, 1),
                    ("", self.insecure, 0),
                ],
            )
        )

    def options(self) -> ClientTls:
        """The row as ``open``'s (or ``relay``'s upstream) TLS options.

        Raises:
            ValueError: they do not go together (a key without its certificate).
        """
        if self.key.text() and not self.cert.text():
            raise ValueError("a key needs its client certificate: choose it in cert")
        return ClientTls(
            cafile=self.cafile.text(),
            cert=self.cert.text(),
            key=self.key.text(),
            alpn=_alpn(self.alpn.text()),
            server_name=self.server_name.text().strip(),
            insecure=self.insecure.isChecked(),
        )

    def show_options(self, options: ClientTls) -> None:
        """Fill the row in (a session's options, to open it again; the command line's)."""
        self.cafile.setText(options.cafile)
        self.cert.setText(options.cert)
        self.key.setText(options.key)
        self.alpn.setText(", ".join(options.alpn))
        self.server_name.setText(options.server_name)
        self.insecure.setChecked(options.insecure)

    def values(self) -> dict[str, Any]:
        """What the window remembers of the row (never Insecure)."""
        return {
            "cafile": self.cafile.text(),
            "cert": self.cert.text(),
            "key": self.key.text(),
            "alpn": self.alpn.text().strip(),
            "server_name": self.server_name.text().strip(),
        }

    def set_values(self, values: dict[str, Any]) -> None:
        """Put back what ``values`` gave (text values only; others are ignored)."""
        for name, field in (("cafile", self.cafile), ("cert", self.cert), ("key", self.key)):
            if isinstance(values.get(name), str):
                field.setText(values[name])
        for name, edit in (("alpn", self.alpn), ("server_name", self.server_name)):
            if isinstance(values.get(name), str):
                edit.setText(values[name])


class ServerTlsRow(QWidget):
    """A listener's certificate and key, the CA its clients must be signed by (mutual
    TLS), and the ALPN protocols it accepts."""

    def __init__(self, title: str = "TLS") -> None:
        super().__init__()
        self.cert = FileField(
            "required", "the server certificate (PEM; may hold its key and chain)",
            "server certificate",
        )  # fmt: skip
        self.key = FileField("in cert", "its key (PEM), if not in the certificate's file", "key")
        self.client_ca = FileField(
            "not asked",
            "require client certificates issued by the CAs in this PEM file (mutual TLS); "
            "empty: clients are not asked for one",
            "client CA file",
        )
        self.alpn = QLineEdit()
        self.alpn.setPlaceholderText("none")
        self.alpn.setToolTip("ALPN protocols accepted, in order of preference")
        self.alpn.setMaximumWidth(90)
        self.setLayout(
            _row(
                title,
                [
                    ("cert", self.cert, 3),
                    ("key", self.key, 2),
                    ("client CA", self.client_ca, 2),
                    ("ALPN", self.alpn, 1),
                ],
            )
        )

    def options(self) -> ServerTls:
        """The row as ``listen``'s (or ``relay``'s) TLS options.

        Raises:
            ValueError: no certificate given.
        """
        if not self.cert.text():
            raise ValueError("a TLS listener needs its certificate: choose it in cert")
        return ServerTls(
            cert=self.cert.text(),
            key=self.key.text(),
            client_ca=self.client_ca.text(),
            alpn=_alpn(self.alpn.text()),
        )

    def values(self) -> dict[str, Any]:
        return {
            "cert": self.cert.text(),
            "key": self.key.text(),
            "client_ca": self.client_ca.text(),
            "alpn": self.alpn.text().strip(),
        }

    def set_values(self, values: dict[str, Any]) -> None:
        for name, field in (("cert", self.cert), ("key", self.key), ("client_ca", self.client_ca)):
            if isinstance(values.get(name), str):
                field.setText(values[name])
        if isinstance(values.get("alpn"), str):
            self.alpn.setText(values["alpn"])
