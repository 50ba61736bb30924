"""The Trio engine over real sockets on 127.0.0.1 (port 0), with tiny in-test servers."""

from __future__ import annotations

import errno
import gc
import socket
import weakref

import pytest
import trio
import trio.testing

from engine import (
    PRESETS,
    SHUTDOWN_GRACE_SECONDS,
    ConnectFailed,
    Engine,
    EngineError,
    EngineStatistics,
    FrameDecoder,
    FramingSpec,
    SessionBroken,
    SessionClosed,
    TooManySessions,
    UnknownSession,
    encode_frame,
    encode_frames,
    open_engine,
)
from engine.streams import connect_failure
from ipc import schema
from ipc.errors import LocalProtocolError
from tests.engine.helpers import (
    echo,
    echo_with,
    events_until_closed,
    next_event,
    refused_port,
    reply_then_close,
    reset,
    session_tasks,
    sleep_forever,
    start_server,
    thread_echo_server,
    unanswered_port,
    until_client_leaves,
)

# Every I/O test gets an absolute deadline, so a hang fails loudly instead of timing out
# the whole run.
DEADLINE_SECONDS = 10


async def test_connect_send_receive_close_emits_events_in_order(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port, label="first")
            await engine.send(sid, [b"hello", b"world"])
            got: list[bytes] = []
            events = []
            while len(got) < 2:
                event = await next_event(engine, schema.Event)
                events.append(event)
                if isinstance(event, schema.Received):
                    got += event.frames
            assert got == [b"re:hello", b"re:world"]
            connecting, connected, sent = events[:3]
            assert isinstance(connecting, schema.Connecting)
            assert connecting == schema.Connecting(
                session_id=sid,
                host="127.0.0.1",
                port=port,
                framing=PRESETS["le32"].to_wire(),
                label="first",
                at=connecting.at,
            )
            assert isinstance(connected, schema.Connected)
            assert connected.peer == f"127.0.0.1:{port}"
            assert connected.local.startswith("127.0.0.1:")
            assert isinstance(sent, schema.Sent)
            assert sent.frames == [b"hello", b"world"]
            last = events[-1]
            assert isinstance(last, schema.Received)
            assert connecting.at <= connected.at <= sent.at <= last.at

            (listed,) = engine.sessions()
            assert set(listed) == {
                "session_id", "label", "host", "port", "state", "framing",
                "frames_in", "bytes_in", "frames_out", "bytes_out", "opened_at", "local", "peer",
                "role",
            }  # fmt: skip
            assert listed["role"] == "connect"
            assert (listed["local"], listed["peer"]) == (connected.local, connected.peer)
            assert listed["state"] == "connected"
            assert (listed["frames_in"], listed["bytes_in"]) == (2, 16)
            assert (listed["frames_out"], listed["bytes_out"]) == (2, 10)
            assert engine.describe(sid) == listed

            await engine.close(sid)
            closed = await next_event(engine, schema.Closed)
            assert closed == schema.Closed(
                session_id=sid,
                by="local",
                frames_in=2,
                bytes_in=16,
                frames_out=2,
                bytes_out=10,
                at=closed.at,
            )
            assert engine.sessions() == []
            assert engine.describe(sid) is None
            with pytest.raises(UnknownSession):
                engine.describe(sid + 1)
            assert engine.statistics() == EngineStatistics(
                sessions=0, frames_in=2, bytes_in=16, frames_out=2, bytes_out=10
            )
            with pytest.raises(SessionClosed):
                await engine.send(sid, [b"late"])
            await engine.close(sid)  # closing twice is not an error


async def test_a_requests_sent_event_always_precedes_its_replys_received() -> None:
    # The echo peer is a thread (outside trio's scheduler), so it answers as soon as the
    # bytes land; if Sent were emitted after the write, the reply's Received could win
    # the race (the log would show the answer before the question).
    port = thread_echo_server()
    rounds = 200
    order: list[tuple[str, bytes]] = []
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)

            async def consume() -> None:
                async for event in engine.events:
                    if isinstance(event, schema.Sent):
                        order.extend(("out", f) for f in event.frames)
                    elif isinstance(event, schema.Received):
                        order.extend(("in", f) for f in event.frames)
                        if event.frames[-1] == b"re:%d" % (rounds - 1):
                            return

            async with trio.open_nursery() as inner:
                inner.start_soon(consume)
                for i in range(rounds):
                    await engine.send(sid, [b"%d" % i])
    for i in range(rounds):
        assert order.index(("out", b"%d" % i)) < order.index(("in", b"re:%d" % i))


async def test_non_default_framing_is_used_both_ways(nursery: trio.Nursery) -> None:
    spec = FramingSpec(length_size=2, byte_order="big")
    received = []

    async def handler(stream: trio.SocketStream) -> None:
        data = await stream.receive_some(100)
        received.append(data)
        await stream.send_all(data + encode_frame(b"two", spec))

    port = await start_server(nursery, handler)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port, framing=spec)
            await engine.send(sid, [b"one"])
            event = await next_event(engine, schema.Received)
            assert event.frames == [b"one", b"two"]
            assert received == [b"\x00\x03one"]


async def test_refused_port_raises_connect_failed_and_emits_it() -> None:
    sock, port = refused_port()
    with sock, trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            with pytest.raises(ConnectFailed) as info:
                await engine.connect("127.0.0.1", port)
            assert info.value.reason == "refused"
            assert "refused" in str(info.value)
            connecting = await next_event(engine, schema.Event)
            assert isinstance(connecting, schema.Connecting)
            failed = await next_event(engine, schema.Event)
            assert isinstance(failed, schema.ConnectFailed)
            assert failed == schema.ConnectFailed(
                session_id=connecting.session_id,
                reason="refused",
                message=str(info.value),
                at=failed.at,
            )
            assert engine.sessions() == []


async def test_host_name_that_cannot_be_encoded_fails_as_dns_and_leaves_the_engine_up() -> None:
    # trio IDNA-encodes the host before resolving; a 64-byte label makes that raise
    # UnicodeError (not an OSError), which must still be this session's ConnectFailed.
    host = "a" * 64 + ".invalid"
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            with pytest.raises(ConnectFailed) as info:
                await engine.connect(host, 80)
            assert info.value.reason == "dns"
            assert host in str(info.value)
            await next_event(engine, schema.Connecting)
            failed = await next_event(engine, schema.ConnectFailed)
            assert (failed.reason, failed.message) == ("dns", str(info.value))
            assert engine.sessions() == []


async def test_connect_timeout_with_autojump_clock(autojump_clock: trio.testing.MockClock) -> None:
    with unanswered_port() as port:
        async with open_engine() as engine:
            start = trio.current_time()
            with pytest.raises(ConnectFailed) as info:
                await engine.connect("127.0.0.1", port, connect_timeout=7.5)
            assert trio.current_time() - start == pytest.approx(7.5)
            assert info.value.reason == "timeout"
            assert "timed out after 7.5 s" in str(info.value)
            await next_event(engine, schema.Connecting)
            failed = await next_event(engine, schema.ConnectFailed)
            assert failed.reason == "timeout"


async def test_each_caller_of_a_failed_connect_gets_its_own_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # One exception object raised in several tasks would share (and mix) its traceback.
    errors: list[ConnectFailed] = []

    async def connect(engine: Engine) -> None:
        with pytest.raises(ConnectFailed) as info:
            await engine.connect("127.0.0.1", port, connect_timeout=5)
        errors.append(info.value)

    async def send(engine: Engine, session_id: int) -> None:
        with pytest.raises(ConnectFailed) as info:
            await engine.send(session_id, [b"early"])
        errors.append(info.value)

    with unanswered_port() as port:
        async with open_engine() as engine, trio.open_nursery() as inner:
            inner.start_soon(connect, engine)
            connecting = await next_event(engine, schema.Connecting)
            inner.start_soon(send, engine, connecting.session_id)
            inner.start_soon(send, engine, connecting.session_id)
            await next_event(engine, schema.ConnectFailed)
        assert len(errors) == 3
        assert len({id(error) for error in errors}) == 3
        assert {(error.reason, str(error)) for error in errors} == {
            (errors[0].reason, str(errors[0]))
        }


async def test_close_while_connecting_ends_the_attempt(nursery: trio.Nursery) -> None:
    with unanswered_port() as port:
        with trio.fail_after(DEADLINE_SECONDS):
            async with open_engine() as engine:

                async def connect() -> None:
                    with pytest.raises(SessionClosed):
                        await engine.connect("127.0.0.1", port)

                async with trio.open_nursery() as inner:
                    inner.start_soon(connect)
                    connecting = await next_event(engine, schema.Connecting)
                    assert engine.sessions()[0]["state"] == "connecting"
                    await engine.close(connecting.session_id)
                closed = await next_event(engine, schema.Closed)
                assert (closed.session_id, closed.by) == (connecting.session_id, "local")


async def test_cancelling_connect_ends_the_attempt_before_the_caller_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with unanswered_port() as port:
        async with open_engine() as engine:
            with trio.move_on_after(3) as timer:
                await engine.connect("127.0.0.1", port, connect_timeout=60)
            assert timer.cancelled_caught
            # The session is over by the time the cancelled connect has returned.
            assert engine.sessions() == []
            connecting = await next_event(engine, schema.Connecting)
            closed = await next_event(engine, schema.Closed, schema.ConnectFailed)
            assert isinstance(closed, schema.Closed)
            assert (closed.session_id, closed.by) == (connecting.session_id, "shutdown")
            with pytest.raises(SessionClosed):
                await engine.send(connecting.session_id, [b"late"])


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timeout"),
        (OSError(errno.EACCES, "Permission denied"), "error"),
    ],
)
def test_connect_errors_map_to_reasons(error: OSError, reason: str) -> None:
    # trio wraps per-address failures: OSError("all attempts ... failed") from a group.
    wrapped = OSError("all attempts to connect to example:1 failed")
    wrapped.__cause__ = ExceptionGroup("all attempts failed", [error])
    for exc in (error, wrapped):
        got, message = connect_failure(exc, "example", 1)
        assert got == reason
        assert "example" in message


async def test_peer_closing_at_a_frame_boundary_is_closed_by_peer(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(encode_frames([b"a", b"b"])))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            events = await events_until_closed(engine, sid)
            frames = [f for e in events if isinstance(e, schema.Received) for f in e.frames]
            assert frames == [b"a", b"b"]
            closed = events[-1]
            assert isinstance(closed, schema.Closed) and closed.by == "peer"
            assert not any(isinstance(e, schema.SessionError) for e in events)
            with pytest.raises(SessionBroken, match="closed by the peer"):
                await engine.send(sid, [b"late"])


@pytest.mark.parametrize(
    ("data", "kind", "message", "frames_before"),
    [
        (encode_frame(b"ok") + b"\x05\x00\x00\x00he", "truncated_frame", "2 of 5", [b"ok"]),
        (encode_frame(b"ok") + b"\xff\xff\xff\xff" + b"x" * 10, "frame_too_large",
         "frame length 4294967295 > max", [b"ok"]),
    ],
)  # fmt: skip
async def test_bad_peer_becomes_session_error_then_closed(
    nursery: trio.Nursery, data: bytes, kind: str, message: str, frames_before: list[bytes]
) -> None:
    port = await start_server(nursery, reply_then_close(data))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            events = await events_until_closed(engine, sid)
            frames = [f for e in events if isinstance(e, schema.Received) for f in e.frames]
            assert frames == frames_before
            error, closed = events[-2:]
            assert isinstance(error, schema.SessionError)
            assert error.kind == kind
            assert message in error.message
            assert isinstance(closed, schema.Closed) and closed.by == "error"
            with pytest.raises(SessionBroken, match=message):
                await engine.send(sid, [b"late"])


async def test_oversize_frame_is_refused_with_a_small_max_while_open(nursery: trio.Nursery) -> None:
    # The peer keeps the connection open: the error must not wait for more data.
    async def handler(stream: trio.SocketStream) -> None:
        await stream.send_all(encode_frame(b"fine") + b"\x00\x10\x00\x00")
        await trio.sleep_forever()

    port = await start_server(nursery, handler)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port, framing=FramingSpec(max_frame_length=16))
            events = await events_until_closed(engine, sid)
            assert [type(e) for e in events[-3:]] == [
                schema.Received,
                schema.SessionError,
                schema.Closed,
            ]
            error = events[-2]
            assert isinstance(error, schema.SessionError)
            assert error.message == "frame length 4096 > max 16"


async def test_peer_reset_is_reported_as_reset(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reset)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            events = await events_until_closed(engine, sid)
            error, closed = events[-2:]
            assert isinstance(error, schema.SessionError)
            assert error.kind == "reset"
            assert isinstance(closed, schema.Closed) and closed.by == "error"
            with pytest.raises(SessionBroken) as info:
                await engine.send(sid, [b"x"])
            assert info.value.__cause__ is not None


async def test_unknown_session_and_oversize_send_are_refused(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo_with(PRESETS["u8"]))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            with pytest.raises(UnknownSession):
                await engine.send(42, [b"x"])
            with pytest.raises(UnknownSession):
                await engine.close(42)
            sid = await engine.connect("127.0.0.1", port, framing=PRESETS["u8"])
            with pytest.raises(LocalProtocolError, match="does not fit a 1-byte"):
                await engine.send(sid, [b"ok", b"x" * 256])
            await engine.send(sid, [b"still usable"])
            assert (await next_event(engine, schema.Received)).frames == [b"re:still usable"]


async def test_max_sessions_is_enforced(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine(max_sessions=1) as engine:
            await engine.connect("127.0.0.1", port)
            with pytest.raises(TooManySessions):
                await engine.connect("127.0.0.1", port)


async def test_closing_one_session_cancels_its_tasks_and_leaves_others_running(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            a = await engine.connect("127.0.0.1", port)
            b = await engine.connect("127.0.0.1", port)
            await engine.send(a, [b"a"])
            await engine.send(b, [b"b"])
            assert len(session_tasks(engine)) == 2  # spoken to: each in its task
            await engine.close(a)
            closed = await next_event(engine, schema.Closed)
            assert closed.session_id == a
            assert len(session_tasks(engine)) == 1
            await engine.send(b, [b"alive"])
            frames = []
            while b"re:alive" not in frames:
                received = await next_event(engine, schema.Received)
                assert received.session_id == b
                frames += received.frames


async def test_an_idle_session_is_no_task_and_keeps_nothing_of_its_caller(
    nursery: trio.Nursery,
) -> None:
    # Thousands of idle sessions cost what one costs: no task while it dozes (its socket
    # waits in the engine's watcher), its task and nursery once spoken to, the writer
    # only once something is sent, and no reference to the task that opened it.
    port = await start_server(nursery, echo)
    callers: list[weakref.ref[trio.lowlevel.Task]] = []
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:

            async def connect() -> None:
                callers.append(weakref.ref(trio.lowlevel.current_task()))
                await engine.connect("127.0.0.1", port)

            async with trio.open_nursery() as inner:
                inner.start_soon(connect)
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            assert callers[0]() is None
            assert session_tasks(engine) == []
            sid = await next_event(engine, schema.Connected)
            await engine.send(sid.session_id, [b"now"])
            (task,) = session_tasks(engine)
            (session_nursery,) = task.child_nurseries
            assert len(session_nursery.child_tasks) == 1  # the writer
            received = await next_event(engine, schema.Received)
            assert received.frames == [b"re:now"]
            await engine.close(sid.session_id)
            assert (await next_event(engine, schema.Closed)).by == "local"
            assert session_tasks(engine) == []


async def test_a_send_issued_while_connecting_is_written_once_connected(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        # No event buffer: the session waits for each event to be taken, so the send
        # below is queued before the session has a nursery to start its writer in.
        async with open_engine(event_buffer=0) as engine, trio.open_nursery() as inner:
            inner.start_soon(engine.connect, "127.0.0.1", port)
            connecting = await next_event(engine, schema.Connecting)
            inner.start_soon(engine.send, connecting.session_id, [b"early"])
            await trio.testing.wait_all_tasks_blocked()
            await next_event(engine, schema.Connected)
            sent = await next_event(engine, schema.Sent)
            assert sent.frames == [b"early"]
            received = await next_event(engine, schema.Received)
            assert received.frames == [b"re:early"]


async def test_a_host_name_is_resolved_then_connected(nursery: trio.Nursery) -> None:
    # Numeric addresses are connected directly; names still go through the resolver.
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("localhost", port)
            connected = await next_event(engine, schema.Connected)
            assert (connected.session_id, connected.peer) == (sid, f"127.0.0.1:{port}")


async def test_a_failing_session_does_not_cancel_its_siblings(nursery: trio.Nursery) -> None:
    good = await start_server(nursery, echo)
    bad = await start_server(nursery, reply_then_close(b"\xff\xff\xff\xff"))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            a = await engine.connect("127.0.0.1", good)
            b = await engine.connect("127.0.0.1", bad)
            closed = await next_event(engine, schema.Closed)
            assert (closed.session_id, closed.by) == (b, "error")
            await engine.send(a, [b"alive"])
            received = await next_event(engine, schema.Received)
            assert (received.session_id, received.frames) == (a, [b"re:alive"])
            assert [s["session_id"] for s in engine.sessions()] == [a]


async def test_a_peer_that_never_reads_makes_send_wait_until_aborted(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, sleep_forever)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            chunk = [b"x" * (1 << 20)]
            sends = 0

            async def flood() -> None:
                nonlocal sends
                with pytest.raises(SessionClosed):
                    while True:
                        await engine.send(sid, chunk)
                        sends += 1

            async def drain() -> None:
                async for _ in engine.events:
                    pass

            async with trio.open_nursery() as inner:
                inner.start_soon(drain)
                inner.start_soon(flood)
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                stuck_at = sends
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                assert sends == stuck_at < 64  # kernel buffers, not our memory, hold the rest
                await engine.abort(sid)
                inner.cancel_scope.cancel()


async def test_abort_sends_a_reset_to_the_peer(nursery: trio.Nursery) -> None:
    peer_error: list[BaseException | None] = []
    done = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        try:
            await stream.receive_some(10)
        except trio.BrokenResourceError as exc:
            peer_error.append(exc.__cause__)
        done.set()

    port = await start_server(nursery, handler)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            await trio.testing.wait_all_tasks_blocked()
            await engine.abort(sid)
            closed = await next_event(engine, schema.Closed)
            assert closed.by == "abort"
            await done.wait()
            assert isinstance(peer_error[0], ConnectionResetError)


@pytest.mark.serial
async def test_shutdown_finishes_within_its_deadline_while_sessions_receive(
    nursery: trio.Nursery,
) -> None:
    @until_client_leaves
    async def stream_forever(stream: trio.SocketStream) -> None:
        block = encode_frames([b"s" * 100] * 1000)
        while True:
            await stream.send_all(block)

    port = await start_server(nursery, stream_forever)
    closed: list[schema.Closed] = []

    async def consume(engine: Engine) -> None:
        async for event in engine.events:
            if isinstance(event, schema.Closed):
                closed.append(event)

    with trio.fail_after(SHUTDOWN_GRACE_SECONDS + 2):
        async with trio.open_nursery() as inner:
            async with open_engine() as engine:
                inner.start_soon(consume, engine)
                ids = [await engine.connect("127.0.0.1", port) for _ in range(3)]
                await next_event(engine, schema.Received)  # they are mid-receive
                start = trio.current_time()
            assert trio.current_time() - start < SHUTDOWN_GRACE_SECONDS
    assert sorted((c.session_id, c.by) for c in closed) == [(i, "shutdown") for i in ids]


async def test_shutdown_keeps_its_deadline_when_the_consumer_stopped(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    @until_client_leaves
    async def stream_forever(stream: trio.SocketStream) -> None:
        while True:
            await stream.send_all(encode_frame(b"s" * 1000))

    port = await start_server(nursery, stream_forever)
    async with open_engine(event_buffer=1) as engine:

        async def consume_until_both_connected() -> None:
            for _ in range(2):
                await next_event(engine, schema.Connected)
            # then stop reading for good

        async with trio.open_nursery() as inner:
            inner.start_soon(consume_until_both_connected)
            await engine.connect("127.0.0.1", port)
            await engine.connect("127.0.0.1", port)
        await trio.testing.wait_all_tasks_blocked()  # the channel is full, nobody reads
        start = trio.current_time()
    assert trio.current_time() - start <= SHUTDOWN_GRACE_SECONDS + 0.1


async def test_backpressure_bounds_memory_and_loses_nothing(nursery: trio.Nursery) -> None:
    frame_size = 1000
    total_frames = 40_000  # 40 MB: far more than the engine may hold
    sent_bytes = 0

    @until_client_leaves
    async def numbered(stream: trio.SocketStream) -> None:
        nonlocal sent_bytes
        for start in range(0, total_frames, 100):
            block = encode_frames(
                [n.to_bytes(4, "big") + b"x" * (frame_size - 4) for n in range(start, start + 100)]
            )
            await stream.send_all(block)
            sent_bytes += len(block)

    port = await start_server(nursery, numbered)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine(event_buffer=2) as engine:
            sid = await engine.connect("127.0.0.1", port)
            # The consumer stops reading: the engine must stop reading the socket too.
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            first = sent_bytes
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            assert sent_bytes == first, "the server kept going: someone buffers without bound"
            assert sent_bytes < 16 * 1024 * 1024
            # Resume: every frame arrives, in order.
            expected = 0
            async for event in engine.events:
                if isinstance(event, schema.Received):
                    for frame in event.frames:
                        assert int.from_bytes(frame[:4], "big") == expected
                        assert len(frame) == frame_size
                        expected += 1
                    if expected == total_frames:
                        break
            assert engine.statistics().frames_in == total_frames
            await engine.close(sid)


async def test_close_flushes_queued_sends_before_closing(nursery: trio.Nursery) -> None:
    got: list[bytes] = []
    peer_done = trio.Event()
    reading = trio.Event()

    async def slow_reader(stream: trio.SocketStream) -> None:
        decoder = FrameDecoder()
        await reading.wait()  # let the sends queue up first
        async for data in stream:
            got.extend(decoder.feed(data))
        peer_done.set()

    port = await start_server(nursery, slow_reader)
    frames = [bytes([n]) * 1_000_000 for n in range(16)]  # more than the socket buffers hold
    completed = 0

    async def send(engine: Engine, sid: int, frame: bytes) -> None:
        nonlocal completed
        await engine.send(sid, [frame])
        completed += 1

    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            async with trio.open_nursery() as senders:
                for frame in frames:
                    senders.start_soon(send, engine, sid, frame)
                    await trio.testing.wait_all_tasks_blocked()
                assert completed < len(frames)  # some sends are still queued
                async with trio.open_nursery() as closer:
                    closer.start_soon(engine.close, sid)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(SessionClosed, match="closing"):
                        await engine.send(sid, [b"too late"])
                    reading.set()
            await peer_done.wait()
            assert completed == len(frames)
            assert sorted(got) == frames
            closed = await next_event(engine, schema.Closed)
            assert (closed.by, closed.frames_out) == ("local", len(frames))


async def test_engine_refuses_new_sessions_once_closed(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            await engine.connect("127.0.0.1", port)
            await engine.aclose()
            await engine.aclose()  # idempotent
            with pytest.raises(EngineError, match="shutting down"):
                await engine.connect("127.0.0.1", port)
        assert [e async for e in engine.events if isinstance(e, schema.Closed)] != []


async def test_an_exception_from_the_body_comes_out_one_group_deep(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        with pytest.RaisesGroup(ValueError):
            async with open_engine() as engine:
                await engine.connect("127.0.0.1", port)
                raise ValueError("from the body")


async def test_a_consumer_outside_the_block_sees_the_end_when_the_body_raises(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, echo)
    closed: list[schema.Closed] = []

    async def consume(events: trio.MemoryReceiveChannel[schema.Event]) -> None:
        closed.extend([event async for event in events if isinstance(event, schema.Closed)])

    with trio.fail_after(DEADLINE_SECONDS):
        async with trio.open_nursery() as outer:
            with pytest.RaisesGroup(ValueError):
                async with open_engine() as engine:
                    outer.start_soon(consume, engine.events)
                    await engine.connect("127.0.0.1", port)
                    raise ValueError("from the body")
    assert [event.by for event in closed] == ["shutdown"]
