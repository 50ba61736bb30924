"""The snapshot an attaching controller gets, built from the delivered events only."""

from __future__ import annotations

from engine.rpc.history import History
from engine.rpc.snapshot import ENDED_SESSIONS_KEPT, Journal
from ipc.schema import Closed, Connected, ConnectFailed, Connecting, Received, Sent


def _connecting(session_id: int, at: float = 1.0) -> Connecting:
    return Connecting(
        session_id=session_id, host="127.0.0.1", port=9000, framing={"length_size": 4}, at=at
    )


def test_sessions_follow_their_events_and_count_the_delivered_frames() -> None:
    journal = Journal(History())
    journal.observe_event(_connecting(1))
    journal.observe_event(
        Connected(session_id=1, local="127.0.0.1:5000", peer="127.0.0.1:9000", at=1.1)
    )
    journal.observe_frames(Received, 1, [b"ab", b"cde"], [[1.2, 2]], 5)
    journal.observe_frames(Sent, 1, [b"x"], [[1.3, 1]], 1)
    snapshot, replay = journal.take(history=True)
    (session,) = snapshot["sessions"]
    assert session["state"] == "connected" and session["peer"] == "127.0.0.1:9000"
    assert (session["frames_in"], session["bytes_in"]) == (2, 5)
    assert (session["frames_out"], session["bytes_out"]) == (1, 1)
    assert session["opened_at"] == 1.0
    assert snapshot["history"] == {"frames": 3, "bytes": 6, "sessions": 1}
    assert [(c.direction, c.frames) for c in replay] == [("in", [b"ab", b"cde"]), ("out", [b"x"])]
    assert journal.take(history=False)[1] == []


def test_ended_sessions_stay_listed_with_why_until_newer_ones_push_them_out() -> None:
    journal = Journal(History())
    journal.observe_event(_connecting(1))
    journal.observe_event(ConnectFailed(session_id=1, reason="refused", message="no", at=2.0))
    for sid in range(2, ENDED_SESSIONS_KEPT + 2):
        journal.observe_event(_connecting(sid))
        journal.observe_frames(Received, sid, [b"f"], [[2.0, 1]], 1)
        journal.observe_event(Closed(session_id=sid, by="peer", frames_in=1, bytes_in=1, at=3.0))
    snapshot, replay = journal.take(history=True)
    sessions = snapshot["sessions"]
    assert len(sessions) == ENDED_SESSIONS_KEPT
    assert sessions[0]["session_id"] == 2  # the failed one went first
    assert sessions[0]["state"] == "closed" and sessions[0]["closed_by"] == "peer"
    journal.observe_event(_connecting(999))
    journal.observe_event(Closed(session_id=999, by="local", at=4.0))
    snapshot, replay = journal.take(history=True)
    assert 2 not in {c.session_id for c in replay}  # its history went with it
    assert 3 in {c.session_id for c in replay}
