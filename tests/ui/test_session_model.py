from PySide6.QtCore import Qt

from ipc import schema
from ui.session_model import REFRESH_INTERVAL_MS, SessionModel

#: ``refresh_if_due`` with this refreshes at once (a coarse timer may report a little
#: more than its interval as remaining).
NOW = 10 * REFRESH_INTERVAL_MS


def cell(model, row, col):
    return model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole)


def lifecycle(sid, port=9):
    return [
        schema.Connecting(
            session_id=sid, host="127.0.0.1", port=port, framing={"length_size": 4}, at=0.0
        ),
        schema.Connected(session_id=sid, local="127.0.0.1:5000", peer=f"127.0.0.1:{port}", at=0.1),
    ]


def test_events_drive_state_and_counters(qtbot):
    model = SessionModel()
    model.apply_events(1, lifecycle(1))
    assert model.rowCount() == 1
    assert (cell(model, 0, 0), cell(model, 0, 1), cell(model, 0, 2), cell(model, 0, 3)) == (
        "#1",
        "127.0.0.1:9",
        "le32",
        "connected",
    )
    model.apply_events(
        1,
        [
            schema.Received(session_id=1, frames=[b"ab", b"cde"], at=0.2),
            schema.Sent(session_id=1, frames=[b"x"], at=0.2),
            schema.Received(session_id=99, frames=[b"ignored"], at=0.2),
        ],
    )
    info = model.session(1, 1)
    assert (info.frames_in, info.bytes_in, info.frames_out, info.bytes_out) == (2, 5, 1, 1)
    model.apply_events(
        1,
        [
            schema.SessionError(session_id=1, kind="frame_too_large", message="big", at=1.0),
            schema.Closed(session_id=1, by="error", frames_in=3, bytes_in=9, at=1.0),
        ],
    )
    assert info.state == "closed" and info.frames_in == 3
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole) == "frame_too_large: big"


def test_engine_death_marks_open_sessions_lost_and_generations_are_distinct(qtbot):
    model = SessionModel()
    model.apply_events(1, lifecycle(1) + lifecycle(2)[:1])
    model.apply_events(
        1, [schema.ConnectFailed(session_id=3, reason="refused", message="no", at=0)]
    )
    assert model.mark_lost(1, "engine killed by signal 9") == 2
    assert [s.state for s in model.sessions()] == ["lost", "lost"]
    model.apply_events(2, lifecycle(1))
    assert cell(model, 2, 0) == "e2#1" and model.session(2, 1).is_open
    assert not model.session(1, 1).is_open


def test_rates_are_computed_on_refresh(qtbot):
    model = SessionModel()
    model.apply_events(1, lifecycle(1))
    model.apply_events(1, [schema.Received(session_id=1, frames=[b"x"] * 1000, at=0.2)])
    with qtbot.waitSignal(model.dataChanged, timeout=2000):
        pass
    assert model.session(1, 1).rate_in > 0
    assert cell(model, 0, 8).endswith("/s")


def test_a_closing_session_still_gets_rates(qtbot):
    """Close flushes queued frames first, and the peer may keep sending meanwhile: the
    rate must follow, not stay at its last value while the counters grow."""
    model = SessionModel()
    model.apply_events(1, lifecycle(1))
    model.refresh_if_due(NOW)  # the rate baseline: nothing received
    model.mark_closing(1, 1)
    model.apply_events(1, [schema.Received(session_id=1, frames=[b"x"] * 1000, at=0.2)])
    model.refresh_if_due(NOW)
    info = model.session(1, 1)
    assert info.state == "closing" and info.rate_in > 0
    assert model.rate_in_total() == info.rate_in
