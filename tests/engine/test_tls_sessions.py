"""TLS sessions of the engine over real loopback sockets: a client against the engine's own
TLS listener, failures as connect failures of reason "tls" with their cause, a plaintext
peer on either kind of session, and TLS relays that pass 100,000 sequence-numbered frames
each way without losing one."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from engine import Engine, open_engine
from engine.errors import TlsFailed
from ipc import schema
from ipc.framing import DEFAULT, FrameDecoder, encode_frames
from ipc.tls import ClientTls, ServerTls, TlsInfo
from tests.engine.helpers import start_server
from tests.tls_certs import Certs

RELAY_FRAMES = 100_000


@asynccontextmanager
async def _engines() -> AsyncIterator[tuple[Engine, Engine, list[schema.Event]]]:
    """A server engine (events collected) and a client engine (events read by the test)."""
    server_events: list[schema.Event] = []
    async with open_engine() as server, open_engine() as client, trio.open_nursery() as n:

        async def collect() -> None:
            async for event in server.events:
                server_events.append(event)

        n.start_soon(collect)
        yield server, client, server_events
        n.cancel_scope.cancel()


async def _listen(server: Engine, certs: Certs, **options: Any) -> int:
    tls = ServerTls(cert=str(certs.good), **options)
    return (await server.listen("127.0.0.1", 0, echo=True, tls=tls)).port


async def _until(engine: Engine, kind: type[schema.Event]) -> list[schema.Event]:
    seen: list[schema.Event] = []
    with trio.fail_after(10):
        async for event in engine.events:
            seen.append(event)
            if isinstance(event, kind):
                return seen
    raise AssertionError(f"no {kind.__name__}")


async def test_a_verified_session_reports_what_tls_established(tls_certs: Certs) -> None:
    async with _engines() as (server, client, _), trio.open_nursery() as nursery:
        port = await _listen(server, tls_certs)
        result: list[list[schema.Event]] = []

        async def read() -> None:
            result.append(await _until(client, schema.Received))

        nursery.start_soon(read)
        session = await client.connect("localhost", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        await client.send(session, [b"hello"])
        with trio.fail_after(10):
            while not result:
                await trio.sleep(0.01)  # the reader task finishes; bounded by fail_after
        seen = result[0]
        assert [type(e).__name__ for e in seen[:3]] == ["Connecting", "Connected", "TlsEstablished"]
        established = seen[2]
        assert isinstance(established, schema.TlsEstablished)
        info = TlsInfo.from_wire(established.tls)
        assert info is not None and info.verified and info.server_name == "localhost"
        assert info.peer_cert is not None and "DNS:localhost" in info.peer_cert.sans
        assert isinstance(seen[-1], schema.Received) and seen[-1].frames == [b"hello"]
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
    async with _engines() as (server, client, server_events), trio.open_nursery() as nursery:
        tls = ServerTls(cert=str(getattr(tls_certs, cert)))
        port = (await server.listen("127.0.0.1", 0, tls=tls)).port
        events: list[list[schema.Event]] = []

        async def read() -> None:
            events.append(await _until(client, schema.ConnectFailed))

        nursery.start_soon(read)
        with pytest.raises(TlsFailed) as caught:
            options = ClientTls(cafile=str(tls_certs.ca), server_name=name)
            await client.connect("127.0.0.1", port, tls=options)
        assert caught.value.reason == "tls" and caught.value.cause == cause
        with trio.fail_after(10):
            while not events:
                await trio.sleep(0.01)
        failed = events[0][-1]
        assert isinstance(failed, schema.ConnectFailed) and failed.reason == "tls"
        assert failed.details == {"tls_cause": cause}
        # The listener saw the client refuse its certificate, as a session error of kind tls.
        with trio.fail_after(10):
            while not any(isinstance(e, schema.Closed) for e in server_events):
                await trio.sleep(0.01)
        errors = [e for e in server_events if isinstance(e, schema.SessionError)]
        assert errors and errors[0].kind == "tls" and "refused our certificate" in errors[0].message


async def test_insecure_marks_the_session_unverified(tls_certs: Certs) -> None:
    async with _engines() as (server, client, _), trio.open_nursery() as nursery:
        tls = ServerTls(cert=str(tls_certs.self_signed))
        port = (await server.listen("127.0.0.1", 0, tls=tls)).port
        seen: list[list[schema.Event]] = []
        nursery.start_soon(lambda: _collect(client, schema.TlsEstablished, seen))
        session = await client.connect("127.0.0.1", port, tls=ClientTls(insecure=True))
        described = client.describe(session)
        assert described is not None and described["tls"]["verified"] is False
        assert "NOT VERIFIED" in described["tls"]["verification"]
        await _wait(seen)
        event = seen[0][-1]
        assert isinstance(event, schema.TlsEstablished) and event.tls["verified"] is False


async def _collect(
    engine: Engine, kind: type[schema.Event], into: list[list[schema.Event]]
) -> None:
    into.append(await _until(engine, kind))


async def _wait(box: list[Any]) -> None:
    with trio.fail_after(10):
        while not box:
            await trio.sleep(0.01)


async def test_mutual_tls_required_then_given(tls_certs: Certs) -> None:
    async with _engines() as (server, client, server_events), trio.open_nursery() as nursery:
        port = await _listen(server, tls_certs, client_ca=str(tls_certs.ca))
        errors: list[list[schema.Event]] = []
        nursery.start_soon(_collect, client, schema.Closed, errors)
        # Without a certificate: TLS 1.3 completes the client's handshake, and the
        # server's "certificate required" alert ends the session as an error of kind tls.
        await client.connect("localhost", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        await _wait(errors)
        error = [e for e in errors[0] if isinstance(e, schema.SessionError)]
        assert error and error[0].kind == "tls" and "client certificate" in error[0].message
        # With one, the listener verifies it and says whose it is.
        given = ClientTls(cafile=str(tls_certs.ca), cert=str(tls_certs.client))
        await client.connect("localhost", port, tls=given)
        with trio.fail_after(10):
            while sum(isinstance(e, schema.TlsEstablished) for e in server_events) < 1:
                await trio.sleep(0.01)
        established = next(e for e in server_events if isinstance(e, schema.TlsEstablished))
        info = TlsInfo.from_wire(established.tls)  # type: ignore[attr-defined]
        assert info is not None and info.side == "server" and info.verified
        assert info.peer_cert is not None and "framewire test client" in info.peer_cert.subject


async def test_a_plaintext_server_on_a_tls_session(tls_certs: Certs) -> None:
    async with open_engine() as client, trio.open_nursery() as nursery:

        async def greet(stream: trio.SocketStream) -> None:  # a plaintext le32 server
            await stream.send_all(encode_frames([b"welcome"], DEFAULT))
            await stream.aclose()

        port = await start_server(nursery, greet)
        nursery.start_soon(_drain, client)
        with pytest.raises(TlsFailed) as caught:
            await client.connect("127.0.0.1", port, tls=ClientTls(cafile=str(tls_certs.ca)))
        assert caught.value.cause == "plaintext_peer"
        assert "does not speak TLS" in str(caught.value) and "07 00 00 00" in str(caught.value)
        nursery.cancel_scope.cancel()


async def test_a_tls_client_on_a_plaintext_listener_is_called_out() -> None:
    async with _engines() as (server, client, server_events), trio.open_nursery() as nursery:
        port = (await server.listen("127.0.0.1", 0)).port
        nursery.start_soon(_drain, client)
        with pytest.raises(TlsFailed):
            await client.connect("127.0.0.1", port, tls=ClientTls(insecure=True), connect_timeout=2)
        with trio.fail_after(10):
            while not any(isinstance(e, schema.SessionError) for e in server_events):
                await trio.sleep(0.01)
        error = next(e for e in server_events if isinstance(e, schema.SessionError))
        assert isinstance(error, schema.SessionError) and error.kind == "tls"
        assert "TLS" in error.message and "plaintext session" in error.message
        nursery.cancel_scope.cancel()


async def _drain(engine: Engine) -> None:
    async for _ in engine.events:
        pass


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
    async with _engines() as (server, relay, _), trio.open_nursery() as nursery:
        if upstream_tls:
            upstream = await _listen(server, tls_certs)
        else:
            upstream = (await server.listen("127.0.0.1", 0, echo=True)).port
        nursery.start_soon(_drain, relay)
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
        nursery.cancel_scope.cancel()
