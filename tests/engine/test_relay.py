"""The relay role: a real client, the engine's relay and a real upstream, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from engine import Engine, open_engine
from ipc import schema
from ipc.framing import DEFAULT, PRESETS, FrameDecoder, FramingSpec, encode_frames
from ipc.recording import EventRecord, FrameRecord, read_recording
from tests.engine.helpers import (
    echo_with,
    next_event,
    refused_port,
    start_server,
    unanswered_port,
    until_client_leaves,
)

BE32 = PRESETS["be32"]


@dataclass
class Upstream:
    """An upstream server that records what it reads and lets the test write to it."""

    spec: FramingSpec = DEFAULT
    frames: list[bytes] = field(default_factory=list)
    streams: list[trio.SocketStream] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)  # "eof" or "reset", per connection
    changed: trio.Event = field(default_factory=trio.Event)

    async def handler(self, stream: trio.SocketStream) -> None:
        self.streams.append(stream)
        self._changed()
        decoder = FrameDecoder(self.spec)
        try:
            async for data in stream:
                self.frames += decoder.feed(data)
                self._changed()
            self.ended.append("eof")
        except trio.BrokenResourceError:
            self.ended.append("reset")
        self._changed()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, predicate: object) -> None:
        with trio.fail_after(10):
            while not predicate():  # type: ignore[operator]
                await self.changed.wait()


async def _read(stream: trio.SocketStream, spec: FramingSpec, count: int) -> list[bytes]:
    decoder, got = FrameDecoder(spec), list[bytes]()
    with trio.fail_after(10):
        while len(got) < count:
            data = await stream.receive_some(1 << 16)
            assert data, f"closed after {got}"
            got += decoder.feed(data)
    return got


async def _end_of(stream: trio.SocketStream) -> str:
    """ "eof" or "reset": how the relay ended the connection (within 10 s)."""
    with trio.fail_after(10):
        try:
            while await stream.receive_some(1 << 16):
                pass
        except trio.BrokenResourceError:
            return "reset"
    return "eof"


def _reset(stream: trio.SocketStream) -> None:
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


@contextlib.asynccontextmanager
async def _relay_to(
    upstream_port: int, *, upstream_framing: FramingSpec | None = None
) -> AsyncIterator[tuple[Engine, schema.Listening]]:
    async with open_engine() as engine:
        listening = await engine.relay(
            "127.0.0.1",
            0,
            "127.0.0.1",
            upstream_port,
            upstream_framing=upstream_framing,
        )
        yield engine, listening


async def test_frames_pass_both_ways_translated_le32_to_be32(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo_with(BE32))
    async with _relay_to(port, upstream_framing=BE32) as (engine, listening):
        assert listening.role == "relay" and listening.upstream == f"127.0.0.1:{port}"
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        await client.send_all(encode_frames([b"hello", b"world"]))  # le32
        assert await _read(client, DEFAULT, 2) == [b"re:hello", b"re:world"]

        accepted = await next_event(engine, schema.Accepted)
        connecting = await next_event(engine, schema.Connecting)
        opened = await next_event(engine, schema.PairOpened)
        assert accepted.pair_id == connecting.pair_id == opened.pair_id
        assert connecting.framing == BE32.to_wire() and accepted.framing == DEFAULT.to_wire()
        assert (opened.client_session_id, opened.upstream_session_id) == (
            accepted.session_id,
            connecting.session_id,
        )
        c2s = await next_event(engine, schema.Received)
        s2c = await next_event(engine, schema.Received)
        assert (c2s.session_id, c2s.direction, c2s.frames) == (
            accepted.session_id,
            "c2s",
            [b"hello", b"world"],
        )
        assert (s2c.session_id, s2c.direction) == (connecting.session_id, "s2c")
        assert s2c.pair_id == c2s.pair_id == opened.pair_id
        legs = {s["leg"]: s for s in engine.sessions()}
        assert legs["client"]["role"] == legs["upstream"]["role"] == "relay"
        assert legs["upstream"]["framing"] == BE32.to_wire()

        await client.aclose()
        closed = await next_event(engine, schema.PairClosed)
        assert closed.pair_id == opened.pair_id
        assert (closed.frames_c2s, closed.bytes_c2s) == (2, 10)
        assert (closed.frames_s2c, closed.bytes_s2c) == (2, 16)
        assert closed.reason == "the client closed the connection"


async def test_relayed_frames_are_not_reported_as_sent_but_injected_ones_are(
    nursery: trio.Nursery,
) -> None:
    upstream = Upstream()
    port = await start_server(nursery, until_client_leaves(upstream.handler))
    async with _relay_to(port) as (engine, listening):
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        opened = await next_event(engine, schema.PairOpened)
        await client.send_all(encode_frames([b"from the client"]))
        await upstream.wait_for(lambda: upstream.frames == [b"from the client"])

        await engine.send(opened.upstream_session_id, [b"to the server"])
        await upstream.wait_for(lambda: len(upstream.frames) == 2)
        await engine.send(opened.client_session_id, [b"to the client"])
        assert await _read(client, DEFAULT, 1) == [b"to the client"]
        assert upstream.frames == [b"from the client", b"to the server"]  # not the client's

        (server_side,) = upstream.streams
        await server_side.send_all(encode_frames([b"a reply"]))
        assert await _read(client, DEFAULT, 1) == [b"a reply"]

        events: list[schema.Event] = []
        async for event in engine.events:
            events.append(event)
            if isinstance(event, schema.Received) and event.direction == "s2c":
                break
        sent = [e for e in events if isinstance(e, schema.Sent)]
        assert [(e.session_id, e.frames, e.direction, e.pair_id) for e in sent] == [
            (opened.upstream_session_id, [b"to the server"], "c2s", opened.pair_id),
            (opened.client_session_id, [b"to the client"], "s2c", opened.pair_id),
        ]
        await client.aclose()


async def test_the_client_closing_closes_the_upstream_after_flushing(
    nursery: trio.Nursery,
) -> None:
    upstream = Upstream()
    port = await start_server(nursery, until_client_leaves(upstream.handler))
    async with _relay_to(port) as (engine, listening):
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        frames = [b"x" * n for n in range(200)]
        await client.send_all(encode_frames(frames))
        await client.send_eof()
        await upstream.wait_for(lambda: upstream.ended)
        assert upstream.frames == frames and upstream.ended == ["eof"]
        assert await _end_of(client) == "eof"
        closed = await next_event(engine, schema.PairClosed)
        assert closed.frames_c2s == 200


async def test_the_upstream_closing_closes_the_client_after_flushing(
    nursery: trio.Nursery,
) -> None:
    async def greet_and_close(stream: trio.SocketStream) -> None:
        await stream.send_all(encode_frames([b"bye %d" % i for i in range(100)]))
        await stream.aclose()

    port = await start_server(nursery, greet_and_close)
    async with _relay_to(port) as (engine, listening):
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        assert await _read(client, DEFAULT, 100) == [b"bye %d" % i for i in range(100)]
        assert await _end_of(client) == "eof"
        closed = await next_event(engine, schema.PairClosed)
        assert closed.reason == "the upstream closed the connection"


@pytest.mark.parametrize("faulty", ["client", "upstream"])
async def test_a_reset_mid_frame_resets_the_other_leg_after_the_frames_before_it(
    nursery: trio.Nursery, faulty: str
) -> None:
    upstream = Upstream()
    port = await start_server(nursery, until_client_leaves(upstream.handler))
    frames = [b"frame %d" % i for i in range(50)]
    async with _relay_to(port) as (engine, listening):
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        opened = await next_event(engine, schema.PairOpened)
        await upstream.wait_for(lambda: upstream.streams)
        (server_side,) = upstream.streams
        writer, reader = (client, server_side) if faulty == "client" else (server_side, client)
        await writer.send_all(encode_frames(frames) + b"\x09\x00")  # then half a header
        if faulty == "client":
            await upstream.wait_for(lambda: len(upstream.frames) == len(frames))
        else:
            assert await _read(client, DEFAULT, len(frames)) == frames
        _reset(writer)
        if faulty == "client":
            await upstream.wait_for(lambda: upstream.ended)
            assert upstream.ended == ["reset"] and upstream.frames == frames
        else:
            assert await _end_of(reader) == "reset"
        closed = await next_event(engine, schema.PairClosed)
        assert closed.pair_id == opened.pair_id
        assert closed.reason.startswith(f"the {faulty} leg failed: ")


async def test_an_upstream_that_refuses_closes_the_client_with_the_reason() -> None:
    held, port = refused_port()
    with held:
        async with _relay_to(port) as (engine, listening):
            client = await trio.open_tcp_stream("127.0.0.1", listening.port)
            await client.send_all(encode_frames([b"anyone?"]))
            assert await _end_of(client) in ("eof", "reset")
            failed = await next_event(engine, schema.ConnectFailed)
            assert failed.reason == "refused"
            closed = await next_event(engine, schema.Closed)
            assert closed.by == "local"
            assert "refused" in closed.details["reason"]
            pair = await next_event(engine, schema.PairClosed)
            assert pair.reason.startswith("the upstream could not be reached: ")
            assert pair.frames_c2s == 0  # nothing was passed on


async def test_a_client_leaving_while_the_upstream_connects_ends_the_attempt() -> None:
    with unanswered_port() as port:
        async with _relay_to(port) as (engine, listening):
            client = await trio.open_tcp_stream("127.0.0.1", listening.port)
            connecting = await next_event(engine, schema.Connecting)
            await client.aclose()
            closed = await next_event(engine, schema.Closed)
            upstream_closed = await next_event(engine, schema.Closed)
            assert upstream_closed.session_id == connecting.session_id
            assert upstream_closed.by == "local" and closed.by == "peer"
            pair = await next_event(engine, schema.PairClosed)
            assert pair.reason == "the client closed the connection"
            assert engine.sessions() == [] or all(s["state"] == "closed" for s in engine.sessions())


async def test_a_frame_too_long_for_the_other_framing_ends_the_pair(
    nursery: trio.Nursery,
) -> None:
    upstream = Upstream(spec=PRESETS["u8"])
    port = await start_server(nursery, until_client_leaves(upstream.handler))
    async with _relay_to(port, upstream_framing=PRESETS["u8"]) as (engine, listening):
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        await client.send_all(encode_frames([b"fits", b"x" * 300]))
        assert await _end_of(client) == "eof"  # a protocol error, as on any session
        error = await next_event(engine, schema.SessionError)
        assert "cannot forward in the other side's framing" in error.message
        await upstream.wait_for(lambda: upstream.ended)
        assert upstream.ended == ["reset"]  # the other leg of a failed one is reset
        assert upstream.frames == []  # the batch that fails is not passed on in part


async def test_a_capture_records_relayed_frames_with_their_pair_and_direction(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, echo_with(DEFAULT))
    path = tmp_path / "relay.jsonl"
    async with _relay_to(port) as (engine, listening):
        engine.start_capture(str(path))
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        await client.send_all(encode_frames([b"ping"]))
        assert await _read(client, DEFAULT, 1) == [b"re:ping"]
        await client.aclose()
        await next_event(engine, schema.PairClosed)
        await engine.stop_capture()
    records = list(read_recording(path.read_text().splitlines()))
    frames = [r for r in records if isinstance(r, FrameRecord)]
    assert [(r.dir, r.payload, r.extra) for r in frames] == [
        ("c2s", b"ping", {"pair": 1}),
        ("s2c", b"re:ping", {"pair": 1}),
    ]
    opened = [r for r in records if isinstance(r, EventRecord) and r.event == "open"]
    assert [r.framing for r in opened] == ["le32", "le32"]  # the accepted leg and the upstream
