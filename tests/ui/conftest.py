"""Fixtures for GUI tests: a real demo server subprocess and a window over a real engine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tools.demo_server import spawn_demo_server
from ui.log_model import LogModel
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineState, EngineSupervisor
from ui.tick_probe import TickProbe

#: A cold engine start on a busy 2-core machine (10x and more what it takes when quiet).
ENGINE_START_TIMEOUT_MS = 30_000
SERVER_NICENESS = 10


@pytest.fixture(scope="session")
def demo_server() -> Iterator[tuple[str, int]]:
    """``python -m tools.demo_server --mode classic`` on 127.0.0.1, port 0."""
    # The server stands in for a remote machine: on a small CI box it should not take the
    # GUI thread's CPU, whose timing the tests measure.
    with spawn_demo_server(
        "--mode", "classic", niceness=SERVER_NICENESS, stderr=subprocess.DEVNULL
    ) as address:
        yield address


def stop_supervisor(qtbot, supervisor: EngineSupervisor) -> None:
    """Stop the engine and wait until the process is gone (no engine outlives a test)."""
    if supervisor.status.state is not EngineState.STOPPED:
        with qtbot.waitSignal(supervisor.stopped, timeout=10_000):
            supervisor.shutdown()


def add_window(qtbot, win: MainWindow) -> None:
    """Have pytest-qt close ``win`` after the test, stopping its engine first.

    pytest-qt deletes a test's widgets before fixtures tear down; an engine still running
    then could answer a request (a slow machine's late ``open`` reply) into a window whose
    buttons are gone.
    """
    qtbot.addWidget(win, before_close_func=lambda _: stop_supervisor(qtbot, win.supervisor))


@pytest.fixture
def probe() -> TickProbe:
    """The ``window``'s animation probe (a module that measures ticks overrides it)."""
    return TickProbe(0.025)


@pytest.fixture
def window(qtbot, demo_server, probe: TickProbe) -> MainWindow:
    """A shown MainWindow whose engine is ready; Do it! talks to the demo server."""
    supervisor = EngineSupervisor()
    win = MainWindow(
        supervisor,
        log_model=LogModel(cap=2_000_000),
        session_model=SessionModel(),
        probe=probe,
        server=demo_server,
    )
    add_window(qtbot, win)
    win.show()
    with qtbot.waitSignal(supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
        supervisor.start()
    return win
