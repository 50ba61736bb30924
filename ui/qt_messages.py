"""Qt's own messages in the GUI process: known noise dropped, and a platform plugin that
cannot start turned into one clear line and exit code 2 instead of Qt's abort.

Installed by ``ui.app.main`` before the ``QApplication`` exists. While the application
starts, Qt's messages are held back: if the platform plugin fails, Qt's half-dozen lines
("Could not load the Qt platform plugin "xcb" … even though it was found", "Available
platform plugins are: …") are replaced by one that says what is wrong. For the usual
cause on a fresh desktop, X11 libraries the xcb plugin needs, it names them with the
command that installs them (``ui.system_libraries``; issue 15). Once the application has
started, held messages are written out and later ones go straight to stderr, formatted
as Qt would (``qFormatLogMessage``).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

from PySide6.QtCore import (
    QLibraryInfo,
    QMessageLogContext,
    QtMsgType,
    qFormatLogMessage,
    qInstallMessageHandler,
)

from ui.system_libraries import missing_libraries, missing_message

__all__ = ["EXIT_NO_PLATFORM", "KNOWN_NOISE", "QtMessages"]

#: The exit code when Qt cannot start its platform plugin (a usage problem, as no display).
EXIT_NO_PLATFORM = 2

#: Messages Qt prints that say nothing to a user; dropped. The offscreen platform warns
#: about every top-level window (issue 17).
KNOWN_NOISE = ("This plugin does not support propagateSizeHints()",)

_PLUGIN = re.compile(r'Could not load the Qt platform plugin "([^"]+)"')
_NO_PLATFORM = "no Qt platform plugin could be initialized"


class QtMessages:
    """The process's Qt message handler (one per process; see the module docstring)."""

    def __init__(self, program: str, stream: TextIO | None = None) -> None:
        self.program = program
        self._stream = stream
        #: Messages held while the application starts; None once it has started.
        self._held: list[str] | None = []

    def install(self) -> None:
        qInstallMessageHandler(self._handle)

    def started(self) -> None:
        """The application exists: write what was held, and from now on pass through."""
        held, self._held = self._held or [], None
        for line in held:
            self._write(line)

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def _handle(self, mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message.startswith(KNOWN_NOISE):
            return
        if mode == QtMsgType.QtFatalMsg and _NO_PLATFORM in message:
            self._write(f"{self.program}: {self.no_platform(message)}")
            os._exit(EXIT_NO_PLATFORM)  # Qt would abort (and dump core) when we return
        line = qFormatLogMessage(mode, context, message)
        if self._held is not None and mode != QtMsgType.QtFatalMsg:
            self._held.append(line)
        else:
            self._write(line)

    def no_platform(self, fatal: str) -> str:
        """What to tell the user when Qt could not start a platform plugin."""
        held = self._held or []
        plugins = [m.group(1) for line in held if (m := _PLUGIN.search(line))]
        if "xcb" in plugins:
            plugin_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
            missing = missing_libraries(os.path.join(plugin_dir, "platforms", "libqxcb.so"))
            if missing:
                return missing_message(missing)
        # Something else (no X server at DISPLAY, a broken Wayland session): Qt's own
        # lines say what, without the list of plugins and the advice to reinstall.
        said = [line for line in held if "platform plugin" not in line]
        which = f"platform plugin {'/'.join(plugins)}" if plugins else "a platform plugin"
        detail = "; ".join(said) or fatal.splitlines()[0]
        return (
            f"Qt cannot start {which}: {detail}. Run it in a desktop session, or without "
            "a window: framewire --headless, or --offscreen"
        )
