"""``python -m ui`` / ``framewire-gui``: build the application and run it.

Usage::

    python -m ui [--server HOST:PORT] [--framing PRESET] [--log-file PATH]
                 [--tick-log PATH] [--log-cap N] [--quit-after SECONDS] [--attach [PATH]]

``--server`` is what "Do it!" talks to (and the open form's default); ``--tick-log`` (or
the ``FRAMEWIRE_TICK_LOG`` environment variable) records every animation tick interval;
``--quit-after`` closes the window after that many seconds, for scripted runs. SIGTERM and
SIGINT close the window cleanly (the engine is stopped first); started by the launcher,
the GUI also dies with it (``ui.lifeline``), and the engine follows through its stdin.
``--attach`` uses a running long-lived engine (``framewire-engine --serve-ipc``) instead
of starting one: closing the window detaches and leaves that engine and its sessions be.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ipc.cli_args import (
    HelpFormatter,
    OneLineErrorParser,
    framing_words,
    host_port,
    positive,
    writable_file,
)
from ipc.socket_path import SocketPathError, find_engine
from ipc.tls import ClientTls
from ui import window_settings
from ui.lifeline import install_lifeline
from ui.log_file import LogFile
from ui.log_model import LogModel
from ui.log_store import DEFAULT_LOG_CAP
from ui.main_window import MainWindow
from ui.qt_messages import EXIT_NO_PLATFORM, QtMessages
from ui.session_model import SessionModel
from ui.supervisor import EngineState, EngineStatus, EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.pulse import TICK_INTERVAL_MS

__all__ = ["PROG", "TICK_LOG_ENV", "NoDisplay", "build_parser", "choose_platform", "main"]

TICK_LOG_ENV = "FRAMEWIRE_TICK_LOG"
PROG = "framewire-gui"
#: Bad usage: argparse's code, and ``--attach`` when no such engine runs.
EXIT_USAGE = 2

log = logging.getLogger("framewire.ui")

_EPILOG = f"""\
examples:
  {PROG} --server 127.0.0.1:9000 --framing be32
  {PROG} --attach                 the sessions of a running framewire-engine --serve-ipc
  {PROG} --quit-after 2           a scripted run (offscreen without a display)

exit codes:
  0  the window was closed (or --quit-after elapsed)
  2  usage error (one line on stderr), no display, a Qt platform plugin that cannot
     start (the line names the missing X11 libraries), or --attach with no such engine
"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog=PROG,
        description="The framewire window alone: a desktop client for length-prefixed TCP "
        "that starts and supervises its own network engine process (or attaches to a "
        "running one). The launcher, framewire, also starts a demo server.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--server",
        type=host_port,
        metavar="HOST:PORT",
        help="the server Do it! and the open form talk to (default: the last one used)",
    )
    parser.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="PATH",
        help="attach to a running engine (framewire-engine --serve-ipc [PATH]) instead of "
        "starting one: its sessions, recent history and live traffic; closing the window "
        "detaches. Without PATH: the default engine, or the only one running",
    )
    parser.add_argument(
        "--framing",
        type=framing_words,
        metavar="SPEC",
        help="framing: a preset or framing words such as 'be32,offset=1,adjust=-4' "
        "(default: the last one used, at first le32)",
    )
    parser.add_argument(
        "--capture",
        metavar="FILE",
        help="start with Capture on: every frame to FILE (JSON lines, rotated by size)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="Connect (and Do it!) speak TLS, verified against the system's CAs (the open "
        "form's TLS tick and row, which the window then remembers)",
    )
    parser.add_argument(
        "--cafile", metavar="PATH", help="with --tls: trust the CAs in PATH instead (implies --tls)"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do NOT verify the server's certificate (its sessions show "
        "'unverified'; implies --tls)",
    )
    parser.add_argument(
        "--project",
        metavar="FILE",
        help="the saved messages' project file (TOML; default: messages.toml beside the settings)",
    )
    parser.add_argument(
        "--settings",
        metavar="PATH",
        help="remember the window's state in this INI file (default: the per-user "
        "location, ~/.config/framewire/framewire.ini on Linux)",
    )
    parser.add_argument(
        "--log-file",
        type=writable_file,
        metavar="PATH",
        help="append the log's rows and the GUI's and engine's log lines here",
    )
    parser.add_argument(
        "--tick-log",
        type=writable_file,
        default=os.environ.get(TICK_LOG_ENV) or None,
        metavar="PATH",
        help=f"record animation tick intervals to this file (env {TICK_LOG_ENV})",
    )
    parser.add_argument(
        "--log-cap",
        type=positive(int, "number of rows"),
        default=DEFAULT_LOG_CAP,
        metavar="N",
        help=f"rows the log holds before dropping the oldest (default {DEFAULT_LOG_CAP:,})",
    )
    parser.add_argument(
        "--quit-after",
        type=positive(float, "number of seconds"),
        metavar="SECONDS",
        help="close the window after SECONDS, as a user would (scripted runs; without a "
        "display it then runs offscreen)",
    )
    return parser


def _cannot_open(what: str, path: str, exc: OSError) -> NoReturn:
    """A file the command line named cannot be opened after all (its path was checked
    when parsed, so something changed since): one line, exit 2 like any usage error."""
    print(f"{PROG}: cannot open {what} {path!r}: {exc.strerror or exc}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _open_text(path: str | None, what: str) -> TextIO | None:
    if path is None:
        return None
    try:
        return open(path, "a", encoding="utf-8", buffering=1)
    except OSError as exc:
        _cannot_open(what, path, exc)


class NoDisplay(Exception):
    """There is no display to show the window on (exit code 2, like a usage error)."""


def _open_log_file(path: str | None, model: LogModel) -> LogFile | None:
    """``--log-file``: the log's rows, the GUI's log lines and the engine's stderr."""
    if path is None:
        return None
    try:
        log_file = LogFile(path)
    except OSError as exc:
        _cannot_open("--log-file", path, exc)
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s gui %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    log_file.follow(model)
    return log_file


class _StateChanges:
    """Logs the engine's state when it changes (the status changes with every pong)."""

    def __init__(self) -> None:
        self._last: tuple[EngineState, int | None] | None = None

    def __call__(self, status: EngineStatus) -> None:
        key = (status.state, status.pid)
        if key != self._last:
            self._last = key
            pid = f" (pid {status.pid})" if status.pid else ""
            log.info("engine status: %s%s", status.state.value, pid)


def choose_platform(environ: Mapping[str, str], scripted: bool) -> str | None:
    """The Qt platform to force, if any, when Linux has no display to show the window on.

    A scripted run (``--quit-after``) falls back to ``offscreen``. Otherwise the GUI
    refuses with a clear message instead of Qt's abort.

    Raises:
        NoDisplay: no display, not scripted, and no platform chosen.
    """
    if not sys.platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    if scripted:
        return "offscreen"
    raise NoDisplay(
        "no display (DISPLAY/WAYLAND_DISPLAY unset); run it in a desktop "
        "session, or set QT_QPA_PLATFORM=offscreen (with --quit-after for scripted runs)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the GUI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    attach_to = None
    if args.attach is not None:
        try:
            attach_to = os.fspath(find_engine(args.attach or None))
        except SocketPathError as exc:
            print(f"{PROG}: --attach: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        platform = choose_platform(os.environ, scripted=args.quit_after is not None)
    except NoDisplay as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_NO_PLATFORM
    if platform is not None and QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = platform
    install_lifeline()  # the launcher's promise, if it made one (ui.lifeline)
    tick_file = _open_text(args.tick_log, "--tick-log")

    messages = QtMessages(PROG)
    messages.install()  # before Qt starts its platform plugin: it may fail (ui.qt_messages)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    messages.started()
    app.setApplicationName("framewire")
    log_model = LogModel(cap=args.log_cap)
    log_file = _open_log_file(args.log_file, log_model)
    probe = TickProbe(TICK_INTERVAL_MS / 1000, sink=tick_file)
    supervisor = EngineSupervisor()
    supervisor.stderr_sink = log_file
    supervisor.status_changed.connect(_StateChanges())
    window = MainWindow(
        supervisor,
        log_model=log_model,
        session_model=SessionModel(),
        probe=probe,
        server=args.server,
        framing=args.framing or "le32",
        capture=args.capture,
        settings=window_settings.open_settings(args.settings),
        project=args.project,
    )
    assert window.settings is not None
    window_settings.restore(
        window,
        window.settings,
        server_given=args.server is not None,
        framing_given=args.framing is not None,
    )
    if args.tls or args.cafile or args.insecure:  # the command line wins over the settings
        window.sessions.use_client_tls(ClientTls(cafile=args.cafile or "", insecure=args.insecure))
        window.tls_given = True
        if args.insecure:
            log.warning("--insecure: the servers' certificates are NOT verified")
    window.closed.connect(app.quit)

    # Python runs signal handlers only between bytecodes: a periodic no-op timer lets
    # them run while Qt's C++ loop waits.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()
    wake.start(200)
    wake.timeout.connect(lambda: None)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), window.close)

    if attach_to is None:
        supervisor.start()
    else:
        supervisor.attach(attach_to)
    window.show()
    # Everything built so far (Qt bindings, modules, the window) lives as long as the
    # process: keep it out of the cyclic GC's full collections, which a flood of received
    # frames triggers, so they scan only what arrived since (CPython's gc.freeze advice).
    gc.freeze()
    try:
        app.exec()
    finally:
        probe.close()
        if log_file is not None:
            logging.shutdown()
            log_file.close()
    return 0
