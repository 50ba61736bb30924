"""The engine banner in a real window: what it offers after crashes (real processes)."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

from ui.log_model import LogModel
from ui.main_window import MainWindow
from ui.restart_budget import RestartBudget
from ui.session_model import SessionModel
from ui.supervisor import EngineState, EngineStatus, EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.engine_status import EngineBanner

from .conftest import ENGINE_START_TIMEOUT_MS, add_window
from .helpers import open_session
from .test_supervisor import CRASHING_ENGINE


@pytest.fixture
def crash_loop_window(qtbot) -> MainWindow:
    """A shown window whose "engine" exits at once, with a budget of one restart."""
    supervisor = EngineSupervisor(args=CRASHING_ENGINE, budget=RestartBudget(max_restarts=1))
    win = MainWindow(
        supervisor,
        log_model=LogModel(cap=1000),
        session_model=SessionModel(),
        probe=TickProbe(0.025),
    )
    add_window(qtbot, win)
    win.show()
    return win


def test_after_too_many_crashes_restart_stays_reachable(qtbot, crash_loop_window):
    win = crash_loop_window
    with qtbot.waitSignal(win.supervisor.restart_budget_exhausted, timeout=10_000):
        win.supervisor.start()
    banner = win.banner
    assert banner.isVisible() and "too often" in banner._title.text()
    assert f"press {banner.restart_button.text()} to try again" in banner._title.text()
    assert not win.do_it_button.isEnabled() and not win.sessions.open_button.isEnabled()
    # Dismissing would leave nothing to click: the banner offers Restart only.
    assert banner.restart_button.isVisible() and banner.restart_button.isEnabled()
    assert not banner.dismiss_button.isVisible()
    with qtbot.waitSignal(win.supervisor.restart_budget_exhausted, timeout=10_000):
        banner.restart_button.click()  # the stand-in crashes again, with a fresh budget
    assert banner.isVisible() and banner.restart_button.isVisible()
    assert not banner.dismiss_button.isVisible()


def kill_engine_and_wait_for_the_next(qtbot, win: MainWindow) -> None:
    supervisor = win.supervisor
    with qtbot.waitSignal(supervisor.engine_crashed, timeout=10_000):
        os.kill(supervisor.pid, signal.SIGKILL)
    assert win.banner.isVisible() and not win.banner.restart_button.isVisible()
    qtbot.waitUntil(
        lambda: supervisor.status.state is EngineState.READY, timeout=ENGINE_START_TIMEOUT_MS
    )


def test_once_the_new_engine_is_ready_the_banner_only_offers_dismiss(qtbot, window):
    kill_engine_and_wait_for_the_next(qtbot, window)
    banner = window.banner
    title = banner._title.text()
    assert banner.isVisible() and "restarted (new pid" in title
    assert "lost" not in title  # no session was open
    # Restart would kill the healthy new engine (and whatever is opened next).
    assert not banner.restart_button.isVisible() and not banner.wait_button.isVisible()
    assert banner.dismiss_button.isVisible()
    banner.dismiss_button.click()
    assert not banner.isVisible()


def test_the_crash_report_counts_the_open_sessions_lost(qtbot, window, demo_server):
    open_session(qtbot, window, *demo_server)
    open_session(qtbot, window, *demo_server)
    kill_engine_and_wait_for_the_next(qtbot, window)
    assert "Its 2 open sessions were lost." in window.banner._title.text()
    assert not window.banner.restart_button.isVisible()


def test_the_crash_report_names_what_was_lost_by_kind(qtbot):
    banner = EngineBanner()
    qtbot.addWidget(banner)
    crashed = EngineStatus(state=EngineState.CRASHED, generation=1, detail="killed by signal 9")
    banner.show_status(crashed)
    banner.sessions_lost(Counter(listener=1))
    assert banner._title.text().endswith("Its open listener was lost.</b>")  # not "session"
    banner.sessions_lost(Counter(session=2, pair=1))  # the next crash of the same report
    title = banner._title.text()
    assert title.endswith("Its 2 open sessions, 1 listener and 1 relay pair were lost.</b>")
