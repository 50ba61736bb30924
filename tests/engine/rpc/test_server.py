"""The end of serving: ``shutdown`` answers everything and flushes the last events; EOF
closes the sessions without waiting for a reader."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.rpc.connection import SHUTTING_DOWN
from engine.rpc.server import ENGINE_EVENT_BUFFER, serve_engine
from engine.session import FINAL_EVENT_GRACE_SECONDS
from ipc.codec import (
    MessageDecoder,
    Notification,
    Response,
    encode_request,
)
from ipc.rpc import CommandFailed
from ipc.schema import Close, Closed, ListSessions, Open, Ping, Send, Sent
from ipc.trio_channel import open_engine_process
from tests.engine.rpc.helpers import open_echo_session
from tests.ipc.helpers import open_raw_engine
from tools.demo_server import serve_demo


async def test_shutdown_answers_then_exits(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(20):
        async with open_raw_engine() as engine:
            await open_echo_session(engine, port)
            response = await engine.call(5, "shutdown", {})
            assert response.error is None and response.result == {}
            methods = []
            while (msg := await engine.next_message()) is not None:
                if isinstance(msg, Notification):
                    methods.append(msg.method)
            assert "closed" in methods  # the session was closed and the event flushed
            assert await engine.process.wait() == 0


async def test_shutdown_answers_every_request_and_flushes_more_than_a_window(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # The peer accepts and never reads: a 16 MB send cannot finish (far more than both
    # sockets' buffers), and a graceful close waits behind it. Shutdown cancels both;
    # each must still get an answer, not wait for a reply that never comes. The send's
    # `sent` events (16 MB) are four times the credit window: flushing them before the
    # engine exits needs the controller's acks, so the engine must keep reading them.
    port = await nursery.start(functools.partial(serve_demo, stall=True))
    frames = [b"x" * 4_000_000] * 4
    failures: list[CommandFailed] = []
    sent: list[bytes] = []
    closed: list[Closed] = []
    log = tmp_path / "engine-stderr.txt"
    with log.open("wb") as stderr, trio.fail_after(30):
        async with open_engine_process(stderr=stderr.fileno()) as client:
            sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]

            async def blocked(command: Send | Close) -> None:
                with pytest.raises(CommandFailed) as info:
                    await client.call(command)
                failures.append(info.value)

            async def consume_events() -> None:  # until the engine closes its pipe
                async for event in client.events():
                    if isinstance(event, Sent) and event.session_id == sid:
                        sent.extend(event.frames)
                    elif isinstance(event, Closed) and event.session_id == sid:
                        closed.append(event)

            async with trio.open_nursery() as tasks:
                tasks.start_soon(consume_events)
                tasks.start_soon(blocked, Send(session_id=sid, frames=frames))
                await trio.testing.wait_all_tasks_blocked()
                tasks.start_soon(blocked, Close(session_id=sid))
                await trio.testing.wait_all_tasks_blocked()
                await client.shutdown()  # answered: the pipe keeps its request order
                with pytest.raises(CommandFailed) as info:
                    await client.call(ListSessions())  # a request after shutdown
                failures.append(info.value)
                assert (await client.call(Ping(token=5)))["token"] == 5  # answered inline
            assert client.process is not None
            assert await client.process.wait() == 0
    assert [(f.type, f.message) for f in failures] == [
        (SHUTTING_DOWN.type, SHUTTING_DOWN.message)
    ] * 3
    assert sent == frames
    # The session's graceful close waits half the shutdown deadline, then aborts.
    assert [c.by for c in closed] == ["abort"]
    assert "deadline passed" not in log.read_text()


async def test_after_eof_sessions_close_without_waiting_for_a_reader(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    # The clock stands still: a session waiting (FINAL_EVENT_GRACE_SECONDS) to hand its
    # Closed event to a reader that is gone would never finish.
    port = await nursery.start(serve_demo)
    engine_side, controller = trio.testing.memory_stream_pair()
    done = trio.Event()

    async def run_engine() -> None:
        await serve_engine(engine_side, engine_side)
        done.set()

    nursery.start_soon(run_engine)
    count = ENGINE_EVENT_BUFFER * 2 + 1  # more Closed events than the engine buffers
    for msgid in range(count):
        await controller.send_all(
            encode_request(msgid, "open", {"host": "127.0.0.1", "port": port})
        )
    decoder = MessageDecoder()
    answered: set[int] = set()
    while len(answered) < count:
        decoder.receive_data(await controller.receive_some())
        for msg in decoder:
            if isinstance(msg, Response):
                assert msg.error is None, msg.error
                answered.add(msg.msgid)
    await controller.send_stream.aclose()  # EOF, and nobody reads the engine any more
    try:
        await trio.testing.wait_all_tasks_blocked()
        assert done.is_set(), "closing sessions waited for a reader of their last events"
    finally:
        mock_clock.jump(2 * FINAL_EVENT_GRACE_SECONDS + 1)  # let a failed run end
