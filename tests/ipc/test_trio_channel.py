"""The trio controller client against a real ``python -m engine --stdio`` and the demo server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from engine.rpc.handshake import hello
from ipc.codec import (
    MessageDecoder,
    Notification,
    Request,
    encode_notification,
    encode_response,
)
from ipc.errors import ProtocolViolation
from ipc.rpc import ENGINE_ARGS, FRAME_CREDIT_OVERHEAD, CommandFailed
from ipc.schema import (
    Abort,
    Ack,
    Close,
    Closed,
    Event,
    GetApiInfo,
    ListSessions,
    LogLine,
    Open,
    Ping,
    Received,
    Send,
)
from ipc.trio_channel import (
    CONTROL_EVENT_ALLOWANCE,
    EngineClient,
    connect_stream,
    open_engine_process,
)
from tests.ipc.helpers import FakeEngine
from tools.demo_server import CLASSIC_REPLY_PREFIX, serve_demo

FRAME_SIZE = 100


def process_of(client: EngineClient) -> trio.Process:
    """The engine process of a client from ``open_engine_process``."""
    assert client.process is not None
    return client.process


async def frames_of(client: EngineClient, session_id: int, count: int) -> list[bytes]:
    """Collect ``count`` frames received on ``session_id``."""
    frames: list[bytes] = []
    async for event in client.events():
        if isinstance(event, Received) and event.session_id == session_id:
            frames += event.frames
            if len(frames) >= count:
                return frames
    raise AssertionError("events ended early")


async def check_sequence(events: AsyncIterator[Event], session_id: int, count: int) -> None:
    """Every frame 0..count-1 arrives exactly once, in order (sequence-numbered payloads)."""
    expected = 0
    async for event in events:
        if isinstance(event, Received) and event.session_id == session_id:
            for frame in event.frames:
                assert len(frame) == FRAME_SIZE
                assert int.from_bytes(frame[:8], "big") == expected
                expected += 1
            if expected >= count:
                break
    assert expected == count


async def test_classic_exchange_open_send_receive_close(nursery: trio.Nursery) -> None:
    port = await nursery.start(
        lambda task_status: serve_demo(mode="classic", task_status=task_status)
    )
    with trio.fail_after(20):
        async with open_engine_process() as client:
            assert client.hello.pid == process_of(client).pid
            opened = await client.call(Open(host="127.0.0.1", port=port))
            sid = opened["session_id"]
            assert opened["peer"] == f"127.0.0.1:{port}"
            assert await client.call(Send(session_id=sid, frames=[b"hello"])) == {
                "frames": 1,
                "bytes": 5,
            }
            assert await frames_of(client, sid, 1) == [CLASSIC_REPLY_PREFIX + b"hello"]
            assert await client.call(Close(session_id=sid)) == {}
            async for event in client.events():
                if isinstance(event, Closed):
                    assert (event.session_id, event.by, event.frames_in) == (sid, "local", 1)
                    break


async def test_errors_come_back_as_command_failed(nursery: trio.Nursery) -> None:
    with trio.fail_after(20):
        async with open_engine_process() as client:
            with pytest.raises(CommandFailed) as info:
                await client.call(Send(session_id=12345, frames=[b"x"]))
            assert info.value.type == "UnknownSession"
            listener = trio.socket.socket()
            await listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            listener.close()  # nothing listens there now
            with pytest.raises(CommandFailed) as info:
                await client.call(Open(host="127.0.0.1", port=port))
            assert info.value.type == "ConnectFailed" and info.value.data["reason"] == "refused"
            assert (await client.call(Ping(token=3)))["token"] == 3


async def test_many_sessions_at_once(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    sessions = 200
    with trio.fail_after(30):
        async with open_engine_process() as client:
            ids: list[int] = []

            async def open_one(i: int) -> None:
                opened = await client.call(Open(host="127.0.0.1", port=port, label=f"s{i}"))
                ids.append(opened["session_id"])
                await client.call(Send(session_id=opened["session_id"], frames=[b"%d" % i]))

            async with trio.open_nursery() as opens:
                for i in range(sessions):
                    opens.start_soon(open_one, i)
            assert len(set(ids)) == sessions
            listed = (await client.call(ListSessions()))["sessions"]
            assert {s["session_id"] for s in listed} == set(ids)
            echoes: dict[int, bytes] = {}
            async for event in client.events():
                if isinstance(event, Received):
                    echoes[event.session_id] = b"".join(event.frames)
                    if len(echoes) == sessions:
                        break
            labels = {s["session_id"]: s["label"] for s in listed}
            assert all(echoes[sid] == labels[sid][1:].encode() for sid in ids)


async def test_a_million_sequence_numbered_frames_arrive_complete_and_in_order(
    nursery: trio.Nursery,
) -> None:
    count = 1_000_000
    port = await nursery.start(serve_demo)
    with trio.fail_after(60):
        async with open_engine_process() as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            start = time.perf_counter()  # load-safe: printed, not asserted
            await client.call(Send(session_id=sid, frames=[b"!stream %d %d" % (count, FRAME_SIZE)]))
            await check_sequence(client.events(), sid, count)
            elapsed = time.perf_counter() - start  # load-safe: printed, not asserted
            print(
                f"\n{count} frames through the engine and the pipe: {count / elapsed:,.0f} frames/s"
            )


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


#: How often, and how many looks in a row, a process must be seen idle to count as stalled.
STALL_POLL_SECONDS = 0.05
STALL_LOOKS = 10


def asleep_and_cpu_ns(pid: int) -> tuple[bool, int]:
    """Whether ``pid`` sleeps (state S: blocked, not waiting for a CPU) and its CPU time."""
    with open(f"/proc/{pid}/stat") as stat:
        state = stat.read().rpartition(")")[2].split()[0]
    with open(f"/proc/{pid}/schedstat") as schedstat:
        return state == "S", int(schedstat.read().split()[0])


async def wait_stalled(pid: int) -> None:
    """Wait until ``pid`` stops working: asleep, its CPU time unchanged to the nanosecond,
    ``STALL_LOOKS`` looks in a row. Load cannot fake it: a process that waits for a CPU is
    not asleep, and while this task polls, the flood's sender in this process runs too."""
    looks, last = 0, -1
    while looks < STALL_LOOKS:
        await trio.sleep(STALL_POLL_SECONDS)
        asleep, cpu_ns = asleep_and_cpu_ns(pid)
        looks = looks + 1 if asleep and cpu_ns == last else 0
        last = cpu_ns


async def test_stalled_controller_leaves_engine_rss_bounded_and_loses_nothing(  # load-safe: RSS
    nursery: trio.Nursery,  # read once the engine is seen stalled, which load cannot fake
) -> None:
    count = 1_000_000  # 100 MB of frames: far more than every buffer on the way together
    port = await nursery.start(serve_demo)
    with trio.fail_after(60):
        # window_bytes=None: pipe back-pressure only; the reader stops reading the pipe
        # as soon as the small event queue is full, as a hung controller would.
        async with open_engine_process(window_bytes=None) as client:
            pid = process_of(client).pid
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            before = rss_kib(pid)
            await client.call(Send(session_id=sid, frames=[b"!stream %d %d" % (count, FRAME_SIZE)]))
            # The scenario: the controller reads nothing. An engine that buffered the flood
            # would keep reading (and growing) until all 100 MB were in; a bounded one
            # stops once its buffers and the pipe are full.
            await wait_stalled(pid)
            during = rss_kib(pid)
            print(f"\nengine VmRSS: {before} KiB before the flood, {during} KiB once stalled")
            assert during - before < 40 * 1024, "the engine buffered the flood"
            await check_sequence(client.events(), sid, count)


async def test_ping_is_answered_while_a_send_waits_on_a_stalled_peer(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_engine_process() as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            await client.call(Send(session_id=sid, frames=[b"!stall"]))
            blocked = trio.Event()

            async def fill() -> None:
                # The peer never reads: this send waits until the abort below ends it.
                blocked.set()
                with pytest.raises(CommandFailed) as info:
                    await client.call(Send(session_id=sid, frames=[b"x" * 4_000_000] * 4))
                assert info.value.type == "SessionClosed"

            async with trio.open_nursery() as inner:
                inner.start_soon(fill)
                await blocked.wait()
                for token in range(20):
                    assert (await client.call(Ping(token=token)))["token"] == token
                await client.call(Abort(session_id=sid))


@pytest.mark.serial
@pytest.mark.parametrize("flooding", [False, True], ids=["idle", "flooding"])
async def test_closing_the_pipe_ends_the_engine_with_sessions_open(
    nursery: trio.Nursery, flooding: bool
) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_engine_process(window_bytes=None) as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            if flooding:  # the engine's writer is blocked on a full pipe nobody reads
                await client.call(Send(session_id=sid, frames=[b"!stream 10000000"]))
            process = process_of(client)
            assert process.stdin is not None
            await process.stdin.aclose()  # the controller is gone
            start = time.monotonic()
            await process.wait()
        assert process.returncode == 0
        assert time.monotonic() - start < 5
        with pytest.raises(ProcessLookupError):
            os.kill(process.pid, 0)


async def test_connect_stream_works_over_any_trio_stream() -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, *ENGINE_ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdio is not None and process.stdin is not None
    try:
        with trio.fail_after(20):
            async with connect_stream(process.stdio) as client:
                assert client.hello.protocol_version == 1
                info = await client.call(GetApiInfo())
                assert info["methods"] == client.hello.methods
            await process.stdin.aclose()
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_engine_dying_fails_pending_calls_and_ends_events(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_engine_process() as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            await client.call(Send(session_id=sid, frames=[b"!stall"]))
            outcome: list[CommandFailed] = []

            async def blocked_send() -> None:
                with pytest.raises(CommandFailed) as info:
                    await client.call(Send(session_id=sid, frames=[b"z" * 4_000_000] * 4))
                outcome.append(info.value)

            async with trio.open_nursery() as inner:
                inner.start_soon(blocked_send)
                await trio.testing.wait_all_tasks_blocked()
                process_of(client).kill()
            assert outcome[0].type == "EngineGone"
            assert [event async for event in client.events() if isinstance(event, Received)] == []
            with pytest.raises(CommandFailed):
                await client.call(Ping(token=0))


async def test_shutdown_closes_sessions_and_the_engine_exits(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_engine_process() as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
            await client.shutdown()
            closed = [
                e async for e in client.events() if isinstance(e, Closed) and e.session_id == sid
            ]
            assert [c.by for c in closed] == ["local"]
            assert await process_of(client).wait() == 0


async def test_events_already_read_are_handed_out_after_the_engine_died() -> None:
    # A fake engine over memory streams: hello, the flow_control reply, a few data events,
    # then it dies (its end of both directions closed). Handing out those events acks
    # them, and an ack to a dead engine must not turn the end of events into an error.
    window = 4096
    client_end, engine_end = trio.testing.memory_stream_pair()
    frames = [b"x" * (window // 4)]
    decoder = MessageDecoder()

    async def fake_engine() -> None:
        await engine_end.send_all(encode_notification("hello", hello(clock_offset=0.0).to_params()))
        while (request := decoder.next_message()) is None:
            decoder.receive_data(await engine_end.receive_some())
        assert isinstance(request, Request) and request.method == "flow_control"
        await engine_end.send_all(encode_response(request.msgid, None, {"window_bytes": window}))
        for _ in range(3):
            event = Received(session_id=1, frames=frames, at=0.0)
            await engine_end.send_all(encode_notification(event.METHOD, event.to_params()))
        await engine_end.aclose()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fake_engine)
            async with connect_stream(client_end, window_bytes=window) as client:
                got = [event async for event in client.events()]
    assert got == [Received(session_id=1, frames=frames, at=0.0)] * 3


def encoded(event: Event) -> bytes:
    return encode_notification(event.METHOD, event.to_params())


async def test_a_control_event_flood_fills_the_event_queue_to_its_bound_and_no_further() -> None:
    # Control events cost no credit, so the window does not bound them: a consumer that
    # never iterates events() must not let them pile up without bound in the client.
    window = 4096
    bound = window // FRAME_CREDIT_OVERHEAD + 1 + CONTROL_EVENT_ALLOWANCE
    flood = [LogLine(level="info", message=f"line {i}", at=float(i)) for i in range(bound + 1000)]
    fake = FakeEngine()

    async def engine() -> None:
        await fake.handshake(window)
        await fake.send(b"".join(map(encoded, flood)))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine)
            async with connect_stream(fake.client_stream, window_bytes=window) as client:
                await trio.testing.wait_all_tasks_blocked()
                queue = client.statistics()
                assert queue.max_buffer_size == bound
                assert queue.current_buffer_used == bound  # the reader waits for the consumer
                got: list[Event] = []
                async for event in client.events():
                    got.append(event)
                    if len(got) == len(flood):
                        break
                assert got == flood


async def test_a_full_window_of_data_and_the_control_allowance_never_block_the_reader() -> None:
    # The bound leaves room for every data event the window lets through (the smallest
    # cost FRAME_CREDIT_OVERHEAD each, plus one overshoot) on top of the control events:
    # a response behind all of them still reaches its call with nobody consuming events.
    window = 4096
    data = [Received(session_id=1, frames=[b""], at=0.0)] * (window // FRAME_CREDIT_OVERHEAD + 1)
    control = [LogLine(level="info", message="x", at=0.0)] * CONTROL_EVENT_ALLOWANCE
    fake = FakeEngine()

    async def engine() -> None:
        await fake.handshake(window)
        await fake.send(b"".join(map(encoded, [*data, *control])))
        ping = await fake.next_message()
        assert isinstance(ping, Request) and ping.method == "ping"
        await fake.send(encode_response(ping.msgid, None, {"token": 7, "at": 0.0}))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine)
            async with connect_stream(fake.client_stream, window_bytes=window) as client:
                assert (await client.call(Ping(token=7)))["token"] == 7
                assert client.statistics().current_buffer_used == len(data) + len(control)


async def test_a_call_into_a_stopped_engine_times_out_and_works_once_the_engine_resumes() -> None:
    # A stopped engine reads nothing: the pipe fills, and a call's deadline must still
    # reach it, whether its message was taken by the writer or still waits for it.
    with trio.fail_after(30):
        async with open_engine_process() as client:
            process = process_of(client)
            guard_fired = False

            async def resume_at_guard_deadline() -> None:
                # Not a wait for an event but a last resort: a call that cannot be
                # cancelled would hang here for good; resuming the engine ends that hang
                # and the assertion on guard_fired fails the test instead.
                nonlocal guard_fired
                await trio.sleep(10)
                guard_fired = True
                process.send_signal(signal.SIGCONT)

            async with trio.open_nursery() as guard:
                guard.start_soon(resume_at_guard_deadline)
                process.send_signal(signal.SIGSTOP)
                try:
                    # 2 MB, far more than the engine's stdin pipe holds: the writer takes
                    # it and blocks halfway.
                    big = Send(session_id=424242, frames=[b"x" * 1_000_000] * 2)
                    with pytest.raises(trio.TooSlowError), trio.fail_after(0.2):
                        await client.call(big)
                    # This one waits for the writer, and leaves nothing on the pipe.
                    with pytest.raises(trio.TooSlowError), trio.fail_after(0.2):
                        await client.call(Ping(token=1))
                    assert not guard_fired, "a call ignored its deadline until SIGCONT"
                finally:
                    process.send_signal(signal.SIGCONT)
                    guard.cancel_scope.cancel()
            assert (await client.call(Ping(token=2)))["token"] == 2
    assert process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


async def test_messages_reach_the_pipe_whole_in_fifo_order_and_a_cancelled_one_not_at_all() -> None:
    fake = FakeEngine()
    answered: dict[int, int] = {}

    async def ping(client: EngineClient, token: int, scope: trio.CancelScope) -> None:
        with scope:
            answered[token] = (await client.call(Ping(token=token)))["token"]

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fake.handshake, None)
            async with connect_stream(fake.client_stream, window_bytes=None) as client:
                fake.hold_writes()  # the writer blocks on the first message, as on a full pipe
                scopes = [trio.CancelScope() for _ in range(5)]
                async with trio.open_nursery() as callers:
                    for token, scope in enumerate(scopes):
                        callers.start_soon(ping, client, token, scope)
                        await trio.testing.wait_all_tasks_blocked()
                    scopes[2].cancel()
                    await trio.testing.wait_all_tasks_blocked()
                    fake.release_writes()
                    tokens: list[int] = []
                    for _ in range(4):
                        request = await fake.next_message()
                        assert isinstance(request, Request) and request.method == "ping"
                        tokens.append(request.params["token"])
                        result = {"token": request.params["token"], "at": 0.0}
                        await fake.send(encode_response(request.msgid, None, result))
                assert tokens == [0, 1, 3, 4]
                assert answered == {0: 0, 1: 1, 3: 3, 4: 4}
                assert scopes[2].cancelled_caught


async def test_a_broken_pipe_fails_waiting_calls_and_blocked_senders_with_engine_gone() -> None:
    fake = FakeEngine()
    failures: list[str] = []

    async def ping(client: EngineClient, token: int) -> None:
        with pytest.raises(CommandFailed) as info:
            await client.call(Ping(token=token))
        failures.append(info.value.type)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fake.handshake, None)
            async with connect_stream(fake.client_stream, window_bytes=None) as client:
                async with trio.open_nursery() as callers:
                    callers.start_soon(ping, client, 0)  # written; waits for its response
                    await fake.next_message()
                    fake.hold_writes()
                    callers.start_soon(ping, client, 1)  # taken by the writer, stuck writing
                    await trio.testing.wait_all_tasks_blocked()
                    callers.start_soon(ping, client, 2)  # waits for the writer
                    await trio.testing.wait_all_tasks_blocked()
                    fake.break_writes()  # the engine's end of the pipe is gone
                assert failures == ["EngineGone"] * 3
                with pytest.raises(CommandFailed) as info:
                    await client.notify(Ack(nbytes=1))
                assert info.value.type == "EngineGone"


async def test_acks_go_through_the_writer_and_survive_a_cancelled_hand_off() -> None:
    window = 4096
    # Each event costs more than a quarter of the window: every one is worth an ack.
    data = [Received(session_id=1, frames=[b"x" * (window // 4)], at=float(i)) for i in range(3)]
    cost = window // 4 + FRAME_CREDIT_OVERHEAD
    fake = FakeEngine()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fake.handshake, window)
            async with connect_stream(fake.client_stream, window_bytes=window) as client:
                await fake.send(b"".join(map(encoded, data)))
                fake.hold_writes()
                events = client.events()
                # Asking for the second event hands the first ack to the writer, which
                # then blocks writing it.
                got = [await anext(events), await anext(events)]
                async with trio.open_nursery() as consumer:
                    # The second ack waits for the writer; cancelled there, it stays owed.
                    consumer.start_soon(anext, events)
                    await trio.testing.wait_all_tasks_blocked()
                    consumer.cancel_scope.cancel()
                fake.release_writes()
                async for event in client.events():
                    got.append(event)
                    break
                acks = [await fake.next_message() for _ in range(2)]
    assert got == data
    assert acks == [Notification("ack", {"nbytes": cost})] * 2


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions in ``group`` and its nested groups."""
    return [
        leaf
        for exc in group.exceptions
        for leaf in (leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    ]


async def test_a_size_bomb_from_the_engine_ends_the_client_at_its_header() -> None:
    # A received notification whose frame declares 4 GiB: refused when the header
    # arrives (the fake engine then keeps the pipe open and quiet); waiting calls fail
    # with EngineGone saying why.
    fake = FakeEngine()
    bomb = b"\x93\x02\xa8received\x91\x81\xa6frames\x91\xc6\xff\xff\xff\xff"
    failures: list[CommandFailed] = []

    async def ping(client: EngineClient) -> None:
        with pytest.raises(CommandFailed) as info:
            await client.call(Ping(token=1))
        failures.append(info.value)

    with trio.fail_after(10), pytest.raises(ExceptionGroup) as group:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fake.handshake, None)
            async with connect_stream(fake.client_stream, window_bytes=None) as client:
                nursery.start_soon(ping, client)
                await fake.next_message()
                await fake.send(bomb)
                await trio.sleep_forever()  # ended by the reader's error
    (violation,) = leaves(group.value)
    assert isinstance(violation, ProtocolViolation)
    assert (violation.kind, violation.offset) == ("too_large", fake.sent - len(bomb) + 21)
    assert [f.type for f in failures] == ["EngineGone"]
    assert "broke the IPC stream" in failures[0].message
