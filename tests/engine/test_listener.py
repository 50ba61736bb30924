"""The listen role: real sockets on 127.0.0.1, clients made with trio."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from engine import Engine, ListenFailed, UnknownListener, open_engine
from engine.limits import Limits
from engine.listener import _reachable
from ipc import schema
from ipc.framing import PRESETS, FrameDecoder, encode_frames
from tests.engine.helpers import next_event


async def _frames(stream: trio.SocketStream, decoder: FrameDecoder, count: int) -> list[bytes]:
    got: list[bytes] = []
    with trio.fail_after(10):
        while len(got) < count:
            data = await stream.receive_some(65536)
            assert data, f"the server closed after {got}"
            got += decoder.feed(data)
    return got


async def _eof(stream: trio.SocketStream) -> bytes:
    """What the server sends until it closes (fails on a reset or after 10 s)."""
    data = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some(65536):
            data += chunk
    return data


async def test_accepted_clients_are_sessions_with_their_listener_and_peer() -> None:
    async with open_engine() as engine:
        listening = await engine.listen(port=0, label="srv")
        assert listening.port > 0 and listening.local == f"127.0.0.1:{listening.port}"
        assert not listening.reachable
        assert await next_event(engine, schema.Listening) == listening
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        accepted = await next_event(engine, schema.Accepted)
        assert accepted.listener_id == listening.listener_id
        assert accepted.peer == f"127.0.0.1:{client.socket.getsockname()[1]}"
        assert accepted.local == listening.local and accepted.label == "srv"
        assert accepted.pair_id is None

        await client.send_all(encode_frames([b"hi", b"there"]))
        received = await next_event(engine, schema.Received)
        assert (received.session_id, received.frames) == (accepted.session_id, [b"hi", b"there"])
        assert received.pair_id is None and received.direction is None
        await engine.send(accepted.session_id, [b"welcome"])
        assert await _frames(client, FrameDecoder(), 1) == [b"welcome"]

        (info,) = engine.sessions()
        assert info["role"] == "accept" and info["listener_id"] == listening.listener_id
        assert info["peer"] == accepted.peer and (info["frames_in"], info["frames_out"]) == (2, 1)
        (listed,) = engine.listeners()
        assert (listed["clients"], listed["accepted"], listed["refused"]) == (1, 1, 0)
        assert listed["role"] == "listen" and listed["port"] == listening.port

        await client.aclose()
        closed = await next_event(engine, schema.Closed)
        assert (closed.session_id, closed.by) == (accepted.session_id, "peer")
        await trio.testing.wait_all_tasks_blocked()  # the session ends just after Closed
        assert engine.listeners()[0]["clients"] == 0


async def test_closing_a_listener_stops_accepting_and_keeps_its_sessions() -> None:
    async with open_engine() as engine:
        listening = await engine.listen(port=0)
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        accepted = await next_event(engine, schema.Accepted)

        await engine.close_listener(listening.listener_id)
        closed = await next_event(engine, schema.ListenerClosed)
        assert (closed.listener_id, closed.by) == (listening.listener_id, "local")
        assert closed.accepted == 1
        assert engine.listeners() == []
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", listening.port)
        with pytest.raises(UnknownListener):
            await engine.close_listener(listening.listener_id)

        # The session it accepted carries on both ways.
        await engine.send(accepted.session_id, [b"still here"])
        assert await _frames(client, FrameDecoder(), 1) == [b"still here"]
        await client.send_all(encode_frames([b"me too"]))
        assert (await next_event(engine, schema.Received)).frames == [b"me too"]


async def test_close_listener_can_close_its_sessions_too() -> None:
    async with open_engine() as engine:
        listening = await engine.listen(port=0)
        clients = [await trio.open_tcp_stream("127.0.0.1", listening.port) for _ in range(2)]
        for _ in clients:
            await next_event(engine, schema.Accepted)
        other = await engine.listen(port=0)
        bystander = await trio.open_tcp_stream("127.0.0.1", other.port)
        await next_event(engine, schema.Accepted)

        await engine.close_listener(listening.listener_id, close_sessions=True)
        for client in clients:
            assert await _eof(client) == b""
        assert [s["listener_id"] for s in engine.sessions()] == [other.listener_id]
        await bystander.aclose()


async def test_echo_sends_every_frame_back_and_reports_it_sent() -> None:
    async with open_engine() as engine:
        listening = await engine.listen(port=0, echo=True, framing=PRESETS["be16"])
        client = await trio.open_tcp_stream("127.0.0.1", listening.port)
        frames = [b"one", b"", b"three" * 100]
        await client.send_all(encode_frames(frames, PRESETS["be16"]))
        assert await _frames(client, FrameDecoder(PRESETS["be16"]), 3) == frames
        sent = await next_event(engine, schema.Sent)
        assert sent.frames == frames and sent.pair_id is None


async def test_max_clients_turns_the_next_client_away_with_a_logged_reason() -> None:
    async with open_engine() as engine:
        listening = await engine.listen(port=0, limits=Limits(max_clients=2))
        first, second = [await trio.open_tcp_stream("127.0.0.1", listening.port) for _ in "12"]
        for _ in "12":
            await next_event(engine, schema.Accepted)
        third = await trio.open_tcp_stream("127.0.0.1", listening.port)
        assert await _eof(third) == b""  # accepted, then closed at once
        log = await next_event(engine, schema.LogLine)
        assert log.level == "warning" and "turned away" in log.message
        assert "max_clients" in log.message
        assert engine.listeners()[0]["refused"] == 1

        await first.aclose()
        await next_event(engine, schema.Closed)
        await trio.testing.wait_all_tasks_blocked()  # the session ends just after Closed
        fourth = await trio.open_tcp_stream("127.0.0.1", listening.port)
        accepted = await next_event(engine, schema.Accepted)
        assert accepted.peer.endswith(f":{fourth.socket.getsockname()[1]}")
        assert engine.listeners()[0]["clients"] == 2
        await second.aclose()
        await fourth.aclose()


async def test_a_full_engine_turns_clients_away_too() -> None:
    async with open_engine(max_sessions=1) as engine:
        listening = await engine.listen(port=0)
        kept = await trio.open_tcp_stream("127.0.0.1", listening.port)
        await next_event(engine, schema.Accepted)
        turned_away = await trio.open_tcp_stream("127.0.0.1", listening.port)
        assert await _eof(turned_away) == b""
        assert "max_sessions" in (await next_event(engine, schema.LogLine)).message
        await kept.aclose()


async def test_an_address_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with open_engine() as engine:
            with pytest.raises(ListenFailed, match="already in use"):
                await engine.listen("127.0.0.1", port)
            with pytest.raises(ListenFailed, match="does not resolve"):
                await engine.listen("no-such-host.invalid", 0)
            assert engine.listeners() == []


async def test_listens_on_ipv6_loopback() -> None:
    async with open_engine() as engine:
        try:
            listening = await engine.listen("::1", 0)
        except ListenFailed:
            pytest.fail("::1 could not be bound (no IPv6 loopback on this machine?)")
        assert listening.local == f"[::1]:{listening.port}" and not listening.reachable
        client = await trio.open_tcp_stream("::1", listening.port)
        assert (await next_event(engine, schema.Accepted)).peer.startswith("[::1]:")
        await client.aclose()


def test_only_loopback_addresses_are_not_reachable_from_the_network() -> None:
    assert not _reachable("127.0.0.1") and not _reachable("127.1.2.3") and not _reachable("::1")
    assert _reachable("0.0.0.0") and _reachable("::") and _reachable("192.168.1.10")


async def test_shutdown_closes_listeners_and_says_so() -> None:
    events: list[schema.Event] = []

    async def collect(engine: Engine) -> None:
        async for event in engine.events:  # ends once the engine has shut down
            events.append(event)

    async with trio.open_nursery() as nursery, open_engine() as engine:
        nursery.start_soon(collect, engine)
        listening = await engine.listen(port=0)
    closed = [e for e in events if isinstance(e, schema.ListenerClosed)]
    assert [(e.listener_id, e.by) for e in closed] == [(listening.listener_id, "shutdown")]
