"""Reproducible screenshots of the framewire window (``docs/img/*.png``).

Run it on a real X display, normally a virtual one::

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m tools.screenshots --out docs/img
    make screenshots                       # the same (needs xvfb-run and ImageMagick)

Without ``DISPLAY`` it exits with status 2 and says to use xvfb-run. It needs ImageMagick's
``import``, which takes each picture of the whole screen (``import -window root``).

How it drives the window: ``python -m ui`` offers no remote control (only
``--quit-after``), so this tool builds the window the way ``ui.app`` does, in its own
``QApplication`` on the ``xcb`` platform, at 0,0 filling the screen, and acts through the
widgets' public API (clicks, ``setText``) like a user would. Everything else is a real
process: ``python -m tools.demo_server --mode classic`` on 127.0.0.1 (started by
``tools.launch.start_demo_server``) and the engine, a subprocess of the window's
``EngineSupervisor``, whose pid gets the SIGSTOP and SIGKILL.

The states, in order:

``idle.png``
    just started: the engine is ready, nothing done yet.
``traffic.png``
    Do it! answered; session #2 sent ``hello there`` and its reply row is selected (the
    detail pane shows it); session #3 asked the server for ``!stream N 100`` and the
    picture is taken while the frames pour in, with the log following the tail.
``relay.png``
    Relay mode: a relay in front of the demo server, a client talking through it (its
    pair's row counts both ways, the log shows c→s and c←s rows) and a frame injected
    into the pair's upstream leg from Compose.
``tls.png``
    Connect with TLS ticked and the CA of a second demo server (``--tls``, its
    throwaway CA): a verified session (its lock) and one opened with Insecure ticked
    (marked unverified, in red); the verified one's TLS details window open.
``not_responding.png``
    the engine SIGSTOPped until the window calls it not responding (after 2 s), then
    SIGCONT.
``crashed.png``
    the engine SIGKILLed: its sessions are lost, the banner gives the signal, and the
    replacement engine is ready.
``gave_up.png``
    the engine SIGKILLed again each time a new one is ready, until the restart budget is
    spent: the window waits for Restart engine (then pressed, so the tool ends with an
    engine that stops cleanly).

Between the first two it also checks that the animation moves: two pictures 0.5 s apart
must differ inside the circle (it fails otherwise; the pictures are not kept).

Every wait is on a condition with a deadline (``--timeout``), except the 0.5 s apart and
the settling before each picture (a few animation ticks, so the log and the readouts have
repainted). The engine and the demo server are stopped on every way out, including
errors, Ctrl-C and SIGTERM. Exit status: 0 done, 1 a state was not reached or a capture
failed (one line on stderr), 2 bad usage or no display.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

from PySide6.QtCore import QEventLoop, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from ipc.cli_args import positive
from tools.demo_server import STOP_GRACE_SECONDS
from tools.launch import LaunchError, start_demo_server
from tools.supervision import stop_process
from ui.log_model import LogModel
from ui.log_store import DEFAULT_LOG_CAP, Direction
from ui.main_window import MainWindow
from ui.session_model import SessionInfo, SessionModel
from ui.supervisor import EngineState, EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.pulse import TICK_INTERVAL_MS

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "SHOTS",
    "ShotError",
    "build_parser",
    "display_problem",
    "main",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
#: The pictures, in the order they are taken.
SHOTS = ("idle", "traffic", "decoding", "relay", "tls", "not_responding", "crashed", "gave_up")
#: Animation ticks to let pass before a picture: the log flushes every 80 ms and the
#: status line changes every 250 ms, so after this everything on screen is current.
SETTLE_TICKS = 12
#: The readout under the circle covers the last 80 ticks (``ui.widgets.pulse``). A capture
#: holds up the window's drawing for a few ticks (``import`` reads the whole screen from the
#: X server), so a picture is taken only once the previous capture has left the readout:
#: it then shows the window's own smoothness, not the tool's.
READOUT_TICKS = 80
#: The two pictures that prove the animation moves are this far apart.
ANIMATION_GAP_SECONDS = 0.5
#: How often a wait looks at its condition.
POLL_MS = 10
#: The demo server stands in for a remote machine and ``import`` for the user's eyes: both
#: run this much nicer than the window, so their CPU use does not show in the animation's
#: readout (the GUI tests nice the server the same way).
HELPER_NICENESS = 10
#: How long the engine may take to stop when the tool is done.
ENGINE_STOP_TIMEOUT_SECONDS = 10.0
STREAM_FRAME_BYTES = 100
#: Frames the relayed client sends (each answered by the demo server) before the picture.
RELAY_CLIENT_FRAMES = 5


class ShotError(Exception):
    """A state was not reached in time, a capture failed, or the tool was told to stop."""


def display_problem(environ: Mapping[str, str]) -> str | None:
    """Why the screenshots cannot be taken here (one line), or None."""
    if not environ.get("DISPLAY"):
        return (
            "screenshots: DISPLAY is not set; run it under a virtual X server: "
            'xvfb-run -a -s "-screen 0 1280x800x24" python -m tools.screenshots --out DIR'
        )
    if shutil.which("import", path=environ.get("PATH")) is None:
        return "screenshots: ImageMagick's 'import' is not on PATH (apt install imagemagick)"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.screenshots",
        description="Take docs/img's screenshots of the framewire window (needs an X display: "
        'xvfb-run -a -s "-screen 0 1280x800x24").',
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs/img"), help="directory for the PNGs (created)"
    )
    parser.add_argument(
        "--stream-frames",
        type=positive(int, "whole number"),
        default=3_000_000,
        metavar="N",
        help=f"frames of {STREAM_FRAME_BYTES} bytes session #3 asks the demo server for; "
        f"more than the log cap ({DEFAULT_LOG_CAP:,}) shows the dropped count "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=positive(float, "number of seconds"),
        default=30.0,
        metavar="SECONDS",
        help="the longest any one state may take to appear (default %(default)s)",
    )
    return parser


class _Stop:
    """SIGINT/SIGTERM set a flag that every wait checks: the waits run inside Qt's loop,
    where an exception raised by a Python signal handler would not reach this code."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name


class _Driver:
    """The window, its engine and the waits; one method per picture."""

    def __init__(self, app: QApplication, server: tuple[str, int], args: argparse.Namespace):
        self.app = app
        self.server = server
        self.out: Path = args.out
        self.timeout: float = args.timeout
        self.stream_frames: int = args.stream_frames
        self.stop = _Stop()
        self.ticks = 0
        self.captured_at_tick = -READOUT_TICKS
        self.supervisor = EngineSupervisor()
        self.window = MainWindow(
            self.supervisor,
            log_model=LogModel(cap=DEFAULT_LOG_CAP),
            session_model=SessionModel(),
            probe=TickProbe(TICK_INTERVAL_MS / 1000),
            server=server,
            framing="le32",
        )
        self.window.pulse.ticked.connect(self._on_tick)

    def _on_tick(self) -> None:
        self.ticks += 1

    # ------------------------------------------------------------------ waiting

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 0) -> None:
        """Run Qt's loop until ``condition()`` holds.

        Raises:
            ShotError: not within ``timeout`` (default ``--timeout``), or SIGINT/SIGTERM.
        """
        deadline = time.monotonic() + (timeout or self.timeout)
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(POLL_MS)
        outcome: list[bool] = []

        def check() -> None:
            if self.stop.signal_name is not None:
                outcome.append(False)
            elif condition():
                outcome.append(True)
            elif time.monotonic() >= deadline:
                outcome.append(False)
            if outcome:
                poll.stop()
                loop.quit()

        poll.timeout.connect(check)
        check()
        if not outcome:
            poll.start()
            loop.exec()
        if self.stop.signal_name is not None:
            raise ShotError(f"stopped by {self.stop.signal_name}")
        if not outcome or not outcome[0]:
            raise ShotError(f"timed out after {timeout or self.timeout:g} s waiting for {what}")

    def settle(self, ticks: int = SETTLE_TICKS) -> None:
        """Let ``ticks`` animation ticks pass, so every periodic repaint has happened."""
        target = self.ticks + ticks
        self.wait_until(lambda: self.ticks >= target, f"{ticks} animation ticks")

    def sleep(self, seconds: float) -> None:
        """Keep the window running for ``seconds`` (only where the state is time-based)."""
        end = time.monotonic() + seconds
        self.wait_until(lambda: time.monotonic() >= end, "time to pass", seconds + 5)

    def capture(self, path: Path) -> None:
        """``import -window root PATH``, while the window keeps running."""
        process = subprocess.Popen(
            ["import", "-window", "root", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _lower_priority(process.pid)
        try:
            self.wait_until(lambda: process.poll() is not None, f"import to write {path}")
            _, err = process.communicate()
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if process.returncode != 0 or not path.is_file():
            why = err.decode(errors="replace").strip().splitlines()
            raise ShotError(f"import {path} failed: {why[-1] if why else process.returncode}")
        self.captured_at_tick = self.ticks
        print(f"screenshots: wrote {path}", flush=True)

    def quiet(self) -> None:
        """Wait until the last capture's hold-up has left the animation's readout."""
        self.settle(max(0, self.captured_at_tick + READOUT_TICKS - self.ticks))

    def shoot(self, name: str) -> None:
        self.quiet()
        self.settle()
        self.capture(self.out / f"{name}.png")

    # ------------------------------------------------------------------ the window

    def start(self) -> None:
        screen = self.app.primaryScreen().geometry()
        self.window.setGeometry(QRect(0, 0, screen.width(), screen.height()))
        self.window.show()
        self.supervisor.start()
        self.stop.install()
        self.wait_until(lambda: self.window.windowHandle().isExposed(), "the window to show")
        self.wait_until(
            lambda: (
                self.supervisor.status.state is EngineState.READY
                and self.supervisor.status.rtt is not None
            ),
            "the engine to be ready and answer a ping",
        )

    def shutdown(self) -> None:
        """Stop the engine (continuing it first if it is stopped) and close the window.

        Never raises, so it cannot hide the error that ended the run: an engine that does
        not stop within ``ENGINE_STOP_TIMEOUT_SECONDS`` is killed.
        """
        pid = self.supervisor.pid
        if pid is not None:
            _signal(pid, signal.SIGCONT)
        if self.supervisor.status.state is not EngineState.STOPPED:
            self.supervisor.shutdown()
            self.stop.signal_name = None  # stopping is what a Ctrl-C asked for anyway
            try:
                self.wait_until(
                    lambda: self.supervisor.status.state is EngineState.STOPPED,
                    "the engine to stop",
                    ENGINE_STOP_TIMEOUT_SECONDS,
                )
            except ShotError as exc:
                print(f"screenshots: {exc}; killing it", file=sys.stderr)
                pid = self.supervisor.pid
                if pid is not None:
                    _signal(pid, signal.SIGKILL)
        self.window.close()

    # ------------------------------------------------------------------ user actions

    def click(self, widget: QWidget) -> None:
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton)

    def open_session(self, server: tuple[str, int] | None = None) -> SessionInfo:
        """Open a session to ``server`` (default: the demo server) through the form; wait
        until it is selected."""
        panel = self.window.sessions
        model = self.window.session_model
        known = {(s.generation, s.session_id) for s in model.sessions()}
        host, port = server or self.server
        panel.host.setText(host)
        panel.port.setValue(port)
        self.click(panel.open_button)

        def opened() -> SessionInfo | None:
            for info in model.sessions():
                if (info.generation, info.session_id) not in known and info.state == "connected":
                    return info if panel.selected() is info else None
            return None

        self.wait_until(lambda: opened() is not None, "a new session to connect")
        info = opened()
        assert info is not None
        return info

    def send_text(self, text: str) -> None:
        compose = self.window.compose
        compose.mode.setCurrentText("Text")
        compose.editor.setText(text)
        self.wait_until(compose.send_button.isEnabled, "the Send button to be enabled")
        self.click(compose.send_button)

    def select_log_row(self, session: str, direction: Direction) -> None:
        """Select the first log row of ``session`` in ``direction`` (detail pane shows it)."""
        model = self.window.log_model

        def find() -> int | None:
            for row in range(model.rowCount()):
                found = model.row_at(row)
                if found.session == session and found.direction is direction:
                    return row
            return None

        self.wait_until(lambda: find() is not None, f"a log row '{session} {direction.value}'")
        row = find()
        assert row is not None
        self.window.log_panel.table.selectRow(row)

    # ------------------------------------------------------------------ the states

    def idle(self) -> None:
        self.shoot("idle")

    def check_animation(self) -> None:
        """Two pictures ``ANIMATION_GAP_SECONDS`` apart must differ inside the circle."""
        pulse = self.window.pulse
        # The circle only: the readout under it may differ for other reasons.
        circle = QRect(pulse.mapToGlobal(QPoint(0, 0)), pulse.size()).adjusted(0, 0, 0, -20)
        with tempfile.TemporaryDirectory(prefix="framewire-anim-") as tmp:
            first, second = Path(tmp, "first.png"), Path(tmp, "second.png")
            self.settle()
            self.capture(first)
            self.sleep(ANIMATION_GAP_SECONDS)
            self.capture(second)
            moved = _pixels_differing(first, second, circle)
        if moved == 0:
            raise ShotError(
                f"the animation did not move: two pictures {ANIMATION_GAP_SECONDS} s apart "
                "are the same inside the circle"
            )
        print(f"screenshots: the animation moved ({moved} pixels of the circle changed)")

    def traffic(self) -> None:
        window = self.window
        self.click(window.do_it_button)
        self.wait_until(lambda: "reply:" in window.do_it_result.text(), "Do it!'s reply")

        chat = self.open_session()
        self.send_text("hello there")
        self.wait_until(lambda: chat.frames_in >= 1, f"{chat.name}'s reply")
        self.select_log_row(chat.name, Direction.IN)

        stream = self.open_session()
        count = self.stream_frames
        self.quiet()  # now, not while the stream runs (see READOUT_TICKS)
        self.send_text(f"!stream {count} {STREAM_FRAME_BYTES}")
        # Back to the tail: the selected row stays in the detail pane.
        if not window.log_panel.follow.isChecked():
            self.click(window.log_panel.follow)
        store = window.log_model.store

        def pouring_in() -> bool:
            """The session's rate shows the stream (and so does the status line, whose
            frames/s is the table's total), and the log has reached its cap if the stream is
            long enough to fill it."""
            return stream.rate_in > 0 and (store.dropped > 0 or count <= store.cap)

        self.wait_until(pouring_in, f"{stream.name}'s stream to show in both rate readouts")
        self.shoot("traffic")
        self.wait_until(
            lambda: stream.frames_in >= count,
            f"all {count:,} frames of the stream",
            self.timeout + count / 100_000,
        )

    def decoding(self) -> None:
        """The demo server's structured samples, decoded: a MessagePack reply's field tree
        with a field selected and its bytes highlighted in the dump."""
        window = self.window
        samples = self.open_session()
        self.send_text("!samples")
        self.wait_until(lambda: samples.frames_in >= 5, f"{samples.name}'s five samples")
        window.log_model.flush()
        model = window.log_model
        row = next(
            r
            for r in reversed(range(model.rowCount()))  # newest first: the log holds a million
            if model.row_at(r).session == samples.name and model.row_at(r).payload[:1] == b"\x87"
        )  # the MessagePack sample: a map of 7 entries
        window.log_panel.table.selectRow(row)
        tree = window.log_panel.fields
        root = tree.fields.index(0, 0)
        tree.setCurrentIndex(tree.fields.index(1, 0, root))  # "user"
        self.shoot("decoding")

    def relay(self) -> None:
        """A relay in front of the demo server, a client talking through it, a frame
        injected into the pair by hand."""
        window = self.window
        panel, model = window.sessions, window.session_model
        generation = self.supervisor.generation
        listeners = {info.session_id for info in model.sessions() if info.kind == "listener"}
        panel.mode.setCurrentText("Relay")
        panel.upstream_host.setText(self.server[0])
        panel.upstream_port.setValue(self.server[1])
        self.click(panel.open_button)

        def listener() -> SessionInfo | None:
            for info in model.sessions():
                if info.kind == "listener" and info.session_id not in listeners:
                    return info
            return None

        self.wait_until(lambda: listener() is not None, "the relay to listen")
        found = listener()
        assert found is not None
        port = int(found.peer_text.split(" ")[0].rpartition(":")[2])
        threading.Thread(target=_relay_client, args=(port,), daemon=True).start()
        self.wait_until(
            lambda: any(i.kind == "pair" and i.frames_out >= RELAY_CLIENT_FRAMES
                        for i in model.sessions()),
            "the relayed client's replies",
        )  # fmt: skip
        pair = next(i for i in model.sessions() if i.kind == "pair" and i.generation == generation)
        panel.select(pair)
        self.send_text("injected by hand")
        self.wait_until(lambda: pair.frames_out > RELAY_CLIENT_FRAMES, "the injected frame's reply")
        if not window.log_panel.follow.isChecked():  # the injected frame and its reply last
            self.click(window.log_panel.follow)
        self.shoot("relay")
        panel.mode.setCurrentText("Connect")

    def tls(self) -> None:
        """Two TLS sessions to a demo server over TLS, opened from the form: one verified
        against the server's CA, one with Insecure ticked; the first one's details shown."""
        panel = self.window.sessions
        with tempfile.TemporaryDirectory(prefix="framewire-shots-tls-") as folder:
            try:
                server = start_demo_server(mode="classic", tls_dir=folder)
            except LaunchError as exc:
                raise ShotError(str(exc)) from None
            _lower_priority(server.process.pid)
            try:
                # Starting the server held up this loop: let that leave the readout.
                self.settle(READOUT_TICKS)
                address = (server.host, server.port)
                panel.tls.setChecked(True)
                panel.client_tls.cafile.setText(os.path.join(folder, "ca.pem"))
                verified = self.open_session(address)
                self.wait_until(lambda: verified.tls is not None, "the TLS details")
                self.send_text("hello over TLS")
                panel.client_tls.cafile.setText("")
                panel.client_tls.insecure.setChecked(True)
                unverified = self.open_session(address)
                self.wait_until(lambda: unverified.tls is not None, "the unverified TLS details")
                panel.client_tls.insecure.setChecked(False)
                panel.client_tls.cafile.setText(os.path.join(folder, "ca.pem"))
                panel.select(verified)
                dialog = panel.show_tls_details()
                screen = self.app.primaryScreen().geometry()
                dialog.move(
                    screen.width() - dialog.width() - 16, screen.height() - dialog.height() - 60
                )
                self.wait_until(lambda: dialog.windowHandle().isExposed(), "the TLS details")
                self.shoot("tls")
                dialog.close()
                for info in (verified, unverified):
                    panel.select(info)
                    self.click(panel.close_button)
                self.wait_until(
                    lambda: all(i.state == "closed" for i in (verified, unverified)),
                    "the TLS sessions to close",
                )
                panel.tls.setChecked(False)
            finally:
                stop_process(server.process, STOP_GRACE_SECONDS)

    def not_responding(self) -> None:
        pid = self._engine_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            self.wait_until(
                lambda: (
                    self.supervisor.status.state is EngineState.NOT_RESPONDING
                    and self.window.banner.isVisible()
                ),
                "the window to call the engine not responding",
            )
            self.shoot("not_responding")
        finally:
            _signal(pid, signal.SIGCONT)
        self.wait_until(
            lambda: self.supervisor.status.state is EngineState.READY,
            "the engine to answer again after SIGCONT",
        )

    def crashed(self) -> None:
        pid = self._engine_pid()
        generation = self.supervisor.generation
        os.kill(pid, signal.SIGKILL)
        self.wait_until(
            lambda: (
                self.supervisor.generation > generation
                and self.supervisor.status.state is EngineState.READY
                and self.supervisor.status.rtt is not None
            ),
            "a new engine to be ready after SIGKILL",
        )
        self.shoot("crashed")

    def gave_up(self) -> None:
        """Crash the engine until the restart budget is spent, then Restart engine."""
        while self.supervisor.status.state is EngineState.READY:
            generation = self.supervisor.generation
            os.kill(self._engine_pid(), signal.SIGKILL)

            def replaced_or_given_up(generation: int = generation) -> bool:
                status = self.supervisor.status
                return status.waiting_for_user or (
                    self.supervisor.generation > generation and status.state is EngineState.READY
                )

            self.wait_until(replaced_or_given_up, "a new engine, or the window to give up")
        self.shoot("gave_up")
        self.click(self.window.banner.restart_button)
        self.wait_until(
            lambda: self.supervisor.status.state is EngineState.READY,
            "the engine to be ready after Restart engine",
        )

    def _engine_pid(self) -> int:
        pid = self.supervisor.pid
        if pid is None:
            raise ShotError("the engine has no pid")
        return pid

    def run(self) -> None:
        self.start()
        self.idle()
        self.check_animation()
        self.traffic()
        self.decoding()
        self.relay()
        self.tls()
        self.not_responding()
        self.crashed()
        self.gave_up()


def _relay_client(port: int) -> None:
    """A client of the relay: a few le32 frames, each reply read, then it stays connected
    (the picture shows the pair open) until the tool's process ends."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for number in range(RELAY_CLIENT_FRAMES):
            payload = b"request %d" % number
            sock.sendall(struct.pack("<I", len(payload)) + payload)
            sock.recv(65536)
        while sock.recv(65536):  # the injected frame's reply, then until the end
            pass


def _lower_priority(pid: int) -> None:
    """Run ``pid`` ``HELPER_NICENESS`` steps nicer (best effort: it may have exited)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, HELPER_NICENESS)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _pixels_differing(first: Path, second: Path, rect: QRect) -> int:
    """How many pixels inside ``rect`` differ between two pictures."""
    a, b = QImage(str(first)).copy(rect), QImage(str(second)).copy(rect)
    if a.isNull() or b.isNull():
        raise ShotError(f"cannot read {first} or {second}")
    return sum(a.pixel(x, y) != b.pixel(x, y) for y in range(a.height()) for x in range(a.width()))


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshots; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = display_problem(os.environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real X window, whatever the caller's setting
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("framewire")
    try:
        server = start_demo_server(mode="classic")
    except LaunchError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _lower_priority(server.process.pid)
    try:
        driver = _Driver(app, (server.host, server.port), args)
        # As ui.app does: what exists now lives as long as the process, so the cyclic GC's
        # full collections (which a flood triggers) need not scan it.
        gc.freeze()
        try:
            driver.run()
        finally:
            driver.shutdown()
    except ShotError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        stop_process(server.process, STOP_GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
