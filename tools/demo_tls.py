"""The demo server's TLS: a throwaway CA and server certificate made at start, and the
TLS stream a demo connection is served over.

``python -m tools.demo_server --tls`` makes a new CA (trustme, over ``cryptography``)
every time it starts, has it issue a certificate for the loopback names (``localhost``,
``127.0.0.1``, ``::1``), and writes the CA's certificate where a client can trust it
(``--cafile``); the CA's key never touches the disk. Nothing outside this run trusts
that CA, which is the point: a demo, with real verification.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import trio

__all__ = ["DEMO_NAMES", "DemoCertificates", "TlsConnection", "make_demo_certificates"]

#: The names the demo server's certificate is for (the loopback addresses it may bind).
DEMO_NAMES = ("localhost", "127.0.0.1", "::1")
#: The files written in the TLS directory.
CA_FILE = "ca.pem"
SERVER_FILE = "server.pem"


@dataclass(frozen=True, slots=True)
class DemoCertificates:
    #: The throwaway CA's certificate (PEM): what a client trusts with ``--cafile``.
    ca: Path
    #: The server's key and certificate (PEM, one file).
    server: Path

    def context(self) -> ssl.SSLContext:
        """The server side's ``SSLContext`` (TLS 1.2 minimum, Python's defaults)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server)
        return context


def make_demo_certificates(directory: Path) -> DemoCertificates:
    """Make a new CA and a server certificate for ``DEMO_NAMES``; write ``ca.pem`` and
    ``server.pem`` (key and certificate, readable by this user only) in ``directory``."""
    import trustme  # only a TLS demo pays for the import (cryptography)

    ca = trustme.CA(organization_name="framewire demo CA (throwaway)")
    leaf = ca.issue_cert(*DEMO_NAMES, common_name="framewire demo server")
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, server_path = directory / CA_FILE, directory / SERVER_FILE
    ca.cert_pem.write_to_path(str(ca_path))
    server_path.touch(mode=0o600)
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server_path))
    return DemoCertificates(ca_path, server_path)


class TlsConnection(trio.abc.HalfCloseableStream):
    """A demo client's connection in TLS, as the demo server serves one.

    Tolerant, as a demo should be: a client closing without ``close_notify`` is an end of
    stream (``https_compatible``). TLS has no half-close, so ``send_eof`` (a graceful
    close) shuts down the TCP side: the client reads an end of stream without
    ``close_notify``, as from many servers of framed protocols; ``aclose`` then closes
    the socket.
    ``socket`` is the TCP socket (``!reset`` sets ``SO_LINGER`` on it).
    """

    def __init__(self, tcp: trio.SocketStream, context: ssl.SSLContext) -> None:
        self._tcp = tcp
        self._eof_sent = False
        self.socket: socket.socket | trio.socket.SocketType = tcp.socket
        self.tls: trio.SSLStream[trio.SocketStream] = trio.SSLStream(tcp, context, server_side=True)

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.tls.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.tls.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.tls.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        self._eof_sent = True
        await self._tcp.send_eof()

    async def aclose(self) -> None:
        if self._eof_sent:  # close_notify went out with the EOF already
            await self._tcp.aclose()
        else:
            await self.tls.aclose()
