"""Tiny in-test peers: trio servers on 127.0.0.1 port 0, and an event collector."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import trio

from engine import Engine
from ipc import schema
from ipc.framing import DEFAULT, FrameDecoder, FramingSpec, encode_frame

Handler = Callable[[trio.SocketStream], Awaitable[object]]
_E = TypeVar("_E", bound=schema.Event)


def session_tasks(engine: Engine) -> list[trio.lowlevel.Task]:
    """The engine's session tasks (its nursery also runs the readiness watcher's task); a
    dozing session has none."""
    return [
        task
        for task in engine._nursery.child_tasks
        if task.name.endswith(("Session.run", "Session.resume"))
    ]


async def start_server(nursery: trio.Nursery, handler: Handler) -> int:
    """Serve ``handler`` on 127.0.0.1, port 0; return the port."""
    listeners: list[trio.SocketListener] = await nursery.start(
        functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
    )
    port: int = listeners[0].socket.getsockname()[1]
    return port


def until_client_leaves(handler: Handler) -> Handler:
    """Run ``handler``, treating the client going away (a reset, a close) as its end."""

    async def wrapper(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await handler(stream)

    return wrapper


def echo_with(spec: FramingSpec) -> Handler:
    """Answer each frame with ``b"re:" + frame``, framed with ``spec``."""

    @until_client_leaves
    async def handler(stream: trio.SocketStream) -> None:
        decoder = FrameDecoder(spec)
        async for data in stream:
            for frame in decoder.feed(data):
                await stream.send_all(encode_frame(b"re:" + frame, spec))

    return handler


echo = echo_with(DEFAULT)


def reply_then_close(data: bytes) -> Handler:
    """Send ``data`` raw, then close (FIN).

    The client's bytes are read until it closes too: a socket closed with unread bytes
    (or bytes still arriving) is reset by the kernel, and the client would see a reset
    instead of the FIN.
    """

    @until_client_leaves
    async def handler(stream: trio.SocketStream) -> None:
        await stream.send_all(data)
        await stream.send_eof()
        async for _ in stream:
            pass
        await stream.aclose()

    return handler


async def reset(stream: trio.SocketStream) -> None:
    """Close with SO_LINGER 0: the client sees a connection reset."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def sleep_forever(stream: trio.SocketStream) -> None:
    """Accept and never read or write."""
    await trio.sleep_forever()


def thread_echo_server() -> int:
    """A one-connection echo server (``b"re:" + frame``) on a daemon thread; return its port.

    It runs outside trio's scheduler, like a real peer, so its replies race the engine's
    own tasks. It ends when the client closes.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            decoder = FrameDecoder(DEFAULT)
            while data := conn.recv(65536):
                conn.sendall(b"".join(encode_frame(b"re:" + f) for f in decoder.feed(data)))

    threading.Thread(target=serve, daemon=True).start()
    port: int = listener.getsockname()[1]
    return port


def refused_port() -> tuple[socket.socket, int]:
    """A bound, non-listening socket: connecting to its port is refused. Keep it open."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A listener whose accept queue is full: a new connect hangs (no SYN-ACK)."""
    with contextlib.ExitStack() as held:
        listener = held.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        for _ in range(8):
            sock = held.enter_context(socket.socket())
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # it stays half-open: that's the point
                sock.connect(("127.0.0.1", port))
        yield port


async def next_event(engine: Engine, *types: type[_E]) -> _E:
    """The next event of one of ``types`` (others are skipped)."""
    async for event in engine.events:
        if isinstance(event, types):
            return event
    raise AssertionError("event channel closed")


async def events_until_closed(engine: Engine, session_id: int) -> list[schema.Event]:
    """All events of one session up to and including its ``Closed``."""
    seen: list[schema.Event] = []
    async for event in engine.events:
        if getattr(event, "session_id", None) == session_id:
            seen.append(event)
            if isinstance(event, schema.Closed):
                return seen
    raise AssertionError("event channel closed")
