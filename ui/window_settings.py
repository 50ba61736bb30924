"""What the window remembers between runs, in ``QSettings`` (issue 17, item 12).

The last host, port and framing of the open form and its TLS (each mode's tick, the
relay upstream's, and the fields of the client, listener and upstream rows: never
Insecure, which a window that opens again leaves off, nor Connect's TLS when the command
line gave it), the window's geometry, the positions of its splitters, and the Compose
history (payloads as hex, the newest first) with its Text/Hex mode. Saved when the
window closes, restored when it opens; what the command line says (``--server``,
``--framing``; with ``--server``, Connect speaks TLS only if ``--tls`` says so) wins over
what was saved. A value that does not
read back (an older or hand-edited file) is ignored, never an error.

Where: Qt's per-user location for organisation and application "framewire" (on Linux
``$XDG_CONFIG_HOME/framewire/framewire.ini``, ``~/.config`` by default), or the INI
file of ``framewire-gui --settings PATH``.

A window that remembers no geometry opens at its default size, cut down to the screen's
free area (a 1024x640 laptop screen gets a window that fits, not one past its edges).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.widgets.tls_options import ClientTlsRow, ServerTlsRow

__all__ = ["fit_to_screen", "open_settings", "restore", "save"]

#: Bumped when a key changes meaning; values saved under another version are ignored.
VERSION = 1


def open_settings(path: str | None = None) -> QSettings:
    """The settings store: ``path`` (an INI file) or Qt's per-user location."""
    if path is not None:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, "framewire", "framewire"
    )


def save(window: MainWindow, settings: QSettings) -> None:
    """Remember the window's state (called as it closes)."""
    sessions = window.sessions
    settings.setValue("version", VERSION)
    settings.setValue("open/host", sessions.host.text().strip())
    settings.setValue("open/port", sessions.port.value())
    settings.setValue("open/framing", sessions.framing.currentText())
    for mode, on in sessions.tls_ticks().items():
        if not (mode == "Connect" and window.tls_given):
            settings.setValue(f"tls/{mode.lower()}", on)
    for group, row in _tls_rows(window):
        if group == "client" and window.tls_given:
            continue  # the command line's, for that run only
        for name, value in row.values().items():
            settings.setValue(f"tls/{group}/{name}", value)
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/splitter", window.splitter.saveState())
    settings.setValue("window/log_splitter", window.log_panel.splitter.saveState())
    settings.setValue("compose/mode", window.compose.mode.currentText())
    settings.setValue("compose/history", [p.hex() for p in window.compose.history_payloads()])
    settings.sync()


def restore(
    window: MainWindow, settings: QSettings, *, server_given: bool, framing_given: bool
) -> None:
    """Put back what ``save`` remembered; the command line's choices stay."""
    if _get(settings, "version", int) != VERSION:
        fit_to_screen(window)
        return
    sessions = window.sessions
    if not server_given:
        host = _get(settings, "open/host", str)
        port = _get(settings, "open/port", int)
        if host:
            sessions.host.setText(host)
        if port is not None and 1 <= port <= 65535:
            sessions.port.setValue(port)
    framing = _get(settings, "open/framing", str)
    if not framing_given and framing and sessions.framing.findText(framing) >= 0:
        sessions.framing.setCurrentText(framing)
    ticks = {mode: _get(settings, f"tls/{mode.lower()}", bool) for mode in sessions.tls_ticks()}
    if server_given:  # the command line named the server: TLS to it only if it says so too
        ticks["Connect"] = None
    sessions.set_tls_ticks({mode: on for mode, on in ticks.items() if on is not None})
    for group, row in _tls_rows(window):
        row.set_values({name: _get(settings, f"tls/{group}/{name}", str) for name in row.values()})
    geometry = _get(settings, "window/geometry", QByteArray)
    if geometry is None or not window.restoreGeometry(geometry):
        fit_to_screen(window)
    for key, restore_state in (
        ("window/splitter", window.splitter.restoreState),
        ("window/log_splitter", window.log_panel.splitter.restoreState),
    ):
        state = _get(settings, key, QByteArray)
        if state is not None:
            restore_state(state)
    mode = _get(settings, "compose/mode", str)
    if mode and window.compose.mode.findText(mode) >= 0:
        window.compose.mode.setCurrentText(mode)
    history = settings.value("compose/history", [])
    if isinstance(history, str):  # QSettings gives a one-item list back as a string
        history = [history]
    payloads = []
    for item in history if isinstance(history, list) else []:
        try:
            payloads.append(bytes.fromhex(str(item)))
        except ValueError:
            continue
    window.compose.set_history(payloads)


def fit_to_screen(window: MainWindow) -> None:
    """Cut the window's size down to its screen's free area (less the panels), at its
    top left, if it does not fit there."""
    free = window.screen().availableGeometry()
    size = window.size().boundedTo(free.size())
    if size != window.size():
        window.resize(size)
        window.move(free.topLeft())


def _tls_rows(window: MainWindow) -> list[tuple[str, ClientTlsRow | ServerTlsRow]]:
    sessions = window.sessions
    return [
        ("client", sessions.client_tls),
        ("server", sessions.server_tls),
        ("upstream", sessions.upstream_tls),
    ]


def _get(settings: QSettings, key: str, kind: type) -> Any:
    """The value of ``key`` if it is a ``kind`` (ints and booleans come back from INI
    files as text)."""
    value = settings.value(key)
    if value is None:
        return None
    if kind is bool:
        return {"true": True, "false": False}.get(str(value).lower())
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return value if isinstance(value, kind) else None
