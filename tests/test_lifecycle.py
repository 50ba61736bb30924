"""The whole app's lifecycle with real processes: no orphans, right exit codes.

Every test starts the real tree -- launcher, demo server, GUI (offscreen), engine -- finds
each process by pid (psutil), does one thing to one of them, and asserts by pid that
what should be gone is gone, and with which exit code the launcher ended.

Deadlines: the issue asks for 1 s (launcher exit after a close, engine exit after the
GUI's death). ``EXIT_DEADLINE_SECONDS`` gives a loaded 2-core CI machine slack; the
measured times are reported in docs/lifecycle.md. The tests of those deadlines (and of
the launcher's grace period) are ``serial``: they run alone (tests/README.md). The others
wait for an exit with the same 3 s, ten times what it takes, as any test may beside
another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.process_tree import find_descendant, is_gone, wait_gone, wait_until
from tools.supervision import GROUP_EXIT_GRACE_SECONDS

REPO = Path(__file__).resolve().parent.parent
#: Slack over the issue's 1 s for a loaded machine (module docstring).
EXIT_DEADLINE_SECONDS = 3.0
#: A cold start of the GUI and its engine on a busy machine.
START_TIMEOUT_SECONDS = 30.0


@dataclass
class AppTree:
    """A running launcher and the pids of what it started."""

    launcher: subprocess.Popen[bytes]
    server: int
    gui: int
    engine: int
    stderr_path: Path
    gui_log: Path

    @property
    def pids(self) -> list[int]:
        return [self.launcher.pid, self.server, self.gui, self.engine]

    def wait_launcher(self, timeout: float = EXIT_DEADLINE_SECONDS) -> int:
        try:
            return self.launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"launcher still running after {timeout} s; its stderr:\n"
                + self.stderr_path.read_text(errors="replace")
            ) from None


def _start_tree(tmp_path: Path, *, ready: bool = True) -> AppTree:
    """Start the launcher; return once every process runs (and the engine is ready)."""
    stderr_path = tmp_path / "launcher.stderr"
    gui_log = tmp_path / "gui.log"
    with stderr_path.open("wb") as stderr:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "tools.launch", "--offscreen", "--log-file", str(gui_log)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    try:
        server = find_descendant(launcher.pid, "tools.demo_server", timeout=START_TIMEOUT_SECONDS)
        gui = find_descendant(launcher.pid, "ui", timeout=START_TIMEOUT_SECONDS)
        engine = find_descendant(gui, "engine", timeout=START_TIMEOUT_SECONDS)
        if ready:
            wait_for_engine_ready(gui_log, times=1)
    except BaseException:
        launcher.kill()
        launcher.wait()
        raise
    return AppTree(launcher, server, gui, engine, stderr_path, gui_log)


def wait_for_engine_ready(gui_log: Path, *, times: int) -> None:
    """Wait for the GUI to log its engine's handshake ``times`` times in all."""

    def count() -> bool:
        text = gui_log.read_text(errors="replace") if gui_log.exists() else ""
        return text.count("engine status: ready") >= times

    wait_until(count, timeout=START_TIMEOUT_SECONDS, what=f"engine ready x{times} in {gui_log}")


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        if not is_gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def app_tree(tmp_path: Path) -> Iterator[AppTree]:
    tree = _start_tree(tmp_path)
    try:
        yield tree
    finally:
        # Whatever a failing test left behind, the suite leaves nothing running.
        _kill_all(tree.pids)
        tree.launcher.wait()


def _engines_under(gui: int) -> int:
    return find_descendant(gui, "engine", timeout=START_TIMEOUT_SECONDS)


@pytest.mark.serial  # the deadline: the launcher exits within 1 s of a close
def test_window_close_stops_engine_and_server_and_launcher_exits_0(app_tree: AppTree) -> None:
    # The GUI's SIGTERM handler closes the window (ui/app.py), the same path as a click.
    start = time.monotonic()
    os.kill(app_tree.gui, signal.SIGTERM)
    assert app_tree.wait_launcher() == 0
    took = time.monotonic() - start
    wait_gone(app_tree.pids, timeout=EXIT_DEADLINE_SECONDS)
    assert took < EXIT_DEADLINE_SECONDS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_on_launcher_stops_everything_and_exits_0(
    app_tree: AppTree, signum: signal.Signals
) -> None:
    os.kill(app_tree.launcher.pid, signum)
    assert app_tree.wait_launcher() == 0
    wait_gone(app_tree.pids, timeout=EXIT_DEADLINE_SECONDS)


def test_stop_signal_during_start_up_stops_everything_and_exits_0(tmp_path: Path) -> None:
    # SIGTERM before the engine's handshake: the GUI's shutdown overtakes the handshake
    # (a hello arriving after shutdown() must not turn the engine's exit into a "crash").
    tree = _start_tree(tmp_path, ready=False)
    try:
        os.kill(tree.launcher.pid, signal.SIGTERM)
        assert tree.wait_launcher() == 0
        wait_gone(tree.pids, timeout=EXIT_DEADLINE_SECONDS)
    finally:
        _kill_all(tree.pids)
        tree.launcher.wait()


@pytest.mark.serial  # the deadline: the engine follows its GUI within 1 s
def test_launcher_sigkilled_takes_gui_engine_and_server_with_it(app_tree: AppTree) -> None:
    os.kill(app_tree.launcher.pid, signal.SIGKILL)
    assert app_tree.wait_launcher() == -signal.SIGKILL
    wait_gone([app_tree.server, app_tree.gui, app_tree.engine], timeout=EXIT_DEADLINE_SECONDS)


@pytest.mark.serial  # the deadline: the engine exits within 1 s of the GUI's death
def test_gui_killed_engine_exits_and_launcher_reports_it(app_tree: AppTree) -> None:
    os.kill(app_tree.gui, signal.SIGKILL)
    wait_gone([app_tree.engine], timeout=EXIT_DEADLINE_SECONDS)
    # The launcher passes the GUI's death on as a shell would: 128 + SIGKILL.
    assert app_tree.wait_launcher() == 128 + signal.SIGKILL
    wait_gone(app_tree.pids, timeout=EXIT_DEADLINE_SECONDS)


@pytest.mark.serial  # the launcher's grace period, then its deadline
def test_gui_killed_while_its_engine_is_stopped_launcher_kills_the_engine(
    app_tree: AppTree,
) -> None:
    # A stopped (or hung) engine never sees its stdin's EOF; the launcher sweeps the GUI's
    # process group after GROUP_EXIT_GRACE_SECONDS and reaps it as its subreaper.
    os.kill(app_tree.engine, signal.SIGSTOP)
    os.kill(app_tree.gui, signal.SIGKILL)
    assert app_tree.wait_launcher(GROUP_EXIT_GRACE_SECONDS + EXIT_DEADLINE_SECONDS) == 137
    wait_gone(app_tree.pids, timeout=EXIT_DEADLINE_SECONDS)
    assert "killed processes left behind" in app_tree.stderr_path.read_text()


def test_engine_killed_gui_survives_and_restarts_it(app_tree: AppTree) -> None:
    os.kill(app_tree.engine, signal.SIGKILL)
    wait_gone([app_tree.engine], timeout=EXIT_DEADLINE_SECONDS)
    new_engine = find_descendant(
        app_tree.gui, "engine", timeout=START_TIMEOUT_SECONDS, exclude=app_tree.engine
    )
    wait_for_engine_ready(app_tree.gui_log, times=2)
    assert not is_gone(app_tree.gui)
    assert app_tree.launcher.poll() is None
    os.kill(app_tree.launcher.pid, signal.SIGTERM)
    assert app_tree.wait_launcher() == 0
    wait_gone([*app_tree.pids, new_engine], timeout=EXIT_DEADLINE_SECONDS)


def test_make_run_offscreen_with_scripted_quit_exits_0_and_leaves_nothing() -> None:
    # The README's `make run`, as CI runs it: no display, the window closes itself.
    # -o: never reinstall the venv from inside a test (make test has just done it).
    make = subprocess.Popen(
        ["make", "-s", "-o", ".venv/.installed", "run", "ARGS=--offscreen --quit-after 2"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        launcher = find_descendant(make.pid, "tools.launch", timeout=START_TIMEOUT_SECONDS)
        gui = find_descendant(launcher, "ui", timeout=START_TIMEOUT_SECONDS)
        tree = [
            launcher,
            gui,
            find_descendant(launcher, "tools.demo_server", timeout=START_TIMEOUT_SECONDS),
            find_descendant(gui, "engine", timeout=START_TIMEOUT_SECONDS),
        ]
        output, _ = make.communicate(timeout=START_TIMEOUT_SECONDS)
    finally:
        make.kill()
        make.wait()
    assert make.returncode == 0, output.decode(errors="replace")
    wait_gone(tree, timeout=EXIT_DEADLINE_SECONDS)


# -- the lifelines each process holds, one at a time --------------------------------------

#: A parent that starts a child the way the launcher starts the GUI (stdin pipe and
#: FRAMEWIRE_PARENT_PID), prints the child's pid, then waits to be killed.
_PARENT = """
import os, subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1]],
    stdin=subprocess.PIPE, env={**os.environ, "FRAMEWIRE_PARENT_PID": str(os.getpid())},
)
print(child.pid, flush=True)
child.wait()
"""
#: The GUI's side: arm the lifeline, say so, then block as an event loop would.
_CHILD = """
import sys, threading
from ui.lifeline import install_lifeline
status = install_lifeline(use_pdeathsig={use_pdeathsig})
print("armed", status.pdeathsig, status.stdin_pipe, flush=True)
threading.Event().wait()
"""


@pytest.mark.parametrize("use_pdeathsig", [True, False], ids=["pdeathsig", "stdin-pipe-only"])
def test_lifeline_ends_the_gui_when_its_parent_is_sigkilled(use_pdeathsig: bool) -> None:
    # stdin-pipe-only is the mechanism macOS and Windows rely on, exercised here on Linux.
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, _CHILD.format(use_pdeathsig=use_pdeathsig)],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    with parent, parent.stdout:
        child = int(parent.stdout.readline())
        try:
            # The child shares the parent's stdout: its line says the lifeline is armed.
            armed = parent.stdout.readline().split()
            assert armed == [b"armed", str(use_pdeathsig).encode(), b"True"]
            os.kill(parent.pid, signal.SIGKILL)
            assert parent.wait() == -signal.SIGKILL
            wait_gone([child], timeout=EXIT_DEADLINE_SECONDS)
        finally:
            _kill_all([parent.pid, child])


def test_lifeline_with_wrong_parent_pid_dies_at_once() -> None:
    # The launcher died between fork and prctl: getppid() no longer matches its pid.
    child = subprocess.run(
        [sys.executable, "-c", "from ui.lifeline import install_lifeline; install_lifeline()"],
        cwd=REPO,
        env={**os.environ, "FRAMEWIRE_PARENT_PID": "1"},
        stdin=subprocess.PIPE,
        timeout=START_TIMEOUT_SECONDS,
    )
    assert child.returncode == -signal.SIGKILL


def test_lifeline_arms_nothing_without_a_launcher() -> None:
    from ui.lifeline import install_lifeline

    status = install_lifeline(environ={})
    assert (status.parent_pid, status.pdeathsig, status.stdin_pipe) == (None, False, False)


def test_lifeline_refuses_a_bad_parent_pid() -> None:
    from ui.lifeline import install_lifeline

    with pytest.raises(ValueError, match="FRAMEWIRE_PARENT_PID"):
        install_lifeline(environ={"FRAMEWIRE_PARENT_PID": "launcher"})


@pytest.mark.serial  # the deadline: the engine's lifeline to the GUI
def test_engine_exits_when_its_stdin_closes() -> None:
    # The engine's lifeline to the GUI: EOF on the IPC pipe ends it, with exit code 0.
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "--stdio"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert engine.stdin is not None and engine.stdout is not None
    with engine, engine.stdout:
        try:
            assert engine.stdout.read(1), "the engine sends its hello first"
            engine.stdin.close()
            assert engine.wait(EXIT_DEADLINE_SECONDS) == 0
        finally:
            engine.kill()
