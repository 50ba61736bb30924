"""``python -m engine --stdio`` on bad input: each kind gets an error response (with a
msgid) or a stderr line (without), and the engine and its other sessions keep going."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest
import trio
import trio.testing

from engine.rpc_server import (
    ENGINE_EVENT_BUFFER,
    MAX_NOTIFICATION_PAYLOAD_BYTES,
    MAX_QUEUED_CONTROL_BYTES,
    SHUTTING_DOWN,
    api_info,
    serve_engine,
)
from engine.session import FINAL_EVENT_GRACE_SECONDS
from ipc.codec import (
    MAX_MESSAGE_BYTES,
    MAX_STR_LEN,
    MessageDecoder,
    Notification,
    Response,
    encode_request,
    encode_response,
)
from ipc.rpc import CommandFailed, frames_credit
from ipc.schema import EVENTS, PROTOCOL_VERSION, Close, Closed, ListSessions, Open, Ping, Send, Sent
from ipc.trio_channel import open_engine_process
from tests.ipc.helpers import RawEngine, open_raw_engine
from tools.demo_server import serve_demo


async def open_echo_session(engine: RawEngine, port: int) -> int:
    response = await engine.call(1000, "open", {"host": "127.0.0.1", "port": port})
    assert response.error is None
    session_id: int = response.result["session_id"]
    return session_id


async def assert_still_serving(engine: RawEngine, session_id: int, msgid: int) -> None:
    """The engine answers a ping and the earlier session still echoes."""
    pong = await engine.call(msgid, "ping", {"token": msgid})
    assert pong.error is None and pong.result["token"] == msgid
    sent = await engine.call(msgid + 1, "send", {"session_id": session_id, "frames": [b"still"]})
    assert sent.error is None
    while True:
        # The echo may have come before the send's response (kept in notifications).
        for n in engine.notifications:
            if n.method == "received" and n.params["frames"] == [b"still"]:
                return
        msg = await engine.next_message()
        assert msg is not None
        if isinstance(msg, Notification):
            engine.notifications.append(msg)


@pytest.fixture
async def setup(
    nursery: trio.Nursery, tmp_path: Path
) -> AsyncIterator[tuple[RawEngine, int, Path]]:
    """An engine (stderr to a file) with one live echo session."""
    port = await nursery.start(serve_demo)
    log = tmp_path / "engine-stderr.txt"
    with log.open("wb") as stderr:
        async with open_raw_engine(stderr=stderr.fileno()) as engine:
            session_id = await open_echo_session(engine, port)
            yield engine, session_id, log


#: What ``setup`` yields: the engine, its echo session, its stderr file.
Setup = tuple[RawEngine, int, Path]

# (what, bytes to write, msgid answered or None, error type)
BAD_REQUESTS = [
    ("unknown method", encode_request(7, "frobnicate", {}), 7, "UnknownMethod"),
    (
        "wrong types",
        encode_request(7, "open", {"host": 5, "port": "eighty"}),
        7,
        "SchemaError",
    ),
    ("params not an array", msgpack.packb([0, 7, "ping", "x"]), 7, "BadMessage"),
    ("missing field", encode_request(7, "send", {"frames": []}), 7, "SchemaError"),
    (
        "bad session id",
        encode_request(7, "send", {"session_id": 424242, "frames": [b"x"]}),
        7,
        "UnknownSession",
    ),
    ("bad framing", encode_request(7, "open", {"host": "h", "port": 1, "framing": "?"}), 7, None),
    (
        "port 0",  # bad input from the pipe: a SchemaError, not our LocalProtocolError
        encode_request(7, "open", {"host": "127.0.0.1", "port": 0}),
        7,
        "SchemaError",
    ),
    (
        "host no DNS name can be",  # a 64-byte label: trio's IDNA encoding raises UnicodeError
        encode_request(7, "open", {"host": "a" * 64 + ".invalid", "port": 1}),
        7,
        "ConnectFailed",
    ),
    (
        "oversize message",
        msgpack.packb([0, 7, "send", [{"session_id": 1, "frames": [b"y" * 2**20] * 17}]]),
        7,
        "BadMessage",
    ),
    ("deep nesting", b"\x94\x00\x07\xa4ping" + b"\x91" * 5000 + b"\x80", 7, "BadMessage"),
]


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [pytest.param(raw, err, id=what) for what, raw, _, err in BAD_REQUESTS],
)
async def test_bad_request_gets_an_error_response_and_nothing_else_breaks(
    setup: Setup, raw: bytes, error_type: str | None
) -> None:
    engine, session_id, _ = setup
    with trio.fail_after(30):
        assert len(raw) <= MAX_MESSAGE_BYTES or error_type == "BadMessage"
        await engine.write(raw)
        response = await engine.response(7)
        assert response.error is not None
        if error_type is not None:
            assert response.error.type == error_type, response.error
        await assert_still_serving(engine, session_id, 10)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xc1\xc1\xc1 garbage bytes \xff\x00", id="garbage bytes"),
        pytest.param(msgpack.packb([2, "no_such_notification", [{}]]), id="unknown notification"),
        pytest.param(msgpack.packb([2, "ack", [{"nbytes": "lots"}]]), id="ack with wrong types"),
        pytest.param(msgpack.packb("just a string"), id="not an array"),
        pytest.param(msgpack.packb([1, 5, None, {}]), id="a response from the controller"),
    ],
)
async def test_bad_input_without_msgid_is_a_stderr_line_and_nothing_else_breaks(
    setup: Setup, raw: bytes
) -> None:
    engine, session_id, log = setup
    with trio.fail_after(30):
        await engine.write(raw)
        await assert_still_serving(engine, session_id, 20)
    assert "framewire-engine:" in log.read_text()
    assert any(word in log.read_text() for word in ("bad message", "ignoring")), log.read_text()


async def test_truncated_message_then_eof_is_logged_and_the_engine_exits_cleanly(
    tmp_path: Path,
) -> None:
    log = tmp_path / "engine-stderr.txt"
    with log.open("wb") as stderr, trio.fail_after(20):
        async with open_raw_engine(stderr=stderr.fileno()) as engine:
            await engine.write(encode_request(3, "ping", {"token": 1})[:-3])
            assert engine.process.stdin is not None
            await engine.process.stdin.aclose()
            assert await engine.process.wait() == 0
    assert "mid-message" in log.read_text()


async def test_a_result_too_large_for_one_message_is_an_error_response(
    nursery: trio.Nursery,
) -> None:
    # Labels are the controller's own strings: enough long ones make the session list
    # larger than one IPC message may be.
    port = await nursery.start(serve_demo)
    label = "x" * (MAX_STR_LEN - 16)
    with trio.fail_after(30):
        async with open_raw_engine() as engine:
            for msgid in range(MAX_MESSAGE_BYTES // len(label) + 1):
                params = {"host": "127.0.0.1", "port": port, "label": label}
                assert (await engine.call(msgid, "open", params)).error is None
            engine.notifications.clear()
            response = await engine.call(100, "list_sessions", {})
            assert response.error is not None
            assert response.error.type == "LocalProtocolError"
            assert str(MAX_MESSAGE_BYTES) in response.error.message
            pong = await engine.call(101, "ping", {"token": 101})
            assert pong.error is None and pong.result["token"] == 101


async def test_a_truncated_message_completed_later_is_answered(setup: Setup) -> None:
    engine, _, _ = setup
    raw = encode_request(31, "ping", {"token": 31})
    with trio.fail_after(20):
        for i in range(len(raw)):
            await engine.write(raw[i : i + 1])
        response = await engine.response(31)
        assert response.result["token"] == 31


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


async def test_a_controller_that_never_reads_its_replies_stops_being_read(
    nursery: trio.Nursery,
) -> None:
    # Lockstep streams: the engine's writes wait for a reader that never comes, and the
    # controller's send_all returns only once the engine has read the request.
    engine_side, controller = trio.testing.lockstep_stream_pair()
    nursery.start_soon(serve_engine, engine_side, engine_side)
    reply_bytes = len(encode_response(0, None, api_info()))
    count = MAX_QUEUED_CONTROL_BYTES // reply_bytes + 200
    sent = 0

    async def flood() -> None:
        nonlocal sent
        for msgid in range(count):
            await controller.send_all(encode_request(msgid, "get_api_info", {}))
            sent += 1

    nursery.start_soon(flood)
    await trio.testing.wait_all_tasks_blocked()
    assert 0 < sent < count, "the engine kept reading requests it could not answer"
    nursery.cancel_scope.cancel()


async def test_hello_comes_first_and_matches_get_api_info() -> None:
    with trio.fail_after(20):
        async with open_raw_engine() as engine:
            info = await engine.call(1, "get_api_info", {})
            assert info.result["protocol_version"] == PROTOCOL_VERSION
            assert info.result["pid"] == engine.process.pid
            assert set(info.result["events"]) == set(EVENTS)
            assert "le32" in info.result["framing_presets"]


def test_api_info_cli_prints_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--api-info"],
        capture_output=True,
        check=True,
        timeout=30,
        text=True,
    ).stdout
    printed = json.loads(out)
    expected = api_info()
    assert {k: v for k, v in printed.items() if k != "pid"} == {
        k: v for k, v in expected.items() if k != "pid"
    }


def cost(frames: list[bytes]) -> int:
    return frames_credit(sum(map(len, frames)), len(frames))


async def test_credit_window_holds_data_but_not_responses(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    count = 100_000
    with trio.fail_after(30):
        async with open_raw_engine() as engine:
            session_id = await open_echo_session(engine, port)
            window = 64 * 1024
            assert (await engine.call(2, "flow_control", {"window_bytes": window})).error is None
            await engine.call(
                3, "send", {"session_id": session_id, "frames": [b"!stream %d" % count]}
            )
            # Never ack: data stops after about one window (plus at most one notification),
            # and responses still come.
            for token in range(100, 120):
                pong = await engine.call(token, "ping", {"token": token})
                assert pong.result["token"] == token
            held = [n.params["frames"] for n in engine.notifications if n.method == "received"]
            assert 0 < sum(map(cost, held)) <= window + MAX_NOTIFICATION_PAYLOAD_BYTES * 2
            # Acking what was consumed lets the rest through, in order.
            expected = 0
            pending = list(held)
            while expected < count:
                for frames in pending:
                    for frame in frames:
                        assert int.from_bytes(frame[:8], "big") == expected
                        expected += 1
                    await engine.write(msgpack.packb([2, "ack", [{"nbytes": cost(frames)}]]))
                msg = await engine.next_message()
                pending = []
                if isinstance(msg, Notification) and msg.method == "received":
                    pending = [msg.params["frames"]]


async def test_a_flood_of_garbage_costs_few_stderr_lines(setup: Setup) -> None:
    engine, session_id, log = setup
    with trio.fail_after(30):
        await engine.write(b"\x00" * 200_000)  # 200,000 bad "messages" (fixint 0)
        await assert_still_serving(engine, session_id, 40)
        stats = await engine.call(41, "ping", {})
        assert stats.error is None
    lines = log.read_text().splitlines()
    assert 0 < len([line for line in lines if "bad message" in line]) <= 40
