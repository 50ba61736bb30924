"""Serving an engine to a controller: the pump and the connection wired together, and
the end of it (EOF or ``shutdown``).

``serve_rpc`` runs the connection's writer, the event pump into the connection's outbox,
the stats task and the connection's reader in one nursery. It ends when the
controller's stream ends (EOF: its process died; ``open_engine`` then closes the
sessions within its grace period), after ``shutdown`` (every session closed and its
last events flushed to the controller within ``SHUTDOWN_DEADLINE_SECONDS``, while the
connection keeps reading its acks), or when the controller's bytes broke the stream
(``ProtocolViolation``): then the channel dies alone -- its last words (the replies
queued before, the error response to the broken request, ``channel_closed``) are
written within ``CLOSE_CHANNEL_GRACE_SECONDS``, queued events are dropped, and both
directions are closed, so the controller sees EOF at once. The engine's sessions are
not touched; the caller decides (the stdio engine exits: its only channel died).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import trio

from engine.rpc.commands import Commands
from engine.rpc.connection import Connection
from engine.rpc.pump import EventPump
from ipc.errors import FramewireError, ProtocolViolation
from ipc.schema import Event

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = [
    "CLOSE_CHANNEL_GRACE_SECONDS",
    "ENGINE_EVENT_BUFFER",
    "SHUTDOWN_DEADLINE_SECONDS",
    "close_all_sessions",
    "discard_events",
    "serve_engine",
    "serve_rpc",
]

log = logging.getLogger("framewire.rpc")

#: Engine events (one socket read of up to 1 MiB each) between the sessions and the pump.
#: The pump coalesces and the outbox queues 4 MiB, so a few suffice to keep the pipe busy;
#: each one more costs about 1.5 MB of frame objects while the controller stalls.
ENGINE_EVENT_BUFFER = 4
#: Shutdown (on EOF or ``shutdown``) closes the engine and flushes within this.
SHUTDOWN_DEADLINE_SECONDS = 5.0
#: How long a closing channel's last messages may take to leave before the stream closes.
CLOSE_CHANNEL_GRACE_SECONDS = 1.0


async def serve_rpc(
    engine: Engine,
    receive_stream: trio.abc.ReceiveStream,
    send_stream: trio.abc.SendStream,
    *,
    stats_interval: float | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> ProtocolViolation | None:
    """Serve one controller until its stream ends, it sends ``shutdown``, or its bytes
    break the stream.

    The hello is the first message written. After ``shutdown`` every session has been
    closed and its last events flushed (within ``SHUTDOWN_DEADLINE_SECONDS``); after EOF
    it returns at once and the caller's ``open_engine`` closes the sessions. Returns the
    violation that closed the channel (both streams are then closed), or None.
    """
    connection = Connection(engine, Commands(engine))
    pump = EventPump(engine.events, connection.outbox.put_event)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.serve_writer, send_stream)
        nursery.start_soon(pump.run)
        if stats_interval:
            nursery.start_soon(connection.serve_stats, stats_interval)
        task_status.started()
        await connection.serve_requests(receive_stream)
        # After EOF nobody listens: return, and the caller's open_engine() closes the
        # sessions. After `shutdown` the controller still reads: close the sessions
        # here and flush their last events to it, all within the deadline, reading
        # its acks (and refusing its requests) meanwhile.
        if connection.closed_reason is not None:  # a protocol violation: its last words
            with trio.move_on_after(CLOSE_CHANNEL_GRACE_SECONDS):
                await connection.outbox.wait_flushed()
        elif not connection.shutdown_requested:
            log.info("shutting down")
        else:
            nursery.start_soon(connection.read_after_shutdown, receive_stream)
            with trio.move_on_after(SHUTDOWN_DEADLINE_SECONDS) as deadline:
                await close_all_sessions(engine)
                await pump.drain()
                await connection.outbox.wait_flushed()
            if deadline.cancelled_caught:
                log.warning("shutdown deadline passed; exiting anyway")
        nursery.cancel_scope.cancel()
    if connection.violation is not None:
        await send_stream.aclose()
        await receive_stream.aclose()
    return connection.violation


async def close_all_sessions(engine: Engine) -> None:
    """Close every session gracefully; abort those still open after a grace period.

    Not ``engine.aclose()``: that cancels the scope ``open_engine`` runs its body in,
    which is where this server runs, so nothing could be flushed after it.
    """

    async def close(session_id: int) -> None:
        with trio.move_on_after(SHUTDOWN_DEADLINE_SECONDS / 2):
            with contextlib.suppress(FramewireError):
                await engine.close(session_id)
            return
        with contextlib.suppress(FramewireError):
            await engine.abort(session_id)

    async with trio.open_nursery() as nursery:
        for info in engine.sessions():
            nursery.start_soon(close, info["session_id"])


async def serve_engine(
    receive_stream: trio.abc.ReceiveStream,
    send_stream: trio.abc.SendStream,
    *,
    stats_interval: float | None = None,
) -> ProtocolViolation | None:
    """Run an engine for one controller: ``serve_rpc`` until EOF, ``shutdown`` or a
    protocol violation (returned), then close every session (within ``open_engine``'s
    deadline).

    Once ``serve_rpc`` has returned nobody reads the engine's events; a task discards
    them while the sessions close, or each one would wait ``FINAL_EVENT_GRACE_SECONDS``
    to hand its last event to a reader that is gone.
    """
    from engine.engine import open_engine

    async with (
        trio.open_nursery() as nursery,
        open_engine(event_buffer=ENGINE_EVENT_BUFFER) as engine,
    ):
        violation = await serve_rpc(
            engine, receive_stream, send_stream, stats_interval=stats_interval
        )
        nursery.start_soon(discard_events, engine.events)
    return violation


async def discard_events(events: trio.MemoryReceiveChannel[Event]) -> None:
    """Read ``events`` until the engine closes it (after its last session ended)."""
    async for _ in events:
        pass
