"""Read the raw first bytes a server sends, for guessing its framing (``--guess-framing``,
the IPC ``sniff`` method and the GUI's Guess framing button).

A session decodes frames; guessing needs the bytes before any framing is chosen, so this
is a plain connection of its own: connect, write what it is given (a request in the
framing the user believes in, or nothing), read until ``max_bytes``, the peer's close or
``read_seconds``, close.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from engine.errors import ConnectFailed
from engine.streams import connect_failure, open_tcp_stream

__all__ = ["DEFAULT_SNIFF_BYTES", "DEFAULT_SNIFF_SECONDS", "Sniffed", "sniff"]

#: Bytes read at most: plenty for a guess (a few frames), and a bound.
DEFAULT_SNIFF_BYTES = 4096
#: How long to wait for a server that speaks first.
DEFAULT_SNIFF_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What a server sent."""

    data: bytes
    #: The peer closed (or reset) before ``max_bytes`` or the timeout.
    closed: bool
    peer: str


async def sniff(
    host: str,
    port: int,
    *,
    send: bytes = b"",
    max_bytes: int = DEFAULT_SNIFF_BYTES,
    read_seconds: float = DEFAULT_SNIFF_SECONDS,
    connect_timeout: float = 10.0,
) -> Sniffed:
    """Connect to ``host:port``, write ``send``, read what comes back for up to
    ``read_seconds`` (see the module).

    Raises:
        ConnectFailed: the connection could not be made (reason and message as a session's).
    """
    with trio.move_on_after(connect_timeout) as timer:
        try:
            stream = await open_tcp_stream(host, port)
        except OSError as exc:
            raise ConnectFailed(*connect_failure(exc, host, port)) from None
    if timer.cancelled_caught:
        message = f"connecting to {host}:{port} timed out after {connect_timeout:g} s"
        raise ConnectFailed("timeout", message)
    try:
        name = stream.socket.getpeername()
        peer = f"[{name[0]}]:{name[1]}" if ":" in name[0] else f"{name[0]}:{name[1]}"
    except OSError:
        peer = f"{host}:{port}"
    data = bytearray()
    closed = False
    async with stream:
        with trio.move_on_after(read_seconds):
            try:
                if send:
                    await stream.send_all(send)
                while len(data) < max_bytes:
                    chunk = await stream.receive_some(max_bytes - len(data))
                    if not chunk:
                        closed = True
                        break
                    data += chunk
            except trio.BrokenResourceError:
                closed = True  # a reset: what came before it is still worth a look
    return Sniffed(bytes(data), closed, peer)
