"""The limits on accepted sessions: idle and partial-frame timeouts.

The timing logic runs on memory streams under trio's ``MockClock`` (a session's stream is
pluggable: an ``Accept`` of a transport without a socket); one test uses real sockets.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
import trio.testing

from engine import Engine, open_engine
from engine.limits import Activity, Limits, PartialFrameTimeout, ReadGuard
from engine.role import Role
from engine.session import Session, receive_frames
from engine.streams import Accept, Transport
from ipc import schema
from ipc.errors import LocalProtocolError
from ipc.framing import DEFAULT, FrameDecoder, encode_frame, encode_frames
from tests.engine.helpers import next_event

LIMITS = Limits(idle_timeout=600.0, partial_frame_timeout=30.0)


def _accept_memory(engine: Engine, limits: Limits = LIMITS) -> tuple[Session, trio.abc.Stream]:
    """An accepted session over a memory stream; return it and the peer's end."""
    ours, theirs = trio.testing.memory_stream_pair()
    transport = Transport(ours, None, "memory:1", "memory:2")
    role = Role(kind="accept", listener_id=1, guard=ReadGuard(limits, Activity()))
    session = engine.start_session(Accept(transport, 1), "memory", 2, spec=DEFAULT, role=role)
    return session, theirs


async def test_a_frame_left_incomplete_ends_the_session_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_engine() as engine:
        session, peer = _accept_memory(engine)
        await next_event(engine, schema.Accepted)
        await peer.send_all(encode_frame(b"whole") + b"\x05\x00")  # then two header bytes
        assert (await next_event(engine, schema.Received)).frames == [b"whole"]
        start = trio.current_time()
        error = await next_event(engine, schema.SessionError)
        assert trio.current_time() - start == pytest.approx(30.0)
        assert error.kind == "timeout" and "incomplete for 30 s" in error.message
        assert "2 bytes received" in error.message
        closed = await next_event(engine, schema.Closed)
        assert (closed.session_id, closed.by) == (session.id, "error")


async def test_a_trickling_frame_times_out_too(autojump_clock: trio.testing.MockClock) -> None:
    async with open_engine() as engine:
        _, peer = _accept_memory(engine)
        await next_event(engine, schema.Accepted)
        start = trio.current_time()
        # A byte every 10 s: the frame never completes in time (the session ends after 30 s,
        # and then the peer cannot write any more).
        with contextlib.suppress(trio.BrokenResourceError):
            for byte in encode_frame(b"x" * 100):
                await peer.send_all(bytes([byte]))
                await trio.sleep(10)
        error = await next_event(engine, schema.SessionError)
        assert error.kind == "timeout"
        assert error.at - start == pytest.approx(30.0)


async def test_time_held_up_by_back_pressure_does_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    guard = ReadGuard(LIMITS, Activity())

    async def slow_delivery(batch: list[bytes]) -> None:
        await trio.sleep(100)  # the consumer (or a relay's other leg) holds the reader up

    await send.send_all(encode_frame(b"first") + b"\x05")  # a frame, then a header begins
    start = trio.current_time()
    with pytest.raises(PartialFrameTimeout):
        await receive_frames(receive, FrameDecoder(), slow_delivery, guard=guard)
    assert trio.current_time() - start == pytest.approx(130.0)


async def test_a_new_frame_restarts_the_partial_frame_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    guard = ReadGuard(LIMITS, Activity())
    got: list[bytes] = []

    async def deliver(batch: list[bytes]) -> None:
        got.extend(batch)

    async def peer() -> None:
        wire = encode_frames([b"a", b"b", b"c"])
        # Each frame takes 20 s to complete: each within the timeout, 60 s in all.
        for frame_start in (0, 5, 10):
            await send.send_all(wire[frame_start : frame_start + 3])
            await trio.sleep(20)
            await send.send_all(wire[frame_start + 3 : frame_start + 5])
        await send.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer)
        await receive_frames(receive, FrameDecoder(), deliver, guard=guard)
    assert got == [b"a", b"b", b"c"]


async def test_idle_sessions_are_closed_with_the_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_engine() as engine:
        session, _peer = _accept_memory(engine)
        accepted = await next_event(engine, schema.Accepted)
        closed = await next_event(engine, schema.Closed)
        assert closed.session_id == session.id and closed.by == "local"
        assert closed.details["reason"] == "idle: no traffic for 600 s"
        assert closed.at - accepted.at == pytest.approx(600.0)


async def test_writes_count_as_traffic_for_the_idle_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_engine() as engine:
        session, peer = _accept_memory(engine)
        accepted = await next_event(engine, schema.Accepted)
        await trio.sleep(500)
        await engine.send(session.id, [b"still there?"])
        await peer.receive_some(100)
        closed = await next_event(engine, schema.Closed)
        assert closed.at - accepted.at == pytest.approx(1100.0)


async def test_no_timeouts_when_turned_off(autojump_clock: trio.testing.MockClock) -> None:
    limits = Limits(idle_timeout=None, partial_frame_timeout=None)
    async with open_engine() as engine:
        session, peer = _accept_memory(engine, limits)
        await peer.send_all(b"\x05\x00")
        with trio.move_on_after(100_000):
            await trio.sleep_forever()
        assert engine.describe(session.id) is not None
        await peer.send_all(b"\x00\x00hello")
        assert (await next_event(engine, schema.Received)).frames == [b"hello"]


def test_limits_are_checked() -> None:
    for bad in (
        {"max_clients": 0},
        {"idle_timeout": 0.0},
        {"partial_frame_timeout": -1.0},
        {"idle_timeout": float("inf")},
    ):
        with pytest.raises(LocalProtocolError):
            Limits(**bad)
    assert Limits.from_wire(5, 0.0, 2.5) == Limits(
        max_clients=5, idle_timeout=None, partial_frame_timeout=2.5
    )
    assert Limits.from_wire(**Limits().to_wire()) == Limits()


async def test_timeouts_on_real_sockets() -> None:
    limits = Limits(idle_timeout=0.3, partial_frame_timeout=0.3)
    async with open_engine() as engine:
        listening = await engine.listen(port=0, limits=limits)
        silent = await trio.open_tcp_stream("127.0.0.1", listening.port)
        silent_id = (await next_event(engine, schema.Accepted)).session_id
        stalled = await trio.open_tcp_stream("127.0.0.1", listening.port)
        stalled_id = (await next_event(engine, schema.Accepted)).session_id
        await stalled.send_all(b"\x05\x00")
        ends: dict[int, schema.Event] = {}
        with trio.fail_after(10):
            async for event in engine.events:
                if isinstance(event, schema.SessionError | schema.Closed):
                    ends.setdefault(event.session_id, event)
                if len(ends) == 2:
                    break
        silent_end, stalled_end = ends[silent_id], ends[stalled_id]
        assert isinstance(silent_end, schema.Closed) and silent_end.by == "local"
        assert silent_end.details["reason"] == "idle: no traffic for 0.3 s"
        assert isinstance(stalled_end, schema.SessionError) and stalled_end.kind == "timeout"
        assert await silent.receive_some(10) == b""
        await stalled.aclose()
