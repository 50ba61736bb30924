"""listen, relay, close_listener and list_listeners through a real engine process."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import trio

from ipc.framing import FrameDecoder, encode_frames
from ipc.rpc import CommandFailed
from ipc.schema import (
    Accepted,
    CloseListener,
    Event,
    Listen,
    ListenerClosed,
    Listening,
    ListListeners,
    ListSessions,
    PairClosed,
    PairOpened,
    Received,
    Relay,
    Send,
    Sent,
)
from ipc.trio_channel import EngineClient, open_engine_process
from tools.demo_server import CLASSIC_REPLY_PREFIX, serve_demo


async def _until(client: EngineClient, kind: type[Event]) -> list[Event]:
    """Events up to and including the first of ``kind``."""
    seen: list[Event] = []
    async for event in client.events():
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError("events ended")


async def test_a_relay_to_the_demo_server_over_ipc(nursery: trio.Nursery) -> None:
    port = await nursery.start(
        lambda task_status: serve_demo(mode="classic", task_status=task_status)
    )
    with trio.fail_after(20):
        async with open_engine_process() as client:
            result = await client.call(
                Relay(upstream_host="127.0.0.1", upstream_port=port, label="watch")
            )
            assert set(result) == {"listener_id", "host", "port", "local", "reachable"}
            assert result["host"] == "127.0.0.1" and result["reachable"] is False
            listening = (await _until(client, Listening))[-1]
            assert isinstance(listening, Listening)
            assert listening.upstream == f"127.0.0.1:{port}" and listening.role == "relay"
            assert listening.limits == {
                "max_clients": 1024,
                "idle_timeout": 600.0,
                "partial_frame_timeout": 30.0,
            }

            app = await trio.open_tcp_stream("127.0.0.1", result["port"])
            await app.send_all(encode_frames([b"hello"]))
            decoder = FrameDecoder()
            reply: list[bytes] = []
            while not reply:
                reply = decoder.feed(await app.receive_some(1024))
            assert reply == [CLASSIC_REPLY_PREFIX + b"hello"]

            events = await _until(client, PairOpened)
            opened = events[-1]
            assert isinstance(opened, PairOpened)
            relayed: list[Received] = []
            async for event in client.events():
                if isinstance(event, Received):
                    relayed.append(event)
                    if len(relayed) == 2:
                        break
            assert [(e.session_id, e.pair_id, e.direction, e.frames) for e in relayed] == [
                (opened.client_session_id, opened.pair_id, "c2s", [b"hello"]),
                (opened.upstream_session_id, opened.pair_id, "s2c", reply),
            ]

            await client.call(Send(session_id=opened.upstream_session_id, frames=[b"injected"]))
            sent = [e for e in await _until(client, Sent) if isinstance(e, Sent)]
            assert (sent[-1].pair_id, sent[-1].direction) == (opened.pair_id, "c2s")

            sessions: list[dict[str, Any]] = (await client.call(ListSessions()))["sessions"]
            assert {(s["role"], s["leg"], s["pair_id"]) for s in sessions} == {
                ("relay", "client", opened.pair_id),
                ("relay", "upstream", opened.pair_id),
            }
            (info,) = (await client.call(ListListeners()))["listeners"]
            assert (info["listener_id"], info["clients"], info["accepted"]) == (
                result["listener_id"],
                1,
                1,
            )
            await client.call(CloseListener(listener_id=result["listener_id"], close_sessions=True))
            closed = [e for e in await _until(client, PairClosed) if isinstance(e, ListenerClosed)]
            assert closed and closed[0].by == "local"
            assert (await client.call(ListListeners()))["listeners"] == []
            await app.aclose()


async def test_listen_over_ipc_with_echo_and_limits() -> None:
    with trio.fail_after(20):
        async with open_engine_process() as client:
            result = await client.call(
                Listen(port=0, framing="be16", echo=True, max_clients=3, idle_timeout=0)
            )
            listening = (await _until(client, Listening))[-1]
            assert isinstance(listening, Listening)
            assert listening.limits["idle_timeout"] == 0.0 and listening.echo
            peer = await trio.open_tcp_stream("127.0.0.1", result["port"])
            accepted = (await _until(client, Accepted))[-1]
            assert isinstance(accepted, Accepted) and accepted.listener_id == result["listener_id"]
            await peer.send_all(b"\x00\x02hi")
            assert await peer.receive_some(4) == b"\x00\x02hi"
            await peer.aclose()


BAD_REQUESTS = [
    (Listen(port=70000), "SchemaError"),
    (Listen(host=""), "SchemaError"),
    (Listen(max_clients=0), "SchemaError"),
    (Listen(partial_frame_timeout=-1), "SchemaError"),
    (Listen(framing="nonsense"), "SchemaError"),
    (Relay(upstream_host="127.0.0.1", upstream_port=0), "SchemaError"),
    (Relay(upstream_host="127.0.0.1", upstream_port=9, connect_timeout=0), "SchemaError"),
    (CloseListener(listener_id=99), "UnknownListener"),
]


async def test_bad_requests_get_clear_errors_and_the_engine_carries_on() -> None:
    with socket.socket() as taken, trio.fail_after(20):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        async with open_engine_process() as client:
            for command, error in [
                *BAD_REQUESTS,
                (Listen(port=taken.getsockname()[1]), "ListenFailed"),
            ]:
                with pytest.raises(CommandFailed) as info:
                    await client.call(command)
                assert info.value.type == error, command
            assert "in use" in info.value.message
            assert (await client.call(ListListeners()))["listeners"] == []
            assert (await client.call(Listen()))["port"] > 0
