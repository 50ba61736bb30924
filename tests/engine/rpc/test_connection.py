"""One controller's connection, through a real ``python -m engine --stdio``: bad input gets
an error response (with a msgid) or a rate-limited stderr line (without), and the engine
and its other sessions keep going; the reader stops reading when replies pile up."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
import trio
import trio.testing

from engine.rpc.handshake import api_info
from engine.rpc.outbox import MAX_QUEUED_CONTROL_BYTES
from engine.rpc.server import serve_engine
from ipc.codec import (
    MAX_MESSAGE_BYTES,
    MAX_STR_LEN,
    encode_request,
    encode_response,
)
from tests.engine.rpc.helpers import Setup, assert_still_serving
from tests.ipc.helpers import open_raw_engine
from tools.demo_server import serve_demo

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


async def test_a_flood_of_garbage_costs_few_stderr_lines(setup: Setup) -> None:
    engine, session_id, log = setup
    with trio.fail_after(30):
        await engine.write(b"\x00" * 200_000)  # 200,000 bad "messages" (fixint 0)
        await assert_still_serving(engine, session_id, 40)
        stats = await engine.call(41, "ping", {})
        assert stats.error is None
    lines = log.read_text().splitlines()
    assert 0 < len([line for line in lines if "bad message" in line]) <= 40
