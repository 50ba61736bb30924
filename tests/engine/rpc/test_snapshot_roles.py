"""Listeners, accepted sessions and relay pairs in the snapshot an attaching controller gets."""

from __future__ import annotations

from engine.rpc.history import History
from engine.rpc.snapshot import ENDED_PAIRS_KEPT, Journal
from ipc.schema import (
    Accepted,
    Closed,
    Connected,
    Connecting,
    Event,
    ListenerClosed,
    Listening,
    PairClosed,
    PairOpened,
    Received,
    Sent,
)

FRAMING = {"length_size": 4}


def _listening(listener_id: int = 1) -> Listening:
    return Listening(
        listener_id=listener_id,
        role="relay",
        host="127.0.0.1",
        port=9001,
        local="127.0.0.1:9001",
        reachable=False,
        framing=FRAMING,
        upstream="127.0.0.1:9000",
        at=1.0,
    )


def _pair_events(pair_id: int, client: int, upstream: int) -> list[Event]:
    return [
        Accepted(
            session_id=client,
            listener_id=1,
            local="127.0.0.1:9001",
            peer="127.0.0.1:5000",
            framing=FRAMING,
            at=2.0,
            pair_id=pair_id,
        ),
        Connecting(
            session_id=upstream,
            host="127.0.0.1",
            port=9000,
            framing=FRAMING,
            at=2.1,
            pair_id=pair_id,
        ),
        Connected(session_id=upstream, local="127.0.0.1:6000", peer="127.0.0.1:9000", at=2.2),
        PairOpened(
            pair_id=pair_id,
            listener_id=1,
            client_session_id=client,
            upstream_session_id=upstream,
            client="127.0.0.1:5000",
            upstream="127.0.0.1:9000",
            at=2.3,
        ),
    ]


def test_a_relay_pair_its_legs_and_its_listener_are_in_the_snapshot() -> None:
    journal = Journal(History())
    for event in [_listening(), *_pair_events(7, client=1, upstream=2)]:
        journal.observe_event(event)
    journal.observe_frames(Received, 1, [b"hello"], [[3.0, 1]], 5)  # c2s
    journal.observe_frames(Received, 2, [b"re:hello", b"x"], [[3.1, 2]], 9)  # s2c
    journal.observe_frames(Sent, 2, [b"injected"], [[3.2, 1]], 8)  # not relayed: not counted
    snapshot, _ = journal.take(history=False)

    (listener,) = snapshot["listeners"]
    assert (listener["listener_id"], listener["role"], listener["upstream"]) == (
        1,
        "relay",
        "127.0.0.1:9000",
    )
    assert (listener["clients"], listener["accepted"], listener["opened_at"]) == (1, 1, 1.0)
    legs = {s["session_id"]: s for s in snapshot["sessions"]}
    assert (legs[1]["role"], legs[1]["leg"], legs[1]["pair_id"]) == ("relay", "client", 7)
    assert (legs[1]["state"], legs[1]["peer"], legs[1]["host"]) == (
        "connected",
        "127.0.0.1:5000",
        "127.0.0.1",
    )
    assert (legs[2]["role"], legs[2]["leg"], legs[2]["listener_id"]) == ("relay", "upstream", 1)
    (pair,) = snapshot["pairs"]
    assert (pair["state"], pair["client_session_id"], pair["upstream_session_id"]) == (
        "open",
        1,
        2,
    )
    assert (pair["frames_c2s"], pair["bytes_c2s"], pair["frames_s2c"]) == (1, 5, 2)

    for event in [
        Closed(session_id=1, by="peer", at=4.0),
        Closed(session_id=2, by="local", at=4.1),
        PairClosed(
            pair_id=7,
            listener_id=1,
            reason="the client closed the connection",
            frames_c2s=1,
            bytes_c2s=5,
            frames_s2c=2,
            bytes_s2c=9,
            at=4.2,
        ),
    ]:
        journal.observe_event(event)
    snapshot, _ = journal.take(history=False)
    (pair,) = snapshot["pairs"]
    assert (pair["state"], pair["reason"], pair["closed_at"]) == (
        "closed",
        "the client closed the connection",
        4.2,
    )
    assert snapshot["listeners"][0]["clients"] == 0

    journal.observe_event(ListenerClosed(listener_id=1, by="local", accepted=1, at=5.0))
    assert journal.take(history=False)[0]["listeners"] == []


def test_ended_pairs_stay_listed_until_newer_ones_push_them_out() -> None:
    journal = Journal(History())
    journal.observe_event(_listening())
    for pair_id in range(1, ENDED_PAIRS_KEPT + 2):
        for event in _pair_events(pair_id, client=2 * pair_id, upstream=2 * pair_id + 1):
            journal.observe_event(event)
        journal.observe_event(PairClosed(pair_id=pair_id, listener_id=1, reason="x", at=9.0))
    pairs = journal.take(history=False)[0]["pairs"]
    assert len(pairs) == ENDED_PAIRS_KEPT and pairs[0]["pair_id"] == 2
