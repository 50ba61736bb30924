"""TLS under the framing: contexts, the handshake, what it established, why it failed.

A TLS session is a session whose stream is trio's ``SSLStream`` over Python's ``ssl``,
wrapped around its TCP stream before the first frame (docs/design.md, "Roles and
layers"): the framing codec, the counters, flow control and close/abort never know.

* ``client_context``/``server_context`` build an ``ssl.SSLContext`` from the options the
  IPC carries (``ipc.tls.ClientTls``/``ServerTls``): verification on, TLS 1.2 minimum,
  cached while the files they name stay the same. A file that cannot be read is a
  ``TlsConfigError`` before any connection.
* ``handshake`` wraps a stream and performs the handshake within a deadline. It returns
  the ``TlsStream`` and a ``TlsInfo`` (version, cipher, ALPN, the peer's certificate,
  the verification result), or raises ``TlsFailed`` with a cause (``ipc.tls.TlsCause``)
  and a sentence that names it: expired, wrong host name, unknown CA, self-signed, client
  certificate required, version refused, a plaintext peer (what it sent, through
  ``ipc.diagnosis``), closed, timed out.
* ``failure_after_handshake`` says the same about an error on a TLS session's first
  reads: with TLS 1.3 a server that wants a client certificate says so only after the
  client's handshake is complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import trio

from engine.errors import TlsConfigError, TlsFailed
from engine.streams import Connect, Transport
from ipc import schema
from ipc.cli_args import format_address
from ipc.diagnosis import looks_like
from ipc.tls import ClientTls, PeerCert, ServerTls, TlsCause, TlsInfo

if TYPE_CHECKING:
    from cryptography import x509

    from engine.session import Session

__all__ = [
    "HANDSHAKE_SECONDS",
    "HEAD_BYTES",
    "TLS_RECORD_BYTES",
    "TRANSPORT_READ_BYTES",
    "SSLInternals",
    "SecureConnect",
    "ServerHandshake",
    "TlsStream",
    "client_context",
    "failure_after_handshake",
    "handshake",
    "peer_certificate",
    "server_context",
    "ssl_internals",
]

#: The most plaintext one TLS record holds (RFC 8446, 5.1): ``ssl`` returns at most this
#: much per read.
TLS_RECORD_BYTES = 16384
#: What a TLS session reads from its socket at once (up to): many records. Larger than a
#: plaintext session's 1 MiB (``engine.session.RECEIVE_BYTES``): decrypted records are
#: returned up to the size asked for, so a 1 MiB body then usually comes whole in one
#: read instead of being joined from two. The bytes are copied into ``SSLStream``'s
#: incoming buffer at once: the 4 MiB is transient, and bounds what one read buffers.
TRANSPORT_READ_BYTES = 4 * 1024 * 1024

#: First bytes of the peer kept during a handshake, to say what a plaintext peer sent.
HEAD_BYTES = 64

#: How long an accepted client has for its handshake.
HANDSHAKE_SECONDS = 10.0
#: How long a failed handshake may take to send its alert to the peer.
_ALERT_SECONDS = 1.0

_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h), as SSLCertVerificationError.verify_code.
_CERT_NOT_YET_VALID = 9
_CERT_HAS_EXPIRED = 10
_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_SELF_SIGNED_CERT_IN_CHAIN = 19
_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_UNABLE_TO_GET_ISSUER_CERT = 2
_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_HOSTNAME_MISMATCH = 62
_IP_ADDRESS_MISMATCH = 64

# OpenSSL reason codes (SSLError.reason) and what they mean here.
_PLAINTEXT_REASONS = {
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNKNOWN_PROTOCOL",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "RECORD_LENGTH_MISMATCH",
    "UNEXPECTED_RECORD",
    "WRONG_SSL_VERSION",
}
_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
}
_CLIENT_CERT_REQUIRED_REASONS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE",
}
#: Alerts the peer sends when it did not accept our certificate.
_CERT_REJECTED_REASONS = {
    "TLSV1_ALERT_UNKNOWN_CA": "issued by a CA it does not trust",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "expired",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "not acceptable",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "of an unsupported kind",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "denied access",
}


class TlsStream(trio.abc.Stream):
    """A session's TLS stream: trio's ``SSLStream`` (``ssl``), whose peer may close
    without a TLS ``close_notify``, and whose reads return every record already received.

    Most servers of framed protocols close the TCP connection without ``close_notify``. A
    frame says where it ends, so a connection ending without it between frames is an end
    of stream (``b""``) like any other, and one ending in the middle of a frame is still
    caught by the framing (a truncated frame). Our own ``aclose`` sends ``close_notify``
    (``https_compatible`` False). ``SSLStream`` is final, hence a wrapper.

    Reads: ``ssl`` decrypts one TLS record (at most 16 KiB) per call, and each of
    ``SSLStream.receive_some``'s calls passes through trio's scheduler. A 1 MiB frame
    took 64 of them: 0.4x the MB/s of a blocking ``ssl`` socket (``make bench
    ARGS="--only tls"``; the README's TLS section says what bounds it now). So the
    transport is read in large pieces (``TRANSPORT_READ_BYTES``), and after
    ``SSLStream.receive_some`` returns a record, the records already in its incoming
    buffer are decrypted in the same call, up to ``max_bytes``: one trip through the
    scheduler per transport read. This reads ``SSLStream``'s ``SSLObject`` and incoming
    ``MemoryBIO``, private attributes (``ssl_internals``; a test fails if a trio release
    renames them, and without them reads fall back to one record each). Decrypting
    from the buffer never waits and never writes to the transport: what OpenSSL wants
    to send in reply (a TLS 1.3 key update) waits in the outgoing buffer for
    ``SSLStream``'s next operation, in order. An error found there is raised by the
    next ``receive_some``, after the records before it have been returned.
    """

    __slots__ = ("_error", "_incoming", "_object", "ssl")

    def __init__(self, ssl_stream: trio.SSLStream[trio.abc.Stream]) -> None:
        self.ssl = ssl_stream
        internals = ssl_internals(ssl_stream)
        self._object = internals.tls_object if internals is not None else None
        self._incoming = internals.incoming if internals is not None else None
        self._error: ssl.SSLError | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            if self._error is not None:
                raise trio.BrokenResourceError("TLS error") from self._error
            data = await self.ssl.receive_some(
                None if max_bytes is None else min(max_bytes, TLS_RECORD_BYTES)
            )
        except trio.BrokenResourceError as exc:
            if _is_ragged_eof(exc.__cause__):
                return b""
            raise
        if (
            data
            and max_bytes is not None
            and len(data) < max_bytes
            and self._incoming is not None
            and self._incoming.pending
        ):
            return self._decrypt_buffered(data, max_bytes)
        return data

    def _decrypt_buffered(self, first: bytes | bytearray, max_bytes: int) -> bytes | bytearray:
        """``first`` and what the records already received decrypt to (up to ``max_bytes``)."""
        assert self._object is not None
        read = self._object.read
        parts = [first]
        have = len(first)
        while have < max_bytes:
            try:
                more = read(min(max_bytes - have, TLS_RECORD_BYTES))
            except ssl.SSLWantReadError:
                break  # the rest of the next record is still on its way
            except ssl.SSLError as exc:
                self._error = exc  # for the next call, after these bytes
                break
            if not more:
                break  # close_notify: the next call reads the end of stream
            parts.append(more)
            have += len(more)
        return first if len(parts) == 1 else b"".join(parts)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.ssl.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.ssl.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Send ``close_notify`` (without waiting for the peer's) and close the socket."""
        await self.ssl.aclose()


class SSLInternals(NamedTuple):
    """What ``engine.tls`` reads of a ``trio.SSLStream`` beyond its public API."""

    #: The ``ssl.SSLObject`` doing the TLS (``_ssl_object``).
    tls_object: ssl.SSLObject
    #: Its memory BIOs: what came from the peer, not yet decrypted (``_incoming``), and
    #: what OpenSSL wrote for the peer, not yet sent (``_outgoing``).
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


def ssl_internals(tls: trio.SSLStream[trio.abc.Stream]) -> SSLInternals | None:
    """``tls``'s ``SSLObject`` and memory BIOs: private attributes of trio's ``SSLStream``
    (trio 0.22 to 0.35 at least), or None if this trio keeps them elsewhere. Without them
    reads return one record each and a failed handshake sends no alert: nothing breaks,
    but tests/engine/test_tls.py fails so that a trio upgrade cannot slow TLS silently."""
    tls_object = getattr(tls, "_ssl_object", None)
    incoming = getattr(tls, "_incoming", None)
    outgoing = getattr(tls, "_outgoing", None)
    if (
        isinstance(tls_object, ssl.SSLObject)
        and isinstance(incoming, ssl.MemoryBIO)
        and isinstance(outgoing, ssl.MemoryBIO)
    ):
        return SSLInternals(tls_object, incoming, outgoing)
    return None


class _LargeReads(trio.abc.Stream):
    """The transport under a TLS session's ``SSLStream`` once the handshake is done:
    ``SSLStream`` reads it with no size (trio's socket streams then read 64 KiB); this
    reads ``TRANSPORT_READ_BYTES``, so one read brings many records."""

    __slots__ = ("inner",)

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes or TRANSPORT_READ_BYTES)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _is_ragged_eof(exc: BaseException | None) -> bool:
    # OpenSSL 3 reports a TCP close without close_notify as SSLEOFError (or, on some
    # systems, SSLSyscallError with errno 0: trio's own _is_eof has the same test).
    return isinstance(exc, ssl.SSLEOFError) or (
        isinstance(exc, ssl.SSLError) and "UNEXPECTED_EOF" in str(exc)
    )


# ----------------------------------------------------------------------------- contexts


def _stamp(path: str) -> tuple[str, int, int]:
    """A file's identity for the context cache: a changed file makes a new context."""
    if not path:
        return ("", 0, 0)
    try:
        info = os.stat(path)
    except OSError:
        return (path, -1, -1)  # reported when the context is built
    return (path, info.st_mtime_ns, info.st_size)


def client_context(options: ClientTls) -> ssl.SSLContext:
    """The ``SSLContext`` for a client side with ``options``.

    Raises:
        TlsConfigError: a file cannot be read or holds no certificate or key.
    """
    stamps = tuple(map(_stamp, (options.cafile, options.cert, options.key)))
    return _client_context(options, stamps)


@functools.lru_cache(maxsize=32)
def _client_context(options: ClientTls, stamps: object) -> ssl.SSLContext:
    # Loading the system's CAs takes milliseconds; sessions with the same options share
    # one context (an SSLContext may serve many connections at once).
    try:
        context = ssl.create_default_context(cafile=options.cafile or None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"cannot load the CA file {options.cafile}: {_why(exc)}") from None
    if not options.cafile and not context.cert_store_stats()["x509_ca"]:
        # No system store: every server would fail as "unknown CA"; say why up front.
        context.load_default_certs()
    _versions(context, options.min_version, options.max_version)
    if options.alpn:
        context.set_alpn_protocols(list(options.alpn))
    if options.cert:
        _load_chain(context, options.cert, options.key, "client certificate")
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def server_context(options: ServerTls) -> ssl.SSLContext:
    """The ``SSLContext`` for a listening side with ``options``.

    Raises:
        TlsConfigError: a file cannot be read or holds no certificate or key.
    """
    stamps = tuple(map(_stamp, (options.cert, options.key, options.client_ca)))
    return _server_context(options, stamps)


@functools.lru_cache(maxsize=32)
def _server_context(options: ServerTls, stamps: object) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _versions(context, options.min_version, options.max_version)
    _load_chain(context, options.cert, options.key, "certificate")
    if options.alpn:
        context.set_alpn_protocols(list(options.alpn))
    if options.client_ca:
        try:
            context.load_verify_locations(cafile=options.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(
                f"cannot load the client CA file {options.client_ca}: {_why(exc)}"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _versions(context: ssl.SSLContext, low: str, high: str) -> None:
    try:
        context.minimum_version = _VERSIONS[low]
        if high:
            context.maximum_version = _VERSIONS[high]
    except (ValueError, ssl.SSLError) as exc:
        raise TlsConfigError(f"this OpenSSL cannot limit TLS to {low}-{high}: {exc}") from None


def _load_chain(context: ssl.SSLContext, cert: str, key: str, what: str) -> None:
    try:
        context.load_cert_chain(cert, key or None)
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            raise TlsConfigError(
                f"cannot load the {what} {cert}{f' with key {key}' if key else ''}: "
                f"{_why(exc)} (PEM files; the key may be in the certificate's file)"
            ) from None
        raise TlsConfigError(
            f"cannot load the {what} {exc.filename or cert}: {_why(exc)}"
        ) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return (exc.reason or str(exc)).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


# ---------------------------------------------------------------------------- handshake


class _HeadRecorder(trio.abc.Stream):
    """The transport under a TLS stream, keeping the peer's first bytes (what a plaintext
    peer said is worth quoting). One extra call per transport read; reads are large."""

    __slots__ = ("head", "inner")

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.head = b""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.inner.send_eof()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True, slots=True)
class _Side:
    """Who we are in a handshake and what we asked for (for the sentences)."""

    kind: Literal["client", "server"]
    where: str
    server_name: str = ""
    cafile: str = ""
    client_cert: bool = False
    insecure: bool = False
    client_ca: str = ""

    @property
    def peer(self) -> str:
        return "server" if self.kind == "client" else "client"


async def handshake(
    stream: trio.abc.Stream,
    context: ssl.SSLContext,
    *,
    deadline: float,
    where: str,
    client: ClientTls | None = None,
    server: ServerTls | None = None,
    server_name: str = "",
) -> tuple[TlsStream, TlsInfo]:
    """Wrap ``stream`` in TLS and perform the handshake before ``deadline`` (trio clock).

    ``client`` or ``server``: the side we are, with its options; ``server_name`` is the
    name to send as SNI and to check (client side; an IP address is checked, not sent).
    ``where`` names the peer in messages ("127.0.0.1:9000").

    Raises:
        TlsFailed: the handshake failed or timed out (``cause`` says why).
    """
    if client is not None:
        side = _Side(
            "client",
            where,
            server_name=server_name,
            cafile=client.cafile,
            client_cert=bool(client.cert),
            insecure=client.insecure,
        )
    else:
        assert server is not None
        side = _Side("server", where, client_ca=server.client_ca)
    recorder = _HeadRecorder(stream)
    tls: trio.SSLStream[trio.abc.Stream] = trio.SSLStream(
        recorder,
        context,
        server_side=side.kind == "server",
        server_hostname=(server_name or None) if side.kind == "client" else None,
    )
    with trio.move_on_at(deadline) as scope:
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError as exc:
            cause, message = _classify(exc.__cause__, side, recorder.head)
            await _send_alert(tls, stream)
            raise TlsFailed(cause, message) from exc
    if scope.cancelled_caught:
        if recorder.head:
            cause, message = _plaintext(side, recorder.head, "sent no TLS reply")
        else:
            cause, message = "timeout", f"{side.peer} {where} sent no TLS handshake reply"
        raise TlsFailed(cause, f"TLS handshake with {where} timed out: {message}")
    # The head is known; from here the transport is read directly, in large pieces
    # (``transport_stream`` is SSLStream's public attribute for the stream under it).
    tls.transport_stream = _LargeReads(stream)
    return TlsStream(tls), _info(tls, side, context)


async def _send_alert(tls: trio.SSLStream[trio.abc.Stream], stream: trio.abc.Stream) -> None:
    """Send the alert OpenSSL wrote when our side failed the handshake (``unknown ca``,
    ``certificate required``, ``protocol version``...), so the peer learns why rather
    than seeing the connection close. trio's ``SSLStream`` stops at the error and leaves
    the alert in its outgoing buffer (a private attribute: without it, nothing is sent).
    """
    internals = ssl_internals(tls)
    if internals is None or not internals.outgoing.pending:
        return
    outgoing = internals.outgoing
    with trio.move_on_after(_ALERT_SECONDS), contextlib.suppress(trio.BrokenResourceError, OSError):
        await stream.send_all(outgoing.read())


def _classify(exc: BaseException | None, side: _Side, head: bytes) -> tuple[TlsCause, str]:
    """The cause and the sentence of a failed handshake (``exc``: what ``ssl`` raised)."""
    peer, where = side.peer, side.where
    failed = f"TLS handshake with {where} failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        cause, sentence = _verification(exc, side)
        return cause, f"{failed}: {sentence}"
    reason = exc.reason if isinstance(exc, ssl.SSLError) else None
    eof = not isinstance(exc, ssl.SSLError) or isinstance(
        exc, ssl.SSLEOFError | ssl.SSLSyscallError
    )
    if head and (reason in _PLAINTEXT_REASONS or eof):
        seen = looks_like(head)
        if seen is not None and seen[0] != "tls":
            cause, sentence = _plaintext(side, head, "answered in plaintext")
            return cause, f"{failed}: {sentence}"
    if reason in _PLAINTEXT_REASONS:
        return "plaintext_peer", (
            f"{failed}: the {peer} does not speak TLS (it sent {head[:8].hex(' ') or 'nothing'}"
            f" …: {_reason_words(reason)})"
        )
    if eof:
        if isinstance(exc, ConnectionResetError):
            return "closed", f"{failed}: the {peer} reset the connection during the handshake"
        if side.kind == "client":
            return "closed", (
                f"{failed}: the server closed the connection during the handshake (does it "
                "speak TLS on this port?)"
            )
        return "closed", (
            f"{failed}: the client closed the connection during the handshake (it may not "
            "trust our certificate)"
        )
    if reason in _VERSION_REASONS:
        return "version", (
            f"{failed}: no TLS version both sides accept ({_reason_words(reason)}); "
            + ("see --tls-min/--tls-max" if side.kind == "client" else "the client's is refused")
        )
    if reason in _CLIENT_CERT_REQUIRED_REASONS:
        return "client_cert_required", _client_cert_required(side, failed)
    if reason in _CERT_REJECTED_REASONS:
        what = _CERT_REJECTED_REASONS[reason]
        if (
            side.kind == "client"
            and not side.client_cert
            and reason
            in (
                "SSLV3_ALERT_BAD_CERTIFICATE",
                "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
            )
        ):
            return "client_cert_required", _client_cert_required(side, failed)
        mine = "our client certificate" if side.kind == "client" else "our certificate"
        return "client_cert_rejected" if side.kind == "client" else "untrusted", (
            f"{failed}: the {peer} refused {mine}: {what} ({_reason_words(reason)})"
        )
    if reason == "SSLV3_ALERT_HANDSHAKE_FAILURE" and side.kind == "client" and not side.client_cert:
        return "handshake", (
            f"{failed}: the {peer} refused the handshake (handshake failure alert): it may "
            "require a client certificate (--cert/--key), or share no cipher with us"
        )
    return "handshake", f"{failed}: {_reason_words(reason) or exc}"


def _verification(exc: ssl.SSLCertVerificationError, side: _Side) -> tuple[TlsCause, str]:
    code, detail = exc.verify_code, exc.verify_message
    peer = side.peer
    trusted = f"--cafile {side.cafile}" if side.cafile else "the system's CA store"
    if side.kind == "server":
        trusted = f"the client CA file {side.client_ca}"
    if code == _CERT_HAS_EXPIRED:
        return "expired", f"the {peer}'s certificate has expired ({detail})"
    if code == _CERT_NOT_YET_VALID:
        return "not_yet_valid", (
            f"the {peer}'s certificate is not valid yet ({detail}; is a clock wrong?)"
        )
    if code in (_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH):
        name = side.server_name or side.where.rpartition(":")[0]
        return "hostname", (
            f"wrong host name: the {peer}'s certificate is not for {name!r} ({detail}); "
            "connect by a name it is for, or name one with --server-name"
        )
    if code == _DEPTH_ZERO_SELF_SIGNED_CERT:
        return "self_signed", (
            f"the {peer}'s certificate is self-signed and not trusted ({detail}); trust it "
            "with --cafile CERT.pem"
        )
    if code in (
        _UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _UNABLE_TO_GET_ISSUER_CERT,
        _UNABLE_TO_VERIFY_LEAF_SIGNATURE,
        _SELF_SIGNED_CERT_IN_CHAIN,
    ):
        hint = "; give its CA with --cafile CA.pem" if side.kind == "client" else ""
        return "unknown_ca", (
            f"unknown CA: the {peer}'s certificate is not issued by a CA in {trusted} "
            f"({detail}){hint}"
        )
    return "untrusted", f"the {peer}'s certificate was not accepted ({detail})"


def _plaintext(side: _Side, head: bytes, what: str) -> tuple[TlsCause, str]:
    """The peer sent bytes that are not TLS: say what they look like (``ipc.diagnosis``)."""
    seen = looks_like(head)
    shown = f"first bytes {head[:8].hex(' ')}"
    said = seen[1] if seen is not None and seen[0] != "tls" else shown
    fix = "drop --tls" if side.kind == "client" else "the client does not speak TLS"
    return "plaintext_peer", (
        f"the {side.peer} does not speak TLS, it {what}: {said} (plaintext on a TLS session; {fix})"
    )


def _client_cert_required(side: _Side, failed: str) -> str:
    if side.kind == "server":
        return f"{failed}: the client sent no certificate, and this listener requires one"
    return f"{failed}: the server requires a client certificate: give --cert and --key"


def _reason_words(reason: str | None) -> str:
    return (reason or "").replace("_", " ").lower()


def failure_after_handshake(exc: BaseException) -> str | None:
    """The sentence for an error on a TLS session's read or write that TLS explains (an
    alert after the handshake); None for anything else (a reset, an end of stream).

    With TLS 1.3 the client's handshake ends before the server has checked the client's
    certificate, so "certificate required" or "unknown CA" arrives on the first read.
    """
    cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
    if not isinstance(cause, ssl.SSLError) or isinstance(cause, ssl.SSLEOFError):
        return None
    reason = cause.reason
    if reason in _CLIENT_CERT_REQUIRED_REASONS:
        return "the server requires a client certificate (certificate required alert)"
    if reason in _CERT_REJECTED_REASONS:
        what = _CERT_REJECTED_REASONS[reason]
        return (
            f"the peer refused our certificate, or our lack of one: {what} "
            f"({_reason_words(reason)})"
        )
    return f"TLS error: {_reason_words(reason) or cause}"


# ------------------------------------------------------------------------------ openings


class SecureConnect:
    """An ``Opening`` (``engine.streams``): connect as ``inner`` does, then make the
    client handshake, all within ``inner``'s timeout. The session says it is connected
    only once TLS is up; a failed handshake is a ``ConnectFailed`` of reason "tls"."""

    __slots__ = ("context", "inner", "options")

    def __init__(self, inner: Connect, context: ssl.SSLContext, options: ClientTls) -> None:
        self.inner = inner
        self.context = context
        self.options = options

    def announce(self, session: Session) -> schema.Event:
        return self.inner.announce(session)

    async def open(self, session: Session) -> Transport:
        deadline = trio.current_time() + self.inner.timeout
        transport = await self.inner.open(session)
        try:
            stream, info = await handshake(
                transport.stream,
                self.context,
                deadline=deadline,
                where=format_address(session.host, session.port),
                client=self.options,
                server_name=self.options.server_name or session.host,
            )
        except BaseException:
            if transport.socket is not None:
                transport.socket.close()
            else:
                await trio.aclose_forcefully(transport.stream)
            raise
        return dataclasses.replace(transport, stream=stream, tls=info)

    def opened(self, session: Session) -> schema.Event:
        return self.inner.opened(session)


@dataclass(frozen=True, slots=True)
class ServerHandshake:
    """The handshake an accepted client of a TLS listener makes once its session is
    announced (``Transport.secure``), within ``timeout`` seconds."""

    context: ssl.SSLContext
    options: ServerTls
    timeout: float = HANDSHAKE_SECONDS

    async def __call__(self, stream: trio.abc.Stream, peer: str) -> tuple[TlsStream, TlsInfo]:
        return await handshake(
            stream,
            self.context,
            deadline=trio.current_time() + self.timeout,
            where=peer,
            server=self.options,
        )


# --------------------------------------------------------------------------------- info


def _info(tls: trio.SSLStream[trio.abc.Stream], side: _Side, context: ssl.SSLContext) -> TlsInfo:
    cipher = tls.cipher()
    der = tls.getpeercert(binary_form=True)
    cert = peer_certificate(der) if der else None
    if side.kind == "client":
        name = side.server_name or side.where.rpartition(":")[0].strip("[]")
        if side.insecure:
            verified = False
            text = "NOT VERIFIED: --insecure skipped the checks of the chain and the host name"
        else:
            verified = True
            source = f"--cafile {side.cafile}" if side.cafile else "the system's CA store"
            text = f"verified: issued by a CA in {source}, and for {name!r}"
    else:
        name = tls.server_hostname or ""
        if context.verify_mode == ssl.CERT_REQUIRED:
            verified = True
            text = f"verified: the client's certificate is issued by a CA in {side.client_ca}"
        else:
            verified = False
            text = "the client was not asked for a certificate (no --tls-client-ca)"
    return TlsInfo(
        side=side.kind,
        version=tls.version() or "",
        cipher=cipher[0] if cipher else "",
        bits=cipher[2] if cipher else 0,
        alpn=tls.selected_alpn_protocol() or "",
        server_name=name if isinstance(name, str) else "",
        verified=verified,
        verification=text,
        peer_cert=cert,
    )


def peer_certificate(der: bytes) -> PeerCert:
    """A certificate (DER) as people read one (``cryptography`` parses it: ``ssl`` gives
    the parsed form only for a verified peer, and --insecure sessions need it most)."""
    from cryptography import x509  # only TLS sessions pay for the import
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_der_x509_certificate(der)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans: tuple[str, ...] = ()
    else:
        sans = tuple(_general_name(name) for name in names)
    return PeerCert(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=sans,
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        serial=f"{cert.serial_number:x}",
        sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _general_name(name: x509.GeneralName) -> str:
    from cryptography import x509

    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"email:{name.value}"
    return str(name.value)


def _iso(moment: object) -> str:
    text = moment.isoformat() if hasattr(moment, "isoformat") else str(moment)
    return text.replace("+00:00", "Z")
