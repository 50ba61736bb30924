"""One controller's connection, through a real ``python -m engine --stdio``: bad input gets
an error response (with a msgid) or a rate-limited stderr line (without), and the engine
and its other sessions keep going; the reader stops reading when replies pile up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from tests.engine.rpc.helpers import Setup, assert_still_serving, open_echo_session
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
        "a string that is not UTF-8",  # well formed, in step: costs only this request
        b"\x94\x00\x07\xa4open\x91\x81\xa4host\xa2\xff\xfe",
        7,
        "BadMessage",
    ),
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
        pytest.param(msgpack.packb([2, "no_such_notification", [{}]]), id="unknown notification"),
        pytest.param(msgpack.packb([2, "ack", [{"nbytes": "lots"}]]), id="ack with wrong types"),
        pytest.param(msgpack.packb([2, "ack", [{"nbytes": -(2**40)}]]), id="ack taking credit"),
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


async def test_a_flood_of_bad_messages_costs_few_stderr_lines(setup: Setup) -> None:
    engine, session_id, log = setup
    with trio.fail_after(30):
        # 50,000 notifications the engine does not know (well formed: each costs itself).
        await engine.write(msgpack.packb([2, "nope", [{}]]) * 50_000)
        await assert_still_serving(engine, session_id, 40)
    lines = log.read_text().splitlines()
    assert 0 < len([line for line in lines if "ignoring" in line]) <= 40


async def test_requests_the_schema_refuses_get_a_schema_error(setup: Setup) -> None:
    engine, session_id, _ = setup
    refused: dict[int, tuple[str, dict[str, Any], str]] = {
        # The C resolver stops at a NUL: this would connect to 127.0.0.1.
        1: ("open", {"host": "127.0.0.1\x00x", "port": 1}, "control character"),
        2: ("open", {"host": "127.0.0.1", "port": 1, "framing": {"max_frame_length": 0}}, "1 to"),
        3: ("ping", {}, "token"),
        # A window the engine can never fill would turn credit off.
        4: ("flow_control", {"window_bytes": 2**64 - 1}, "window_bytes"),
        5: ("flow_control", {"window_bytes": 0}, "window_bytes"),
    }
    with trio.fail_after(30):
        for msgid, (method, params, words) in refused.items():
            response = await engine.call(msgid, method, params)
            assert response.error is not None, (method, params)
            assert (response.error.type, words in response.error.message) == ("SchemaError", True)
        await assert_still_serving(engine, session_id, 10)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):  # load-safe: memory at rest, no clock involved
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_controller_that_never_acks_stops_the_sockets_not_the_engine(
    nursery: trio.Nursery,
) -> None:
    # Credit mode with a small window, a server flooding, and not one ack: the engine
    # must stop reading the socket (frames_in stops growing), keep its memory flat, and
    # still answer pings and list_sessions (control traffic is never held by credit).
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_raw_engine() as engine:
            assert (await engine.call(1, "flow_control", {"window_bytes": 65536})).error is None
            session_id = await open_echo_session(engine, port)
            flood = {"session_id": session_id, "frames": [b"!stream 100000000 100"]}
            assert (await engine.call(2, "send", flood)).error is None
            counts: list[int] = []
            rss: list[int] = []
            # Poll until frames_in has not moved for five polls in a row.
            while len(counts) < 5 or len(set(counts[-5:])) > 1:
                msgid = 10 + 2 * len(counts)
                pong = await engine.call(msgid, "ping", {"token": msgid})
                assert pong.error is None and pong.result["token"] == msgid
                listed = await engine.call(msgid + 1, "list_sessions", {})
                (info,) = listed.result["sessions"]
                counts.append(info["frames_in"])
                rss.append(rss_kib(engine.process.pid))
                await trio.sleep(0.05)  # the interval over which "stopped" is measured
            plateau = counts[-1]
            assert 0 < plateau < 100_000_000
            # The data events the controller holds: one window and one notification.
            data = [n for n in engine.notifications if n.method == "received"]
            held = sum(len(f) for n in data for f in n.params["frames"])
            assert held <= 65536 + 1024 * 1024
            assert rss[-1] - rss[-5] < 1024, f"engine RSS grew {rss[-1] - rss[-5]} KiB at rest"
