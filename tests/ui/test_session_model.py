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


def test_who_closed_a_session_is_worded_as_the_cli_words_it(qtbot):
    """'closed here' and 'closed by the server' (the row said 'closed by local')."""
    model = SessionModel()
    model.apply_events(1, lifecycle(1) + lifecycle(2))
    model.apply_events(1, [
        schema.Closed(session_id=1, by="local", at=1.0),
        schema.Closed(session_id=2, by="peer", at=1.0),
    ])  # fmt: skip
    details = [model.session(1, 1).detail, model.session(1, 2).detail]
    assert details == ["closed here", "closed by the server"]


def test_engine_death_marks_open_sessions_lost_and_generations_are_distinct(qtbot):
    model = SessionModel()
    model.apply_events(1, lifecycle(1) + lifecycle(2)[:1])
    model.apply_events(
        1, [schema.ConnectFailed(session_id=3, reason="refused", message="no", at=0)]
    )
    assert model.mark_lost(1, "engine killed by signal 9") == {"session": 2}
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
    model.mark_closing(model.session(1, 1))
    model.apply_events(1, [schema.Received(session_id=1, frames=[b"x"] * 1000, at=0.2)])
    model.refresh_if_due(NOW)
    info = model.session(1, 1)
    assert info.state == "closing" and info.rate_in > 0
    assert model.rate_in_total() == info.rate_in


def test_listeners_and_relay_pairs_are_rows_and_the_legs_are_not(qtbot):
    model = SessionModel()
    model.apply_events(1, [
        schema.Listening(listener_id=1, role="relay", host="127.0.0.1", port=9001,
                         local="127.0.0.1:9001", reachable=False, framing={"length_size": 4},
                         upstream="127.0.0.1:9000", at=0.0),
        schema.Accepted(session_id=1, listener_id=1, local="127.0.0.1:9001",
                        peer="127.0.0.1:5000", framing={"length_size": 4}, pair_id=1, at=0.1),
        schema.Connecting(session_id=2, host="127.0.0.1", port=9000,
                          framing={"length_size": 4, "byte_order": "big"}, pair_id=1, at=0.1),
        schema.Connected(session_id=2, local="127.0.0.1:6000", peer="127.0.0.1:9000", at=0.2),
        schema.PairOpened(pair_id=1, listener_id=1, client_session_id=1, upstream_session_id=2,
                          client="127.0.0.1:5000", upstream="127.0.0.1:9000", at=0.2),
        schema.Received(session_id=1, frames=[b"ab"], at=0.3, pair_id=1, direction="c2s"),
        schema.Received(session_id=2, frames=[b"cde", b"f"], at=0.4, pair_id=1, direction="s2c"),
    ])  # fmt: skip
    assert model.rowCount() == 2  # the listener and the pair: no leg rows
    listener, pair = model.listener(1, 1), model.pair(1, 1)
    assert [cell(model, 0, c) for c in range(4)] == [
        "L1", "127.0.0.1:9001 → 127.0.0.1:9000 · 1 client", "le32", "listening"
    ]  # fmt: skip
    assert [cell(model, 1, c) for c in range(8)] == [
        "⇄1", "127.0.0.1:5000 ⇄ 127.0.0.1:9000", "le32 ⇄ be32", "open", "→ 1", "2 B", "← 2", "4 B"
    ]  # fmt: skip
    assert (pair.client_session_id, pair.upstream_session_id, pair.can_send) == (1, 2, True)
    assert not listener.can_send
    model.apply_events(1, [
        schema.Closed(session_id=1, by="peer", at=0.5),
        schema.Closed(session_id=2, by="local", at=0.5),
        schema.PairClosed(pair_id=1, listener_id=1, reason="the client closed the connection",
                          frames_c2s=1, bytes_c2s=2, frames_s2c=2, bytes_s2c=4, at=0.6),
    ])  # fmt: skip
    assert (pair.state, pair.detail, listener.clients) == (
        "closed", "the client closed the connection", 0
    )  # fmt: skip
    assert model.rowCount() == 2


def test_an_attached_engines_listeners_and_pairs_come_from_its_snapshot(qtbot):
    model = SessionModel()
    model.apply_snapshot(1, [
        {"session_id": 1, "host": "127.0.0.1", "port": 5000, "framing": {}, "state": "connected",
         "role": "relay", "leg": "client", "pair_id": 1},
    ])  # fmt: skip
    model.apply_roles_snapshot(
        1,
        [{"listener_id": 1, "role": "relay", "host": "127.0.0.1", "port": 9001,
          "local": "127.0.0.1:9001", "reachable": False, "framing": {}, "upstream": "h:1",
          "clients": 1, "accepted": 1}],
        [{"pair_id": 1, "listener_id": 1, "client_session_id": 1, "upstream_session_id": 2,
          "client": "127.0.0.1:5000", "upstream": "h:1", "state": "open", "frames_c2s": 3,
          "bytes_c2s": 30, "frames_s2c": 4, "bytes_s2c": 40},
         {"pair_id": 2, "listener_id": 1, "client_session_id": 3, "upstream_session_id": None,
          "client": "127.0.0.1:5001", "upstream": None, "state": "closed", "frames_c2s": 0,
          "bytes_c2s": 0, "frames_s2c": 0, "bytes_s2c": 0}],
    )  # fmt: skip
    assert [info.kind for info in model.sessions()] == ["listener", "pair", "pair"]
    # an upstream never connected: where the listener relays to, not "?"
    assert model.pair(1, 2).peer_text == "127.0.0.1:5001 ⇄ h:1"
    assert model.listener(1, 1).clients == 1
    model.apply_events(1, [schema.Received(session_id=2, frames=[b"x"], at=1.0, pair_id=1,
                                           direction="s2c")])  # fmt: skip
    assert (model.pair(1, 1).frames_in, model.pair(1, 1).frames_out) == (3, 5)
