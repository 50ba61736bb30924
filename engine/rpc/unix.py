"""The Unix-socket transport: ``framewire-engine --serve-ipc [PATH]``, a long-lived engine
that controllers attach to and detach from.

The same MessagePack-RPC as on stdio, one ``Connection`` per controller (its own outbox,
credit, reader, stats), several at once, at most ``MAX_CONTROLLERS``. The rules:

- *Who gets in*: the socket is 0600 in a 0700 folder (``socket_file``), and each
  connection's peer is checked with ``SO_PEERCRED``: the engine's own user or root;
  anyone else gets a ``channel_closed`` (``refused``) and the engine logs it.
- *Attaching*: a controller gets responses at once but events only after ``attach``:
  then a snapshot (its result), the history (``history`` events, ``history_end``) and
  every live event (``broadcast``; ``snapshot`` for why nothing is missed or doubled).
  Without ``attach`` (a script that opens a session, ``--list-engines``) it costs the
  engine nothing per event.
- *Detaching* is closing the connection: never stops the engine or a session.
- *A controller that falls behind* is disconnected, never waited for (``broadcast``).
- *An internal error* while serving one controller (a bug) is logged with its traceback
  and ends that controller's connection only.
- *Only an explicit shutdown stops the engine*: ``shutdown`` from any controller, or
  SIGTERM/SIGINT. Then no one else can connect, every session is closed and its last
  events reach the attached controllers, and each controller gets ``channel_closed``
  (``shutdown``, naming who asked) as its last message, all within
  ``SHUTDOWN_DEADLINE_SECONDS``. SIGHUP is ignored: the engine outlives the terminal it
  was started from.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from engine.rpc.broadcast import Broadcast
from engine.rpc.commands import Commands
from engine.rpc.connection import Connection
from engine.rpc.history import Chunk, History as FrameHistory
from engine.rpc.pump import EventPump
from engine.rpc.server import (
    CLOSE_CHANNEL_GRACE_SECONDS,
    ENGINE_EVENT_BUFFER,
    SHUTDOWN_DEADLINE_SECONDS,
    close_all_sessions,
    discard_events,
)
from engine.rpc.snapshot import Journal, Part
from engine.rpc.socket_file import ClaimedSocket, PeerCredentials, peer_credentials
from ipc.codec import encode_notification
from ipc.errors import SchemaError
from ipc.rpc import frames_credit
from ipc.schema import Attach, ChannelClosed, History, HistoryEnd, Shutdown

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = ["CLOSE_CHANNEL_GRACE_SECONDS", "MAX_CONTROLLERS", "Controllers", "run_socket"]

log = logging.getLogger("framewire.rpc")

#: Controllers connected at once; the next one is refused with a reason.
MAX_CONTROLLERS = 16
#: The kernel's buffer for what the engine writes to a controller (asked for; Linux caps
#: it at net.core.wmem_max): like the stdio pipe's 1 MiB, so a flood of events costs few
#: writes and wake-ups (with the default ~200 KiB the socket path ran at half the pipe's
#: speed, tools/bench/attach.py).
SEND_BUFFER_BYTES = 1024 * 1024


@dataclass(slots=True)
class _Controller:
    id: int
    name: str
    credentials: PeerCredentials | None
    connection: Connection
    connected_at: float
    attached: trio.Event = field(default_factory=trio.Event)

    def describe(self) -> dict[str, Any]:
        creds = self.credentials
        return {
            "controller_id": self.id,
            "pid": creds.pid if creds else 0,
            "uid": creds.uid if creds else -1,
            "attached": self.attached.is_set(),
            "connected_at": self.connected_at,
        }


class Controllers(Part):
    """The controllers of one long-lived engine (also the snapshot's ``controllers``)."""

    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        broadcast: Broadcast,
        *,
        stats_interval: float | None,
        uid: int,
    ) -> None:
        self._engine = engine
        self._commands = Commands(engine)
        self._journal = journal
        self._broadcast = broadcast
        self._stats_interval = stats_interval
        self._uid = uid
        self._controllers: dict[int, _Controller] = {}
        self._next_id = 1
        self.shutdown_requested = trio.Event()
        self.shutdown_why = ""

    def snapshot(self) -> list[dict[str, Any]]:
        return [c.describe() for c in self._controllers.values()]

    def begin_shutdown(self, why: str) -> None:
        """Stop the engine for everyone (once): every controller stops reading requests."""
        if self.shutdown_requested.is_set():
            return
        log.info("shutting down: %s", why)
        self.shutdown_why = why
        self.shutdown_requested.set()
        for controller in self._controllers.values():
            controller.connection.begin_shutdown()

    def say_goodbye(self) -> None:
        """Queue every controller's last message: the engine is exiting, and why."""
        for controller in self._controllers.values():
            controller.connection.close_channel(
                "shutdown", f"the engine is shutting down ({self.shutdown_why})"
            )

    async def wait_flushed(self) -> None:
        for controller in list(self._controllers.values()):
            await controller.connection.outbox.wait_flushed()

    # -- one controller

    def _refusal(self, credentials: PeerCredentials | None) -> str | None:
        if credentials is not None and credentials.uid not in (self._uid, 0):
            return f"this engine serves uid {self._uid} (and root) only"
        if len(self._controllers) >= MAX_CONTROLLERS:
            return f"too many controllers ({MAX_CONTROLLERS}) are connected"
        if self.shutdown_requested.is_set():
            return "the engine is shutting down"
        return None

    async def serve(self, stream: trio.SocketStream) -> None:
        """Serve one controller until it goes (EOF, disconnected, or the engine exits)."""
        async with stream:
            with contextlib.suppress(OSError):  # best effort: the kernel caps it
                stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            credentials = peer_credentials(stream.socket)
            cid, self._next_id = self._next_id, self._next_id + 1
            name = f"controller {cid}"
            peer = "" if credentials is None else f"pid {credentials.pid}, uid {credentials.uid}"
            refusal = self._refusal(credentials)
            if refusal is not None:
                log.warning("refused %s (%s): %s", name, peer or "peer unknown", refusal)
                await _send_refusal(stream, refusal)
                return
            controller: _Controller
            connection = Connection(
                self._engine,
                self._commands,
                extra_handlers={
                    Attach: lambda command: self._attach(controller, command),
                    Shutdown: lambda command: self._shutdown(controller, command),
                },
                name=name,
            )
            controller = _Controller(cid, name, credentials, connection, trio.current_time())
            self._controllers[cid] = controller
            log.info("%s connected (%s)", name, peer or "peer unknown")
            try:
                await self._serve(controller, stream)
            except Exception:
                # A bug met while serving one controller ends its connection, not the
                # engine: the sessions and the other controllers carry on.
                log.exception("%s: internal error; its connection is closed", name)
            finally:
                self._broadcast.remove(controller.connection)
                del self._controllers[cid]
                if controller.connection.closed_reason is None:
                    log.info("%s detached", name)

    async def _serve(self, controller: _Controller, stream: trio.SocketStream) -> None:
        connection = controller.connection
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.serve_writer, stream)
            if self._stats_interval:
                nursery.start_soon(self._serve_stats, controller, self._stats_interval)
            await connection.serve_requests(stream)
            if connection.closed_reason is not None:
                with trio.move_on_after(CLOSE_CHANNEL_GRACE_SECONDS):
                    await connection.outbox.wait_flushed()
            elif connection.shutdown_requested:
                # Acks still return credit for the last events; the engine's shutdown
                # sequence ends this when it is done.
                await connection.read_after_shutdown(stream)
            nursery.cancel_scope.cancel()

    @staticmethod
    async def _serve_stats(controller: _Controller, interval: float) -> None:
        await controller.attached.wait()
        await controller.connection.serve_stats(interval)

    async def _attach(self, controller: _Controller, command: Attach) -> dict[str, Any]:
        # No await in here: the snapshot, the replay and the subscription happen between
        # two steps of the event pump, so the live events continue the snapshot exactly.
        if controller.attached.is_set():
            raise SchemaError("attach: this controller is attached already")
        controller.attached.set()
        snapshot, replay = self._journal.take(history=command.history)
        connection = controller.connection
        connection.outbox.set_prelude(_replay(replay))
        self._broadcast.add(connection)
        log.info(
            "%s attached (%d frames of history)", controller.name, snapshot["history"]["frames"]
        )
        return {"controller_id": controller.id, **snapshot}

    async def _shutdown(self, controller: _Controller, command: Shutdown) -> dict[str, Any]:
        pid = controller.credentials.pid if controller.credentials else None
        self.begin_shutdown(f"{controller.name}" + (f", pid {pid}," if pid else "") + " asked")
        return {}


def _replay(chunks: list[Chunk]) -> Iterator[tuple[bytes, int]]:
    """The history as notifications, encoded as the writer gets to them; then the end."""
    frames = payload = 0
    for chunk in chunks:
        params: dict[str, Any] = {
            "session_id": chunk.session_id,
            "direction": chunk.direction,
            "frames": chunk.frames,
            "at": chunk.at,
        }
        if len(chunk.times) > 1:
            params["times"] = chunk.times
        cost = frames_credit(chunk.payload, len(chunk.frames))
        yield encode_notification(History.METHOD, params), cost
        frames += len(chunk.frames)
        payload += chunk.payload
    end = HistoryEnd(frames=frames, bytes=payload, at=trio.current_time())
    yield encode_notification(end.METHOD, end.to_params()), 0


async def _send_refusal(stream: trio.SocketStream, why: str) -> None:
    event = ChannelClosed(reason="refused", message=why, at=trio.current_time())
    with trio.move_on_after(CLOSE_CHANNEL_GRACE_SECONDS):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(encode_notification(event.METHOD, event.to_params()))


async def serve_socket(
    claimed: ClaimedSocket,
    *,
    history: FrameHistory,
    stats_interval: float | None,
    uid: int,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run an engine for the controllers of ``claimed`` until ``shutdown`` or a signal
    (see the module docstring); removes the socket file when it stops taking controllers.
    """
    try:
        await _serve_socket(claimed, history, stats_interval, uid, task_status)
    finally:
        claimed.release()


async def _serve_socket(
    claimed: ClaimedSocket,
    history: FrameHistory,
    stats_interval: float | None,
    uid: int,
    task_status: trio.TaskStatus[None],
) -> None:
    from engine.engine import open_engine

    listener = trio.SocketListener(trio.socket.from_stdlib_socket(claimed.listener))
    async with (
        listener,
        trio.open_nursery() as outer,
        open_engine(event_buffer=ENGINE_EVENT_BUFFER) as engine,
    ):
        journal = Journal(history)
        broadcast = Broadcast()
        controllers = Controllers(
            engine, journal, broadcast, stats_interval=stats_interval, uid=uid
        )
        journal.add_part("controllers", controllers)
        pump = EventPump(engine.events, broadcast.send, journal)
        accepting = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump.run)
            nursery.start_soon(_watch_signals, controllers)
            handlers = await nursery.start(_open_handler_nursery)
            nursery.start_soon(_accept, accepting, listener, controllers.serve, handlers)
            task_status.started()
            await controllers.shutdown_requested.wait()
            accepting.cancel()
            await listener.aclose()
            claimed.release()
            with trio.move_on_after(SHUTDOWN_DEADLINE_SECONDS) as deadline:
                await close_all_sessions(engine)
                await pump.drain()
                await broadcast.wait_flushed()
            if deadline.cancelled_caught:
                log.warning("shutdown deadline passed; exiting anyway")
            controllers.say_goodbye()
            with trio.move_on_after(CLOSE_CHANNEL_GRACE_SECONDS):
                await controllers.wait_flushed()
            nursery.cancel_scope.cancel()
        # Whatever sessions the deadline left are closed by open_engine; nobody reads
        # their last events any more.
        outer.start_soon(discard_events, engine.events)


async def _accept(
    scope: trio.CancelScope,
    listener: trio.SocketListener,
    serve: Any,
    handlers: trio.Nursery,
) -> None:
    """Accept controllers into ``handlers`` until ``scope`` is cancelled (trio's
    ``serve_listeners`` rides out a shortage of file descriptors)."""
    with scope:
        await trio.serve_listeners(serve, [listener], handler_nursery=handlers)


async def _open_handler_nursery(*, task_status: trio.TaskStatus[trio.Nursery]) -> None:
    """A nursery for the controllers, alive until the transport is cancelled."""
    async with trio.open_nursery() as nursery:
        task_status.started(nursery)
        await trio.sleep_forever()


async def _watch_signals(controllers: Controllers) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            controllers.begin_shutdown(f"{signal.Signals(signum).name}")


def run_socket(
    claimed: ClaimedSocket, *, history: FrameHistory, stats_interval: float | None
) -> int:
    """Serve ``claimed`` until ``shutdown`` or SIGTERM/SIGINT; the process exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr,
            level=logging.INFO,
            format="framewire-engine: %(asctime)s %(message)s",
            datefmt="%H:%M:%S",
        )
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if claimed.replaced_stale:
        log.info("replaced a stale socket left by an engine that is gone")
    print(
        f"framewire-engine: serving on {claimed.path} (pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    trio.run(
        functools.partial(
            serve_socket,
            claimed,
            history=history,
            stats_interval=stats_interval,
            uid=os.getuid(),
        )
    )
    return 0
