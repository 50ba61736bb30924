from ipc import schema
from ui.event_log import ENGINE_SESSION, RelayLeg, log_entries
from ui.log_store import Direction


def test_events_become_rows_with_wall_time_and_session_names():
    frames = [b"a", b"b"]
    events = [
        schema.Connecting(session_id=1, host="127.0.0.1", port=9, framing={}, label="x", at=1.0),
        schema.Connected(session_id=1, local="127.0.0.1:5", peer="127.0.0.1:9", at=1.5),
        schema.Received(session_id=1, frames=frames, at=2.0),
        schema.Sent(session_id=1, frames=[b"c"], at=2.5),
        schema.SessionError(session_id=1, kind="reset", message="peer reset", at=3.0),
        schema.Closed(session_id=1, by="error", frames_in=2, bytes_in=2, at=3.0),
        schema.ConnectFailed(session_id=2, reason="refused", message="nope", at=4.0),
        schema.LogLine(level="ERROR", message="disk full", at=5.0),
        schema.Stats(sessions=0, frames_in=0, bytes_in=0, frames_out=0, bytes_out=0, at=6.0),
    ]
    rows = list(log_entries(2, 100.0, events))
    assert [(r.session, r.direction) for r in rows] == [
        ("e2#1", Direction.INFO),
        ("e2#1", Direction.INFO),
        ("e2#1", Direction.IN),
        ("e2#1", Direction.OUT),
        ("e2#1", Direction.ERROR),
        ("e2#1", Direction.INFO),
        ("e2#2", Direction.ERROR),
        (ENGINE_SESSION, Direction.ERROR),
    ]
    assert rows[2].payloads is frames  # the event's list is kept, not copied
    assert rows[2].wall == 102.0
    assert rows[0].payloads == [b"connecting to 127.0.0.1:9 (x)"]
    assert rows[6].payloads == [b"connect failed (refused): nope"]
    assert rows[7].payloads == [b"error: disk full"]


def test_counts_in_notes_are_pluralised():
    events = [
        schema.Closed(session_id=1, by="peer", frames_in=1, bytes_in=30, frames_out=2,
                      bytes_out=10, at=1.0),
    ]  # fmt: skip
    (row,) = log_entries(1, 0.0, events)
    assert row.payloads == [b"closed by the peer (in 1 frame / 30 B, out 2 frames / 10 B)"]


def test_who_closed_is_worded_as_the_cli_words_it():
    """'closed here', as framewire-engine says (the log said 'closed by local')."""
    events = [
        schema.Closed(session_id=1, by=by, frames_in=1, bytes_in=30, at=1.0)
        for by in ("local", "abort", "shutdown")
    ]
    texts = [row.payloads[0].split(b" (")[0] for row in log_entries(1, 0.0, events)]
    assert texts == [b"closed here", b"aborted here", b"closed at shutdown"]


def test_frames_of_several_reads_keep_their_own_times():
    frames = [b"a", b"b", b"c"]
    event = schema.Received(session_id=1, frames=frames, at=1.0, times=[[1.0, 2], [1.25, 1]])
    rows = list(log_entries(1, 100.0, [event]))
    assert [(r.wall, r.payloads) for r in rows] == [(101.0, [b"a", b"b"]), (101.25, [b"c"])]


def test_a_relay_pairs_frames_are_the_pairs_rows_with_their_direction():
    events = [
        schema.Listening(listener_id=1, role="relay", host="0.0.0.0", port=9001,
                         local="0.0.0.0:9001", reachable=True, framing={},
                         upstream="127.0.0.1:9000", at=0.5),
        schema.Accepted(session_id=1, listener_id=1, local="127.0.0.1:9001",
                        peer="127.0.0.1:5000", framing={}, pair_id=7, at=1.0),
        schema.Received(session_id=1, frames=[b"ask"], at=2.0, pair_id=7, direction="c2s"),
        schema.Received(session_id=2, frames=[b"answer"], at=2.5, pair_id=7, direction="s2c"),
        schema.Sent(session_id=2, frames=[b"injected"], at=3.0, pair_id=7, direction="c2s"),
        schema.PairClosed(pair_id=7, listener_id=1, reason="the client closed the connection",
                          frames_c2s=1, bytes_c2s=3, frames_s2c=1, bytes_s2c=6, at=4.0),
    ]  # fmt: skip
    rows = list(log_entries(1, 0.0, events))
    assert [(r.session, r.direction) for r in rows] == [
        ("L1", Direction.INFO),
        ("L1", Direction.ERROR),  # reachable from the network
        ("⇄7", Direction.INFO),
        ("⇄7", Direction.C2S),
        ("⇄7", Direction.S2C),
        ("⇄7", Direction.C2S),
        ("⇄7", Direction.INFO),
    ]
    assert rows[0].payloads == [
        b"listening on 0.0.0.0:9001, relaying each client to 127.0.0.1:9000"
    ]
    assert rows[2].payloads == [b"client 127.0.0.1:5000 connected to L1 (127.0.0.1:9001), as #1"]
    assert rows[6].payloads[0].startswith(b"pair closed: the client closed the connection")


def test_a_relay_leg_s_history_is_the_pair_s_each_way_it_went():
    legs = {3: RelayLeg(1, client=True), 4: RelayLeg(1, client=False)}
    events = [
        schema.History(session_id=3, direction="in", frames=[b"request"], at=1.0),
        schema.History(session_id=4, direction="in", frames=[b"reply"], at=2.0),
        schema.History(session_id=4, direction="out", frames=[b"injected up"], at=3.0),
        schema.History(session_id=3, direction="out", frames=[b"injected down"], at=4.0),
        schema.History(session_id=5, direction="in", frames=[b"a session"], at=5.0),
    ]
    rows = [(r.session, r.direction, r.payloads) for r in log_entries(1, 0.0, events, legs)]
    assert rows == [
        ("⇄1", Direction.C2S, [b"request"]),  # read from the client
        ("⇄1", Direction.S2C, [b"reply"]),  # read from the upstream
        ("⇄1", Direction.C2S, [b"injected up"]),  # written to the upstream
        ("⇄1", Direction.S2C, [b"injected down"]),  # written to the client
        ("#5", Direction.IN, [b"a session"]),
    ]
