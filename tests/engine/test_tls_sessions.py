"""TLS sessions of the engine over real loopback sockets: a client against the engine's own
TLS listener, failures as connect failures of reason "tls" with their cause, a plaintext
peer on either kind of session, and TLS relays that pass 100,000 sequence-numbered frames
each way without losing one."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio

from engine import Engine, open_engine
from engine.errors import TlsFailed
from ipc import schema
from ipc.framing import DEFAULT, FrameDecoder, encode_frames
from ipc.tls import ClientTls, ServerTls, TlsInfo
from tests.engine.helpers import start_server
from tests.tls_certs import Certs

_E = TypeVar("_E", bound=schema.Event)

RELAY_FRAMES = 100_000


class Recorder:
    """An engine's events as they come, and a wait (bounded) for one to arrive."""

    def __init__(self) -> None:
        self.events: list[schema.Event] = []
        self._changed = trio.Event()

    async def run(self, engine: Engine) -> None:
        async for event in engine.events:
            self.events.append(event)
            self._changed.set()
            self._changed = trio.Event()

    def of(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type[_E]) -> _E:
        with trio.fail_after(10):
            while not self.of(kind):
                await self._changed.wait()
        return self.of(kind)[0]


@asynccontextmanager
async def _engines() -> AsyncIterator[tuple[Engine, Recorder, Engine, Recorder]]:
    """A server engine and a client engine, with their events recorded."""
    async with open_engine() as server, open_engine() as client, trio.open_nursery() as n:
        on_server, on_client = Recorder(), Recorder()
        n.start_soon(on_server.run, server)
        n.start_soon(on_client.run, client)
        yield server, on_server, client, on_client
        n.cancel_scope.cancel()


async def _listen(server: Engine, certs: Certs, **options: Any) -> int:
    tls = ServerTls(cert=str(certs.good), **options)
    return (await server.listen("127.0.0.1", 0, echo=True, tls=tls)).port


async def test_a_verified_session_reports_what_tls_established(tls_certs: Certs) -> None:
    async with _engines() as (server, _, client, on_client):
        port = await _listen(server, tls_certs)
        session = await client.connect("localhost", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        await client.send(session, [b"hello"])
        received = await on_client.wait_for(schema.Received)
        seen = on_client.events
        assert [type(e).__name__ for e in seen[:3]] == ["Connecting", "Connected", "TlsEstablished"]
        established = seen[2]
        assert isinstance(established, schema.TlsEstablished)
        info = TlsInfo.from_wire(established.tls)
        assert info is not None and info.verified and info.server_name == "localhost"
        assert info.peer_cert is not None and "DNS:localhost" in info.peer_cert.sans
        assert received.frames == [b"hello"]
        described = client.describe(session)
        assert described is not None and described["tls"]["verified"] is True


@pytest.mark.parametrize(
    ("cert", "name", "cause"),
    [
        ("good", "db.example", "hostname"),
        ("expired", "localhost", "expired"),
        ("not_yet_valid", "localhost", "not_yet_valid"),
        ("unknown_ca", "localhost", "unknown_ca"),
        ("self_signed", "localhost", "self_signed"),
    ],
)
async def test_a_failed_handshake_is_a_tls_connect_failure(
    tls_certs: Certs, cert: str, name: str, cause: str
) -> None:
    async with _engines() as (server, on_server, client, on_client):
        tls = ServerTls(cert=str(getattr(tls_certs, cert)))
        port = (await server.listen("127.0.0.1", 0, tls=tls)).port
        with pytest.raises(TlsFailed) as caught:
            options = ClientTls(cafile=str(tls_certs.ca), server_name=name)
            await client.connect("127.0.0.1", port, tls=options)
        assert caught.value.reason == "tls" and caught.value.cause == cause
        failed = await on_client.wait_for(schema.ConnectFailed)
        assert failed.reason == "tls" and failed.details == {"tls_cause": cause}
        # The listener saw the client refuse its certificate, as a session error of kind tls.
        error = await on_server.wait_for(schema.SessionError)
        assert error.kind == "tls" and "refused our certificate" in error.message


async def test_insecure_marks_the_session_unverified(tls_certs: Certs) -> None:
    async with _engines() as (server, _, client, on_client):
        tls = ServerTls(cert=str(tls_certs.self_signed))
        port = (await server.listen("127.0.0.1", 0, tls=tls)).port
        session = await client.connect("127.0.0.1", port, tls=ClientTls(insecure=True))
        described = client.describe(session)
        assert described is not None and described["tls"]["verified"] is False
        assert "NOT VERIFIED" in described["tls"]["verification"]
        event = await on_client.wait_for(schema.TlsEstablished)
        assert event.tls["verified"] is False


async def test_mutual_tls_required_then_given(tls_certs: Certs) -> None:
    async with _engines() as (server, on_server, client, on_client):
        port = await _listen(server, tls_certs, client_ca=str(tls_certs.ca))
        # Without a certificate: TLS 1.3 completes the client's handshake, and the
        # server's "certificate required" alert ends the session as an error of kind tls.
        await client.connect("localhost", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        error = await on_client.wait_for(schema.SessionError)
        assert error.kind == "tls" and "client certificate" in error.message
        # With one, the listener verifies it and says whose it is.
        given = ClientTls(cafile=str(tls_certs.ca), cert=str(tls_certs.client))
        await client.connect("localhost", port, tls=given)
        established = await on_server.wait_for(schema.TlsEstablished)
        info = TlsInfo.from_wire(established.tls)
        assert info is not None and info.side == "server" and info.verified
        assert info.peer_cert is not None and "framewire test client" in info.peer_cert.subject


async def test_a_plaintext_server_on_a_tls_session(tls_certs: Certs) -> None:
    async with open_engine() as client, trio.open_nursery() as nursery:
        nursery.start_soon(Recorder().run, client)

        async def greet(stream: trio.SocketStream) -> None:  # a plaintext le32 server
            await stream.send_all(encode_frames([b"welcome"], DEFAULT))
            await stream.aclose()

        port = await start_server(nursery, greet)
        with pytest.raises(TlsFailed) as caught:
            await client.connect("127.0.0.1", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        assert caught.value.cause == "plaintext_peer"
        assert "does not speak TLS" in str(caught.value) and "07 00 00 00" in str(caught.value)
        nursery.cancel_scope.cancel()


async def test_a_tls_client_on_a_plaintext_listener_is_called_out() -> None:
    async with _engines() as (server, on_server, client, _):
        port = (await server.listen("127.0.0.1", 0)).port
        with pytest.raises(TlsFailed):
            await client.connect("127.0.0.1", port, tls=ClientTls(insecure=True), connect_timeout=2)
        error = await on_server.wait_for(schema.SessionError)
        assert error.kind == "tls"
        assert "TLS" in error.message and "plaintext session" in error.message


def _numbered(count: int) -> list[bytes]:
    return [struct.pack(">Q", n) + b"x" * 24 for n in range(count)]


async def _sequence_exchange(port: int, tls: ClientTls | None) -> tuple[int, int]:
    """Send RELAY_FRAMES numbered frames through the relay to an echo; check each comes
    back in order. Uses a raw trio client stream (TLS or not)."""
    from engine.tls import client_context

    stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", port)
    if tls is not None:
        ssl_stream = trio.SSLStream(stream, client_context(tls), server_hostname="localhost")
        await ssl_stream.do_handshake()
        stream = ssl_stream
    payload = encode_frames(_numbered(RELAY_FRAMES), DEFAULT)
    decoder = FrameDecoder(DEFAULT)
    got = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream.send_all, payload)
        with trio.fail_after(60):
            while got < RELAY_FRAMES:
                for frame in decoder.feed(await stream.receive_some(1 << 20)):
                    assert struct.unpack_from(">Q", frame)[0] == got
                    got += 1
    await trio.aclose_forcefully(stream)
    return got, len(payload)


@pytest.mark.parametrize("upstream_tls", [True, False], ids=["tls-tls", "tls-plaintext"])
async def test_relay_passes_numbered_frames_each_way(tls_certs: Certs, upstream_tls: bool) -> None:
    async with _engines() as (server, _, relay, _):
        if upstream_tls:
            upstream = await _listen(server, tls_certs)
        else:
            upstream = (await server.listen("127.0.0.1", 0, echo=True)).port
        listening = await relay.relay(
            "127.0.0.1",
            0,
            "localhost",
            upstream,
            tls=ServerTls(cert=str(tls_certs.good)),
            upstream_tls=ClientTls(cafile=str(tls_certs.ca)) if upstream_tls else None,
        )
        got, _ = await _sequence_exchange(listening.port, ClientTls(cafile=str(tls_certs.ca)))
        assert got == RELAY_FRAMES
