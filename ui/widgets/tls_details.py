"""The TLS details of the selected session: what its handshake established (version,
cipher, ALPN, the peer certificate's subject, issuer, SANs and validity, and whether it
was verified), or why TLS failed and what to change in the form.

A relay pair shows both sides: the client's handshake with framewire's listener, and
framewire's with the upstream server. An unverified side says so first, in red.
``TlsDetailsDialog`` is a non-modal window (the animation never waits) that follows the
sessions table's selection while it is open (``SessionPanel.show_tls_details``).
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ipc.tls import TlsInfo
from ui.session_model import SessionInfo
from ui.tls_text import UNVERIFIED_MARK, is_unverified, window_hint
from ui.widgets.tls_options import UNVERIFIED_COLOR

__all__ = ["TlsDetails", "TlsDetailsDialog", "details_html"]

_VERIFIED_COLOR = "#1b5e20"
_NEUTRAL_COLOR = "#555555"


def _verdict(tls: TlsInfo) -> tuple[str, str]:
    """The side's first line and its color."""
    if is_unverified(tls):
        return f"{UNVERIFIED_MARK} NOT VERIFIED: the server may be anyone", UNVERIFIED_COLOR
    if tls.side == "client":
        return "✔ verified: the server's certificate chain and name", _VERIFIED_COLOR
    if tls.verified:
        return "✔ TLS; the client's certificate verified", _VERIFIED_COLOR
    return "TLS; the client was not asked for a certificate", _NEUTRAL_COLOR


def _side_html(title: str, tls: TlsInfo) -> str:
    verdict, color = _verdict(tls)
    rows = "".join(
        f"<tr><td style='color:{_NEUTRAL_COLOR}; padding-right:12px'>{html.escape(label)}</td>"
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in tls.details()
    )
    heading = f"<h4>{html.escape(title)}</h4>" if title else ""
    return (
        f"{heading}<p style='color:{color}; font-weight:bold'>{html.escape(verdict)}</p>"
        f"<table>{rows}</table>"
    )


def details_html(info: SessionInfo | None) -> str:
    """The details of ``info`` as the view shows them (rich text)."""
    if info is None:
        return "<p>Select a session in the table.</p>"
    peer = info.peer_text or f"{info.host}:{info.port}"
    parts = [f"<h3>{html.escape(f'{info.name} {peer}')}</h3>"]
    if info.tls_error:
        cause = info.tls_cause.replace("_", " ")
        what = "TLS error" if info.tls_cause == "alert" else f"TLS failed: {cause}"
        parts.append(
            f"<p style='color:{UNVERIFIED_COLOR}; font-weight:bold'>✗ {html.escape(what)}</p>"
            f"<p>{html.escape(info.tls_error)}</p>"
        )
        hint = window_hint(info.tls_cause)
        if hint:
            parts.append(f"<p>In the window: {html.escape(hint)}.</p>")
    if info.kind == "pair":
        for title, tls in (
            ("Client ⇄ framewire (the relay's listener)", info.tls),
            ("framewire ⇄ upstream server", info.upstream_tls),
        ):
            parts.append(_side_html(title, tls) if tls else f"<h4>{title}</h4><p>plaintext</p>")
    elif info.tls is not None:
        parts.append(_side_html("", info.tls))
    elif not info.tls_error:
        parts.append("<p>No TLS: this session is plaintext.</p>")
    return "".join(parts)


class TlsDetails(QTextBrowser):
    """The details of one session (selectable text, for copying a fingerprint)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.show_session(None)

    def show_session(self, info: SessionInfo | None) -> None:
        self.setHtml(details_html(info))


class TlsDetailsDialog(QDialog):
    """The TLS details in a window of their own, beside the main one (non-modal)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TLS details")
        self.setModal(False)
        self.details = TlsDetails()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.details)
        layout.addWidget(buttons)
        self.resize(620, 460)
