"""The status bar's engine line: what it claims while the engine is silent, and a
frames/s figure that agrees with the sessions table (a real engine and demo server)."""

from ui.formatting import format_rate
from ui.supervisor import EngineState, EngineStatus
from ui.widgets.engine_status import EngineStatusLabel

from .helpers import open_session, send_text


def test_a_silent_engine_shows_no_stale_round_trip_time(qtbot):
    label = EngineStatusLabel()
    qtbot.addWidget(label)
    label.show_status(EngineStatus(state=EngineState.READY, pid=7, rtt=0.0149))
    assert "rtt 14.9 ms" in label.text()
    label.show_status(
        EngineStatus(state=EngineState.NOT_RESPONDING, pid=7, rtt=0.0149, silent_for=3.2)
    )
    assert "not responding for 3.2 s" in label.text()
    assert "rtt —" in label.text() and "14.9" not in label.text()


def test_frames_per_second_agrees_with_the_sessions_table(qtbot, window, demo_server):
    info = open_session(qtbot, window, *demo_server)
    send_text(window, "!stream 300000 100")
    qtbot.waitUntil(lambda: info.rate_in > 1000, timeout=10_000)
    total = sum(s.rate_in for s in window.session_model.sessions())
    assert f"· {format_rate(total, ' frames/s')}" in window.status_label.text()
    qtbot.waitUntil(lambda: info.frames_in == 300_000, timeout=30_000)
    qtbot.waitUntil(lambda: info.rate_in == 0, timeout=5000)
    assert "· 0 frames/s" in window.status_label.text()
