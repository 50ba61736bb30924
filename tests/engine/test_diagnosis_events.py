"""A framing mistake is said in the events, from the bytes the session saw (issue 15
part 2, issue 17 item 5): session_error's details, and closed's when nothing failed."""

from __future__ import annotations

import trio

from engine import open_engine
from ipc import schema
from ipc.diagnosis import Diagnosis
from ipc.framing import PRESETS, encode_frame
from tests.engine.helpers import (
    events_until_closed,
    next_event,
    reply_then_close,
    start_server,
    until_client_leaves,
)

DEADLINE_SECONDS = 10


def diagnosis_of(event: schema.SessionError | schema.Closed) -> Diagnosis | None:
    return Diagnosis.from_wire(event.details.get("diagnosis"))


async def test_a_be32_server_speaking_first_to_le32_gets_the_hint_in_session_error(
    nursery: trio.Nursery,
) -> None:
    greeting = encode_frame(b"welcome, client!", PRESETS["be32"])
    port = await start_server(nursery, reply_then_close(greeting))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            events = await events_until_closed(engine, sid)
    (error,) = [e for e in events if isinstance(e, schema.SessionError)]
    assert error.kind == "frame_too_large"
    assert error.message == (
        "frame length 268435456 > max 8388608: as be32, these 20 bytes are 1 whole frame"
    )
    diagnosis = diagnosis_of(error)
    assert diagnosis is not None and diagnosis.suggestion == "be32"
    assert diagnosis.head == greeting


async def test_a_server_that_closes_without_replying_gets_no_framing_the_bytes_do_not_show(
    nursery: trio.Nursery,
) -> None:
    """A be32 server refusing 83,886,080 bytes closes as one that closes on purpose after
    a le32 frame does: the bytes sent read best as le32, so no framing is named (it said
    "try be32" after every early close)."""

    @until_client_leaves
    async def read_the_request_then_close(stream: trio.SocketStream) -> None:
        # It reads all the client sent first, so the kernel closes with a FIN, not a reset
        # for unread bytes.
        got = b""
        while len(got) < 9:
            got += await stream.receive_some(9 - len(got))
        await stream.aclose()

    port = await start_server(nursery, read_the_request_then_close)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            await engine.send(sid, [b"hello"])
            events = await events_until_closed(engine, sid)
    closed = events[-1]
    assert isinstance(closed, schema.Closed) and closed.by == "peer"
    diagnosis = diagnosis_of(closed)
    assert diagnosis == Diagnosis(
        kind="nothing", summary="the peer closed without sending anything"
    )


async def test_be16_reading_a_be32_reply_as_an_empty_frame_gets_closed_to_say_why(
    nursery: trio.Nursery,
) -> None:
    reply = encode_frame(b"hello, client! you said: hello", PRESETS["be32"])
    port = await start_server(nursery, reply_then_close(reply))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port, framing=PRESETS["be16"])
            received = await next_event(engine, schema.Received)
            # The be32 header's first half is an empty be16 frame (issue 17 item 5).
            assert received.frames[0] == b""
            await engine.close(sid)
            events = await events_until_closed(engine, sid)
    closed = events[-1]
    assert isinstance(closed, schema.Closed)
    diagnosis = diagnosis_of(closed)
    assert diagnosis is not None and diagnosis.suggestion == "be32"


async def test_a_session_whose_framing_fits_says_nothing(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(encode_frame(b"hi") + b"\x09\x00"))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            sid = await engine.connect("127.0.0.1", port)
            events = await events_until_closed(engine, sid)
    error = next(e for e in events if isinstance(e, schema.SessionError))
    assert error.kind == "truncated_frame"
    assert error.details == {}
    closed = events[-1]
    assert isinstance(closed, schema.Closed) and closed.details == {}
