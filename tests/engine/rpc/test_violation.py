"""Bytes that break the IPC stream cost their channel, and nothing else.

The engine answers the request the bytes were part of (when its msgid could be read),
says what broke the stream and where (``channel_closed``, reason ``protocol_violation``),
closes that channel and
carries on: the engine, its sessions and the next controller are untouched. The stdio
engine, whose only channel that was, exits with code 4.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.engine import open_engine
from engine.rpc.server import serve_rpc
from ipc.codec import (
    MessageDecoder,
    Notification,
    Response,
    encode_request,
)
from ipc.errors import ProtocolViolation
from ipc.schema import Received
from tests.engine.rpc.helpers import open_echo_session
from tests.ipc.helpers import open_raw_engine
from tools.demo_server import serve_demo

PING = encode_request(1, "ping", {"token": 1})
#: Ordinary requests after each bomb: none of them may be answered.
PINGS = b"".join(encode_request(100 + i, "ping", {"token": i}) for i in range(300))

# (name, the bytes before the bad header, the rest, msgid of the request or None, kind)
BOMBS = [
    # A ping whose token is a bin32 of 4 GiB (the 17 MiB / 27 s case).
    ("bin32 in a request", b"\x94\x00\x0d\xa4ping\x91\x81\xa5token", b"\xc6\xff\xff\xff\xff",
     13, "too_large"),
    ("str32 of 64 MiB", b"", b"\xdb\x04\x00\x00\x00", None, "not_a_message"),
    ("array32 of 2,000,000", b"", b"\xdd\x00\x1e\x84\x80", None, "not_a_message"),
    ("array16 of 65,535", b"", b"\xdc\xff\xff", None, "not_a_message"),
    ("map32 of 1,000,000 in a request", b"\x94\x00\x07\xa4ping\x91", b"\xdf\x00\x0f\x42\x40",
     7, "too_large"),
    ("ext32 in a frame", b"\x94\x00\x08\xa4send\x91\x81\xa6frames\x91",
     b"\xc9\x00\x01\x00\x00\x01", 8, "too_large"),
    ("nesting", b"\x94\x00\x09\xa4ping" + b"\x91" * 1023, b"\x91" * 77, 9, "too_deep"),
    ("garbage", b"", b"GET / HTTP/1.1\r\n\r\n", None, "not_a_message"),
]  # fmt: skip


async def read_until_eof(stream: trio.abc.ReceiveStream) -> list[Response | Notification]:
    decoder = MessageDecoder()
    out: list[Response | Notification] = []
    while data := await stream.receive_some(65536):
        decoder.receive_data(data)
        while (msg := decoder.next_message()) is not None:
            assert isinstance(msg, Response | Notification)
            out.append(msg)
    return out


async def test_every_bomb_costs_its_channel_only(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(30):
        async with open_engine() as engine:
            session_id = await engine.connect("127.0.0.1", port)
            results: list[ProtocolViolation | None] = []

            async def serve(stream: trio.abc.Stream) -> None:
                results.append(await serve_rpc(engine, stream, stream))

            for name, before, bad, msgid, kind in BOMBS:
                # One controller per bomb, as on the long-lived engine's socket.
                engine_side, controller = trio.testing.memory_stream_pair()
                nursery.start_soon(serve, engine_side)
                offset = len(PING) + len(before)
                await controller.send_all(PING + before + bad + PINGS)
                messages = await read_until_eof(controller)
                # Answered: the ping before the bomb, and the request the bomb broke.
                responses = {m.msgid: m for m in messages if isinstance(m, Response)}
                assert sorted(responses) == ([1] if msgid is None else [1, msgid]), name
                assert responses[1].result["token"] == 1
                if msgid is not None:
                    error = responses[msgid].error
                    assert error is not None and error.type == "BadMessage", name
                # The channel's last words (before them, only the session's events).
                notice = messages[-1]
                assert isinstance(notice, Notification), name
                assert notice.method == "channel_closed", name
                assert notice.params["reason"] == "protocol_violation", name
                details = notice.params["details"]
                assert (details["kind"], details["offset"]) == (kind, offset), name
                await trio.testing.wait_all_tasks_blocked()
                violation = results.pop()
                assert violation is not None and (violation.kind, violation.offset) == (
                    kind,
                    offset,
                )
            # The session opened before the first bomb still works.
            await engine.send(session_id, [b"still here"])
            async for event in engine.events:
                if isinstance(event, Received) and event.frames == [b"still here"]:
                    break


@pytest.mark.serial
async def test_the_stdio_engine_says_why_and_exits_4_within_100_ms(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await nursery.start(serve_demo)
    log = tmp_path / "engine-stderr.txt"
    bomb = BOMBS[0][1] + BOMBS[0][2]
    with log.open("wb") as stderr, trio.fail_after(20):
        async with open_raw_engine(stderr=stderr.fileno()) as engine:
            await open_echo_session(engine, port)
            offset = engine.written + len(BOMBS[0][1])
            start = time.monotonic()
            await engine.write(bomb + PINGS)
            refused = await engine.response(13)
            notice = await engine.next_message()
            elapsed = time.monotonic() - start
            assert refused.error is not None and "4,294,967,295" in refused.error.message
            assert isinstance(notice, Notification) and notice.method == "channel_closed"
            assert notice.params["details"] == {"kind": "too_large", "offset": offset}
            assert elapsed < 0.1, f"the policy took {elapsed * 1000:.0f} ms"
            while (msg := await engine.next_message()) is not None:
                # Only events the session had queued may still come; never a pong.
                assert isinstance(msg, Notification), msg
            assert await engine.process.wait() == 4
    text = log.read_text()
    assert "closing controller's channel: it broke the IPC protocol" in text
    assert f"at byte {offset}" in text


@pytest.mark.parametrize("piece", [1, 7])
async def test_a_bomb_that_arrives_byte_by_byte_is_caught_at_its_header(piece: int) -> None:
    # Whatever the reads, the verdict comes as soon as the header is complete: the
    # payload bytes written after it are never waited for.
    bomb = BOMBS[0][1] + BOMBS[0][2]
    with trio.fail_after(20):
        async with open_engine() as engine:
            engine_side, controller = trio.testing.lockstep_stream_pair()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve_rpc, engine, engine_side, engine_side)
                for i in range(0, len(bomb), piece):
                    await controller.send_all(bomb[i : i + piece])
                messages = await read_until_eof(controller)
    assert [getattr(m, "method", None) for m in messages] == ["hello", None, "channel_closed"]
