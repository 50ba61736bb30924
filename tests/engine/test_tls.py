"""engine.tls: the handshake over a memory stream pair, what it establishes and how each
failure is named (the engine's sessions over real sockets: test_tls_sessions.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.errors import TlsConfigError, TlsFailed
from engine.tls import (
    TlsStream,
    client_context,
    failure_after_handshake,
    handshake,
    server_context,
    ssl_internals,
)
from ipc.tls import ClientTls, ServerTls, TlsInfo
from tests.tls_certs import Certs

Outcome = tuple[TlsInfo | TlsFailed, TlsInfo | TlsFailed, bytes | Exception | None]


async def _pair(
    server: ServerTls,
    client: ClientTls,
    *,
    name: str = "localhost",
    server_says: bytes = b"hello",
) -> Outcome:
    """Handshake both sides; the server then writes ``server_says``, the client reads."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    results: dict[str, TlsInfo | TlsFailed] = {}
    read: bytes | Exception | None = None
    deadline = trio.current_time() + 5  # load-safe: fails loudly, far beyond a handshake

    async def serve() -> None:
        try:
            tls, info = await handshake(
                server_stream,
                server_context(server),
                deadline=deadline,
                where="client",
                server=server,
            )
        except TlsFailed as exc:
            results["server"] = exc
            await server_stream.aclose()
            return
        results["server"] = info
        await tls.send_all(server_says)
        await tls.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        try:
            tls, info = await handshake(
                client_stream,
                client_context(client),
                deadline=deadline,
                where=f"{name}:9000",
                client=client,
                server_name=name,
            )
        except TlsFailed as exc:
            results["client"] = exc
            await client_stream.aclose()
        else:
            results["client"] = info
            try:
                read = bytes(await tls.receive_some())
            except trio.BrokenResourceError as exc:
                read = exc
            await tls.aclose()
    return results["client"], results["server"], read


async def test_a_good_certificate_is_verified_and_described(tls_certs: Certs) -> None:
    client, server, read = await _pair(
        ServerTls(cert=str(tls_certs.good), alpn=("fw/1",)),
        ClientTls(cafile=str(tls_certs.ca), alpn=("fw/2", "fw/1")),
    )
    assert isinstance(client, TlsInfo) and isinstance(server, TlsInfo)
    assert read == b"hello"
    assert client.version == "TLSv1.3" and client.cipher and client.bits >= 128
    assert client.alpn == "fw/1" and server.alpn == "fw/1"
    assert client.verified and "verified" in client.verification
    assert str(tls_certs.ca) in client.verification
    cert = client.peer_cert
    assert cert is not None
    assert "CN=localhost" in cert.subject and "framewire tests" in cert.issuer
    assert "DNS:localhost" in cert.sans and "IP:127.0.0.1" in cert.sans
    assert cert.not_before < cert.not_after and cert.not_after.endswith("Z")
    assert len(cert.sha256.split(":")) == 32
    # The listener did not ask for a client certificate: not authenticated, and it says so.
    assert not server.verified and server.peer_cert is None
    assert TlsInfo.from_wire(client.to_wire()) == client


@pytest.mark.parametrize(
    ("cert", "name", "cause", "words"),
    [
        ("good", "127.0.0.2", "hostname", "wrong host name"),
        ("expired", "localhost", "expired", "has expired"),
        ("not_yet_valid", "localhost", "not_yet_valid", "not valid yet"),
        ("unknown_ca", "localhost", "unknown_ca", "unknown CA"),
        ("self_signed", "localhost", "self_signed", "self-signed"),
    ],
)
async def test_verification_failures_name_their_cause(
    tls_certs: Certs, cert: str, name: str, cause: str, words: str
) -> None:
    client, server, _ = await _pair(
        ServerTls(cert=str(getattr(tls_certs, cert))),
        ClientTls(cafile=str(tls_certs.ca)),
        name=name,
    )
    assert isinstance(client, TlsFailed)
    assert client.reason == "tls" and client.cause == cause
    assert words in str(client) and "TLS handshake with" in str(client)
    # The client's alert reaches the listener, which says its certificate was refused.
    assert isinstance(server, TlsFailed) and "refused our certificate" in str(server)


async def test_insecure_connects_and_is_marked_unverified(tls_certs: Certs) -> None:
    client, _, read = await _pair(
        ServerTls(cert=str(tls_certs.self_signed)), ClientTls(insecure=True)
    )
    assert isinstance(client, TlsInfo) and read == b"hello"
    assert not client.verified
    assert "NOT VERIFIED" in client.verification and "NOT VERIFIED" in client.summary()
    assert client.peer_cert is not None and client.peer_cert.subject == "CN=localhost"


async def test_mutual_tls_required_and_given(tls_certs: Certs) -> None:
    client, server, read = await _pair(
        ServerTls(cert=str(tls_certs.good), client_ca=str(tls_certs.ca)),
        ClientTls(cafile=str(tls_certs.ca), cert=str(tls_certs.client)),
    )
    assert isinstance(client, TlsInfo) and isinstance(server, TlsInfo) and read == b"hello"
    assert server.verified and str(tls_certs.ca) in server.verification
    assert server.peer_cert is not None and "framewire test client" in server.peer_cert.subject


async def test_mutual_tls_required_and_missing_tls13(tls_certs: Certs) -> None:
    # TLS 1.3: the client's handshake completes; the refusal comes on its first read.
    client, server, read = await _pair(
        ServerTls(cert=str(tls_certs.good), client_ca=str(tls_certs.ca)),
        ClientTls(cafile=str(tls_certs.ca)),
    )
    assert isinstance(server, TlsFailed) and server.cause == "client_cert_required"
    assert isinstance(client, TlsInfo) and isinstance(read, trio.BrokenResourceError)
    message = failure_after_handshake(read)
    assert message is not None and "requires a client certificate" in message


async def test_mutual_tls_required_and_missing_tls12(tls_certs: Certs) -> None:
    client, server, _ = await _pair(
        ServerTls(cert=str(tls_certs.good), client_ca=str(tls_certs.ca), max_version="1.2"),
        ClientTls(cafile=str(tls_certs.ca)),
    )
    assert isinstance(server, TlsFailed) and server.cause == "client_cert_required"
    assert isinstance(client, TlsFailed) and "client certificate" in str(client)


async def test_a_client_certificate_from_an_unknown_ca_is_refused(tls_certs: Certs) -> None:
    _, server, read = await _pair(
        ServerTls(cert=str(tls_certs.good), client_ca=str(tls_certs.ca)),
        ClientTls(cafile=str(tls_certs.ca), cert=str(tls_certs.client_unknown_ca)),
    )
    assert isinstance(server, TlsFailed) and server.cause == "unknown_ca"
    assert isinstance(read, trio.BrokenResourceError)
    message = failure_after_handshake(read)
    assert message is not None and "refused our certificate" in message


async def test_no_common_version(tls_certs: Certs) -> None:
    client, server, _ = await _pair(
        ServerTls(cert=str(tls_certs.good), max_version="1.2"),
        ClientTls(cafile=str(tls_certs.ca), min_version="1.3"),
    )
    assert isinstance(client, TlsFailed) and client.cause == "version"
    assert isinstance(server, TlsFailed) and server.cause == "version"


async def _against(peer: bytes | None, *, close: bool) -> TlsFailed:
    """A client handshake against a plaintext peer that writes ``peer`` (if any) and
    closes, or stays silent."""
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def plaintext_peer() -> None:
        if peer is not None:
            await server_stream.send_all(peer)
        if close:
            await server_stream.send_eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(plaintext_peer)
        with pytest.raises(TlsFailed) as caught:
            await handshake(
                client_stream,
                client_context(ClientTls()),
                deadline=trio.current_time() + 10,  # load-safe: fails loudly
                where="127.0.0.1:9000",
                client=ClientTls(),
                server_name="127.0.0.1",
            )
        nursery.cancel_scope.cancel()
    return caught.value


async def test_a_plaintext_peer_is_called_out() -> None:
    http = await _against(b"HTTP/1.1 400 Bad Request\r\n\r\n", close=False)
    assert http.cause == "plaintext_peer"
    assert "does not speak TLS" in str(http) and "HTTP/1.1" in str(http)
    framed = await _against(b"\x05\x00\x00\x00hello", close=True)
    assert framed.cause == "plaintext_peer" and "05 00 00 00" in str(framed)
    closed = await _against(None, close=True)
    assert closed.cause == "closed" and "does it speak TLS" in str(closed)


async def test_a_silent_peer_times_out(autojump_clock: trio.testing.MockClock) -> None:
    failure = await _against(None, close=False)
    assert failure.cause == "timeout" and "sent no TLS handshake reply" in str(failure)


def test_bad_files_are_config_errors(tls_certs: Certs, tmp_path: Path) -> None:
    with pytest.raises(TlsConfigError, match=r"CA file .*nowhere\.pem"):
        client_context(ClientTls(cafile=str(tmp_path / "nowhere.pem")))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(TlsConfigError, match=r"junk\.pem"):
        server_context(ServerTls(cert=str(junk)))
    with pytest.raises(TlsConfigError, match="client CA file"):
        server_context(ServerTls(cert=str(tls_certs.good), client_ca=str(junk)))


def test_contexts_are_shared_until_a_file_changes(tls_certs: Certs, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(tls_certs.ca.read_bytes())
    options = ClientTls(cafile=str(ca))
    first = client_context(options)
    assert client_context(options) is first
    assert first.minimum_version == ssl.TLSVersion.TLSv1_2
    ca.write_bytes(tls_certs.ca.read_bytes() + tls_certs.other_ca.read_bytes())
    assert client_context(options) is not first


def test_options_round_trip_and_refuse_bad_values() -> None:
    options = ClientTls(cafile="ca.pem", alpn=("h2",), server_name="db", min_version="1.3")
    assert ClientTls.from_wire(options.to_wire()) == options
    assert ClientTls.from_wire({}) == ClientTls()
    for bad in ({"min_version": "1.4"}, {"alpn": "h2"}, {"insecure": "yes"}, {"key": "k.pem"}):
        with pytest.raises(ValueError):
            ClientTls.from_wire(bad)
    with pytest.raises(ValueError, match="below"):
        ClientTls(min_version="1.3", max_version="1.2")
    listener = ServerTls(cert="c.pem", client_ca="ca.pem")
    assert ServerTls.from_wire(listener.to_wire()) == listener
    with pytest.raises(ValueError, match="certificate"):
        ServerTls.from_wire({})


async def _connected(certs: Certs) -> tuple[TlsStream, TlsStream, trio.abc.Stream]:
    """A client and a server TLS stream over memory streams, and the server's transport."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    server_options = ServerTls(cert=str(certs.good))
    client_options = ClientTls(cafile=str(certs.ca))
    deadline = trio.current_time() + 60  # load-safe: a timeout only, 100x the handshake
    servers: list[TlsStream] = []

    async def serve() -> None:
        tls, _ = await handshake(
            server_stream,
            server_context(server_options),
            deadline=deadline,
            where="client",
            server=server_options,
        )
        servers.append(tls)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        client, _ = await handshake(
            client_stream,
            client_context(client_options),
            deadline=deadline,
            where="localhost:9000",
            client=client_options,
            server_name="localhost",
        )
    return client, servers[0], server_stream


async def test_a_read_decrypts_every_record_already_received(tls_certs: Certs) -> None:
    # ssl decrypts one record (16 KiB) per call; each SSLStream read is a trip through
    # trio's scheduler. A read takes every record that came, up to max_bytes.
    client, server, _ = await _connected(tls_certs)
    payload = bytes(range(256)) * 800  # 200 KiB: 13 records, in the client's buffer at once
    await server.send_all(payload)
    assert await client.receive_some(1 << 20) == payload
    await server.send_all(payload)
    assert await client.receive_some(50_000) == payload[:50_000]
    assert await client.receive_some(1 << 20) == payload[50_000:]
    await server.aclose()
    assert await client.receive_some(1 << 20) == b""


async def test_a_bad_record_is_raised_after_the_good_ones(tls_certs: Certs) -> None:
    client, server, transport = await _connected(tls_certs)
    payload = b"x" * 40_000  # 3 records, then one whose MAC cannot be right
    await server.send_all(payload)
    await transport.send_all(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
    assert await client.receive_some(1 << 20) == payload
    with pytest.raises(trio.BrokenResourceError) as caught:
        await client.receive_some(1 << 20)
    assert isinstance(caught.value.__cause__, ssl.SSLError)


def test_trio_still_has_the_ssl_stream_parts_engine_tls_reads() -> None:
    # engine.tls reads SSLStream's SSLObject and memory BIOs (private attributes): the
    # reads of many records at once and the alert of a failed handshake depend on them.
    # Without them TLS still works, slower and without alerts: this says so on a trio
    # upgrade instead of letting it pass unnoticed (test_verification_failures_name_their
    # _cause sees the alert, test_a_read_decrypts_every_record_already_received the reads).
    stream, _ = trio.testing.memory_stream_pair()
    tls: trio.SSLStream[trio.abc.Stream] = trio.SSLStream(
        stream, ssl.create_default_context(), server_hostname="localhost"
    )
    internals = ssl_internals(tls)
    assert internals is not None, f"trio {trio.__version__} moved SSLStream's internals"
    assert internals.tls_object.server_hostname == "localhost"
