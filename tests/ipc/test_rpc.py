"""The sans-IO controller state: msgids, pending requests, credit acks."""

from __future__ import annotations

import msgpack

from ipc.codec import ErrorInfo, encode_notification, encode_response
from ipc.rpc import (
    FRAME_CREDIT_OVERHEAD,
    Broken,
    ClientConnection,
    Completed,
    EventReceived,
    Failed,
    Malformed,
    Unmatched,
    credit_cost,
)
from ipc.schema import Closed, FlowControl, Ping, Received


def received(frames: list[bytes]) -> bytes:
    return encode_notification("received", {"session_id": 1, "frames": frames, "at": 0.0})


def test_request_round_trip_completes_with_the_waiter() -> None:
    conn = ClientConnection[str]()
    msgid, data = conn.start_request(Ping(token=5), "waiter")
    assert msgpack.unpackb(data) == [0, msgid, "ping", [{"token": 5}]]
    assert conn.pending == 1
    conn.receive_data(encode_response(msgid, None, {"token": 5, "at": 1.0}))
    assert list(conn.outcomes()) == [Completed(msgid, "waiter", {"token": 5, "at": 1.0})]
    assert conn.pending == 0


def test_msgids_are_distinct_and_errors_become_failed() -> None:
    conn = ClientConnection[None]()
    first, _ = conn.start_request(Ping(token=0), None)
    second, _ = conn.start_request(Ping(token=0), None)
    assert first != second
    conn.receive_data(encode_response(second, ErrorInfo("UnknownSession", "no", {"x": 1})))
    (outcome,) = conn.outcomes()
    assert isinstance(outcome, Failed) and outcome.msgid == second
    assert (outcome.error.type, outcome.error.message, outcome.error.data) == (
        "UnknownSession",
        "no",
        {"x": 1},
    )


def test_a_forgotten_request_reports_its_late_response_as_unmatched() -> None:
    conn = ClientConnection[None]()
    msgid, _ = conn.start_request(Ping(token=0), None)
    conn.forget(msgid)
    conn.receive_data(encode_response(msgid, None, {}))
    (outcome,) = conn.outcomes()
    assert isinstance(outcome, Unmatched)


def test_forget_all_returns_every_waiter_and_their_responses_are_unmatched() -> None:
    conn = ClientConnection[str]()
    first, _ = conn.start_request(Ping(token=0), "first")
    conn.start_request(Ping(token=0), "second")
    assert conn.forget_all() == ["first", "second"]
    assert conn.pending == 0
    conn.receive_data(encode_response(first, None, {}))
    (outcome,) = conn.outcomes()
    assert isinstance(outcome, Unmatched)


def test_events_are_typed_with_their_credit_cost_and_unknown_events_skipped() -> None:
    conn = ClientConnection[None]()
    conn.receive_data(encode_notification("from_a_newer_engine", {}))
    conn.receive_data(received([b"abc", b""]))
    closed = Closed(session_id=1, by="peer", at=0.0)
    conn.receive_data(encode_notification("closed", closed.to_params()))
    outcomes = list(conn.outcomes())
    assert outcomes == [
        EventReceived(Received(session_id=1, frames=[b"abc", b""], at=0.0), 3 + 2 * 16),
        EventReceived(closed, 0),
    ]
    assert credit_cost(closed) == 0


def test_bad_events_are_malformed_and_decoding_continues() -> None:
    conn = ClientConnection[None]()
    conn.receive_data(encode_notification("received", {"session_id": "x"}))
    conn.receive_data(b"\x93\x02\xa3log\x91\x81\xa5level\xa2\xff\xfe")  # not UTF-8
    conn.receive_data(received([b"ok"]))
    outcomes = list(conn.outcomes())
    assert [type(o) for o in outcomes] == [Malformed, Malformed, EventReceived]


def test_bytes_that_break_the_stream_are_broken_once_and_nothing_after() -> None:
    conn = ClientConnection[None]()
    first = received([b"before"])
    # A received notification whose one frame declares 4 GiB, then a good event.
    bomb = b"\x93\x02\xa8received\x91\x81\xa6frames\x91\xc6\xff\xff\xff\xff"
    conn.receive_data(first + bomb)
    outcomes = list(conn.outcomes())
    assert [type(o) for o in outcomes] == [EventReceived, Broken]
    broken = outcomes[1]
    assert isinstance(broken, Broken)
    assert broken.error.kind == "too_large"
    assert broken.error.offset == len(first) + bomb.index(b"\xc6")
    conn.receive_data(received([b"after"]))
    assert list(conn.outcomes()) == []


def test_acks_are_sent_once_a_quarter_of_the_window_was_consumed() -> None:
    conn = ClientConnection[None]()
    assert conn.consumed(1000) is None  # no credit mode yet: nothing to ack
    conn.start_request(FlowControl(window_bytes=4000), None)
    cost = 100 + FRAME_CREDIT_OVERHEAD
    acks = [conn.consumed(cost) for _ in range(20)]
    sent = [msgpack.unpackb(a) for a in acks if a is not None]
    assert all(m[:2] == [2, "ack"] for m in sent)
    assert sum(m[2][0]["nbytes"] for m in sent) == cost * (20 - 20 % 9)  # 9 costs >= 1000
    assert len(sent) == 2
