"""Coalescing frame events into notifications, without I/O: caps by count and by bytes,
order kept, and a batch ends where the kind or the session changes."""

from __future__ import annotations

from collections.abc import Iterable

from engine.rpc.batching import (
    MAX_FRAMES_PER_NOTIFICATION,
    MAX_NOTIFICATION_PAYLOAD_BYTES,
    FrameBatcher,
)
from ipc.codec import MessageDecoder, Notification
from ipc.rpc import frames_credit
from ipc.schema import Received, Sent


def decoded(notifications: Iterable[tuple[bytes, int]]) -> list[tuple[str, int, list[bytes]]]:
    """(method, session, frames) of each notification; checks each one's credit cost."""
    result = []
    for data, cost in notifications:
        decoder = MessageDecoder()
        decoder.receive_data(data)
        (msg,) = list(decoder)
        assert isinstance(msg, Notification)
        frames = msg.params["frames"]
        assert cost == frames_credit(sum(map(len, frames)), len(frames))
        result.append((msg.method, msg.params["session_id"], frames))
    return result


def test_a_read_of_many_small_frames_splits_by_count_and_keeps_the_rest() -> None:
    frames = [i.to_bytes(4, "big") for i in range(2 * MAX_FRAMES_PER_NOTIFICATION + 5)]
    batcher = FrameBatcher()
    full = decoded(batcher.add(Received(session_id=1, frames=frames, at=0.0)))
    assert [len(f) for _, _, f in full] == [MAX_FRAMES_PER_NOTIFICATION] * 2
    rest = decoded(batcher.flush())
    assert [len(f) for _, _, f in rest] == [5]
    assert [frame for _, _, f in full + rest for frame in f] == frames
    assert list(batcher.flush()) == []


def test_the_byte_cap_splits_and_a_frame_over_it_travels_alone() -> None:
    half = b"h" * (MAX_NOTIFICATION_PAYLOAD_BYTES // 2)
    huge = b"H" * (MAX_NOTIFICATION_PAYLOAD_BYTES + 1)
    batcher = FrameBatcher()
    out = decoded(batcher.add(Received(session_id=1, frames=[b"a", half, huge, half], at=0.0)))
    out += decoded(batcher.flush())
    assert [f for _, _, f in out] == [[b"a", half], [huge], [half]]


def test_events_of_one_session_and_kind_coalesce_and_a_change_ends_the_batch() -> None:
    batcher = FrameBatcher()
    out = []
    events: list[Received | Sent] = [
        Received(session_id=1, frames=[b"a"], at=0.0),
        Received(session_id=1, frames=[b"b"], at=0.1),
        Sent(session_id=1, frames=[b"c"], at=0.2),
        Sent(session_id=2, frames=[b"d"], at=0.3),
    ]
    for event in events:
        out += decoded(batcher.add(event))
    out += decoded(batcher.flush())
    assert out == [
        ("received", 1, [b"a", b"b"]),
        ("sent", 1, [b"c"]),
        ("sent", 2, [b"d"]),
    ]


def test_coalesced_reads_keep_each_frame_s_own_time() -> None:
    """Item 7 of issue 17: a notification that coalesces several reads says when each of
    them completed its frames (``times``); one read alone needs no ``times``."""
    batcher = FrameBatcher()
    notifications = list(batcher.add(Received(session_id=1, frames=[b"a", b"b"], at=1.0)))
    notifications += batcher.add(Received(session_id=1, frames=[b"c"], at=1.5))
    notifications += batcher.add(Received(session_id=1, frames=[b"d", b"e", b"f"], at=2.0))
    notifications += batcher.flush()
    notifications += batcher.add(Received(session_id=1, frames=[b"g"], at=3.0))
    notifications += batcher.flush()
    events = []
    for data, _cost in notifications:
        decoder = MessageDecoder()
        decoder.receive_data(data)
        (msg,) = list(decoder)
        assert isinstance(msg, Notification)
        events.append((msg.params, Received.from_params(msg.params)))
    (first, coalesced), (second, alone) = events
    assert first["times"] == [[1.0, 2], [1.5, 1], [2.0, 3]]
    assert coalesced.frames == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert coalesced.spans() == [(1.0, 2), (1.5, 1), (2.0, 3)]
    assert coalesced.at == 1.0
    assert "times" not in second
    assert alone.spans() == [(3.0, 1)]


def test_spans_of_a_sloppy_times_field_fall_back_to_one_time() -> None:
    frames = [b"a", b"b"]
    assert Received(session_id=1, frames=frames, at=4.0, times=[[1.0, 5]]).spans() == [(4.0, 2)]
    assert Received(session_id=1, frames=frames, at=4.0, times=[[1.0]]).spans() == [(4.0, 2)]
    assert Received(session_id=1, frames=frames, at=4.0, times=[[1.0, 1.5]]).spans() == [(4.0, 2)]


def test_a_relay_legs_pair_and_direction_travel_with_its_batches() -> None:
    batcher = FrameBatcher()
    relayed = Received(session_id=3, frames=[b"a"], at=0.0, pair_id=7, direction="c2s")
    plain = Received(session_id=4, frames=[b"b"], at=0.0)
    out = [*batcher.add(relayed), *batcher.add(relayed), *batcher.add(plain), *batcher.flush()]
    params = []
    for data, _ in out:
        decoder = MessageDecoder()
        decoder.receive_data(data)
        (msg,) = list(decoder)
        assert isinstance(msg, Notification)
        params.append(msg.params)
    assert params == [
        {"session_id": 3, "frames": [b"a", b"a"], "at": 0.0, "pair_id": 7, "direction": "c2s"},
        {"session_id": 4, "frames": [b"b"], "at": 0.0},  # nothing added to a plain session's
    ]
    assert Received.from_params(params[0]) == Received(
        session_id=3, frames=[b"a", b"a"], at=0.0, pair_id=7, direction="c2s"
    )
