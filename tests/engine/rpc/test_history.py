"""The history kept for controllers that attach later: bounded per session (frames and
payload) and in total, oldest first, replays unaffected by what is recorded after them."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from engine.rpc.history import (
    CHUNK_OVERHEAD_BYTES,
    FRAME_OVERHEAD_BYTES,
    MAX_SESSION_PAYLOAD_BYTES,
    History,
)
from ipc.schema import Direction
from tests.engine.rpc.socket_helpers import sequence_numbers


def _frames(start: int, count: int, size: int = 8) -> list[bytes]:
    return [n.to_bytes(8, "big").ljust(size, b"x") for n in range(start, start + count)]


def _record(
    history: History, session_id: int, direction: Direction, frames: list[bytes], at: float
) -> None:
    history.record(session_id, direction, frames, [[at, len(frames)]])


def _kept(history: History, session_id: int) -> list[int]:
    return [
        int.from_bytes(f[:8], "big")
        for chunk in history.replay()
        if chunk.session_id == session_id
        for f in chunk.frames
    ]


def test_a_session_keeps_its_last_frames_cutting_a_batch_where_needed() -> None:
    history = History(frames_per_session=100)
    for start in range(0, 250, 50):
        _record(history, 1, "in", _frames(start, 50), float(start))
    assert _kept(history, 1) == list(range(150, 250))
    _record(history, 1, "out", _frames(250, 30), 250.0)
    assert _kept(history, 1) == list(range(180, 280))  # both directions count
    assert [c.direction for c in history.replay()] == ["in", "in", "out"]


def test_a_session_keeps_at_most_its_payload_bound_and_always_its_newest_frame() -> None:
    history = History()
    big = MAX_SESSION_PAYLOAD_BYTES // 4
    for n in range(6):
        _record(history, 1, "in", _frames(n, 1, big), float(n))
    assert _kept(history, 1) == [2, 3, 4, 5]
    _record(history, 1, "in", _frames(6, 1, MAX_SESSION_PAYLOAD_BYTES + 1), 6.0)
    assert _kept(history, 1) == [6]  # alone over the bound: kept, and nothing else
    _record(history, 1, "in", _frames(7, 40, big // 8), 7.0)  # one batch, 5 bounds' worth
    assert _kept(history, 1) == list(range(7 + 40 - 32, 47))
    assert history.statistics()["bytes"] <= MAX_SESSION_PAYLOAD_BYTES


def test_the_total_bound_drops_the_oldest_frames_of_any_session() -> None:
    frame_cost = 8 + FRAME_OVERHEAD_BYTES
    batch_cost = 10 * frame_cost + CHUNK_OVERHEAD_BYTES
    history = History(total_bytes=3 * batch_cost)
    _record(history, 1, "in", _frames(0, 10), 0.0)
    _record(history, 2, "in", _frames(100, 10), 1.0)
    _record(history, 1, "in", _frames(10, 10), 2.0)
    _record(history, 2, "in", _frames(110, 10), 3.0)
    assert [c.session_id for c in history.replay()] == [2, 1, 2]
    assert _kept(history, 1) == list(range(10, 20))
    assert history.statistics()["memory"] <= 3 * batch_cost


def test_a_replay_is_not_changed_by_what_is_recorded_after_it() -> None:
    history = History(frames_per_session=10)
    _record(history, 1, "in", _frames(0, 10), 0.0)
    replay = history.replay()
    _record(history, 1, "in", _frames(10, 5), 1.0)  # cuts the first batch in the history
    assert [len(c.frames) for c in replay] == [10]
    assert _kept(history, 1) == list(range(5, 15))


def test_forgetting_a_session_frees_its_share() -> None:
    history = History()
    _record(history, 1, "in", _frames(0, 10), 0.0)
    _record(history, 2, "in", _frames(0, 10), 1.0)
    history.forget(1)
    assert [c.session_id for c in history.replay()] == [2]
    assert history.statistics()["sessions"] == 1
    history.forget(2)
    assert history.statistics() == {"frames": 0, "bytes": 0, "sessions": 0, "memory": 0}


def test_no_history_when_switched_off() -> None:
    history = History(frames_per_session=0)
    _record(history, 1, "in", _frames(0, 10), 0.0)
    assert history.replay() == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(0, 64), st.booleans()),
        max_size=40,
    ),
    st.integers(1, 60),
    st.integers(200, 20_000),
)
def test_bounds_hold_and_each_session_keeps_its_newest_frames_in_order(
    batches: list[tuple[int, int, int, bool]], per_session: int, total: int
) -> None:
    history = History(frames_per_session=per_session, total_bytes=total)
    recorded: dict[int, list[int]] = {}
    serial = 0
    for at, (session_id, count, size, forget) in enumerate(batches):
        frames = [n.to_bytes(8, "big") + b"x" * size for n in range(serial, serial + count)]
        serial += count
        _record(history, session_id, "in", frames, float(at))
        recorded.setdefault(session_id, []).extend(range(serial - count, serial))
        if forget:
            history.forget(session_id)
            recorded[session_id] = []
        stats = history.statistics()
        assert stats["memory"] <= total
        for sid, numbers in recorded.items():
            kept = _kept(history, sid)
            assert len(kept) <= per_session
            assert kept == numbers[len(numbers) - len(kept) :]  # a suffix: the newest
        ats = [c.at for c in history.replay()]
        assert ats == sorted(ats)


def test_a_cut_batch_keeps_the_times_of_the_frames_it_keeps() -> None:
    history = History(frames_per_session=4)
    history.record(1, "in", _frames(0, 6), [[1.0, 3], [2.0, 3]])
    (chunk,) = history.replay()
    assert (sequence_numbers(chunk.frames), chunk.times) == ([2, 3, 4, 5], [[1.0, 1], [2.0, 3]])
    assert chunk.at == 1.0
