"""The window over a real engine subprocess and the real demo server, driven like a user."""

import os
import signal
import socket

import pytest

from ui.log_store import Direction
from ui.supervisor import EngineState

from .conftest import ENGINE_START_TIMEOUT_MS
from .helpers import open_session, payloads, send_text


def test_do_it_logs_the_reply_with_a_timestamp(qtbot, window):
    with qtbot.waitSignal(window.do_it.finished, timeout=10_000) as blocker:
        window.do_it_button.click()
    reply, _wall = blocker.args
    assert reply == b"hello, client! you said: hello"
    assert "reply: hello, client! you said: hello" in window.do_it_result.text()
    assert window.do_it_result.text().startswith("[")
    window.log_model.flush()
    # The summary sits with the run's traffic: filtering by #1 shows the whole exchange.
    notes = payloads(window, "#1", Direction.INFO)
    assert any(b"Do it! [" in n and b"hello, client!" in n for n in notes)
    assert payloads(window, "#1", Direction.IN) == [reply]
    assert payloads(window, "#1", Direction.OUT) == [b"hello"]
    qtbot.waitUntil(lambda: window.session_model.session(1, 1).state == "closed", timeout=5000)


def test_sessions_compose_and_errors_where_they_happen(qtbot, window, demo_server):
    info = open_session(qtbot, window, *demo_server)
    send_text(window, "ping")
    qtbot.waitUntil(lambda: info.frames_in == 1, timeout=5000)
    window.log_model.flush()
    assert payloads(window, info.name, Direction.IN) == [b"hello, client! you said: ping"]
    assert window.compose.history.count() == 1
    # hex is validated as you type
    window.compose.mode.setCurrentText("Hex")
    window.compose.editor.setText("68 6")
    assert not window.compose.send_button.isEnabled()
    assert "odd number" in window.compose.error.text()
    window.compose.editor.setText("68 69")
    assert window.compose.send_button.isEnabled()
    window.compose.send_button.click()
    qtbot.waitUntil(lambda: info.frames_in == 2, timeout=5000)
    # a refused connection is reported next to the open form
    window.sessions.port.setValue(1)
    window.sessions.open_button.click()
    qtbot.waitUntil(lambda: window.sessions.error.isVisible(), timeout=10_000)
    refused = window.sessions.error.text()
    assert "127.0.0.1:1 refused" in refused
    assert refused.count("127.0.0.1") == 1  # the engine's message names it already
    # close from the table
    window.sessions.select(info)
    window.sessions.close_button.click()
    qtbot.waitUntil(lambda: info.state == "closed", timeout=5000)
    assert not window.compose.send_button.isEnabled()


def test_engine_killed_is_reported_and_replaced(qtbot, window, demo_server):
    supervisor = window.supervisor
    old = open_session(qtbot, window, *demo_server)
    pid = supervisor.pid
    with qtbot.waitSignal(supervisor.engine_crashed, timeout=10_000) as crashed:
        os.kill(pid, signal.SIGKILL)
    assert "SIGKILL" in crashed.args[1]
    assert supervisor.status.state is EngineState.CRASHED
    assert "crashed" in window.status_label.text()
    assert window.banner.isVisible() and "crashed" in window.banner._title.text()
    assert old.state == "lost"
    qtbot.waitUntil(
        lambda: supervisor.status.state is EngineState.READY, timeout=ENGINE_START_TIMEOUT_MS
    )
    assert supervisor.generation == 2 and supervisor.pid not in (None, pid)
    new = open_session(qtbot, window, *demo_server)
    assert new.name == "e2#1"
    send_text(window, "again")
    qtbot.waitUntil(lambda: new.frames_in == 1, timeout=5000)


def test_user_restart_replaces_the_engine_and_its_sessions_are_lost(qtbot, window, demo_server):
    supervisor = window.supervisor
    old = open_session(qtbot, window, *demo_server)
    with qtbot.waitSignal(supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
        window.banner.restart_button.click()
    assert old.state == "lost" and old.detail == "engine restarted by the user"
    assert not window.compose.send_button.isEnabled()
    assert supervisor.generation == 2
    window.log_model.flush()
    notes = payloads(window, "engine", Direction.ERROR)
    assert any(b"1 session of engine 1 lost" in n for n in notes)


def test_closing_the_window_stops_even_a_hung_engine_within_the_deadline(qtbot, window):
    supervisor = window.supervisor
    pid = supervisor.pid
    os.kill(pid, signal.SIGSTOP)  # it can answer nothing, not even SIGTERM
    with qtbot.waitSignal(window.closed, timeout=8000):
        window.close()
    assert supervisor.status.state is EngineState.STOPPED
    assert not window.isVisible()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_oversize_frame_is_an_error_on_that_session_only(qtbot, window, demo_server):
    bad = open_session(qtbot, window, *demo_server)
    send_text(window, "!oversize")
    qtbot.waitUntil(lambda: bad.state == "closed", timeout=5000)
    assert bad.detail.startswith("frame_too_large")
    window.log_model.flush()
    errors = payloads(window, bad.name, Direction.ERROR)
    assert len(errors) == 1 and errors[0].startswith(b"frame_too_large")
    good = open_session(qtbot, window, *demo_server)  # the engine and other sessions go on
    send_text(window, "still fine")
    qtbot.waitUntil(lambda: good.frames_in == 1, timeout=5000)


def test_a_failed_do_it_says_why_once_under_its_session(qtbot, window):
    # A loopback port bound but not listening: refused, and no other test can take it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        window._server = ("127.0.0.1", probe.getsockname()[1])
        with qtbot.waitSignal(window.do_it.failed, timeout=10_000):
            window.do_it_button.click()
    shown = window.do_it_result.text()
    assert shown.startswith("Do it! failed: connection to 127.0.0.1:") and "refused" in shown
    assert shown.count("failed") == 1
    window.log_model.flush()
    store = window.log_model.store
    (row,) = [r for r in store.rows(store.first_seq, store.end_seq) if r.payload == shown.encode()]
    # Under #1 when the engine's Connecting event came before its answer (not guaranteed:
    # answers go ahead of events), else under "do-it".
    assert row.session in ("#1", "do-it") and row.direction is Direction.ERROR
    qtbot.waitUntil(lambda: window.session_model.session(1, 1).state == "failed", timeout=5000)
    assert window.do_it_button.isEnabled()
