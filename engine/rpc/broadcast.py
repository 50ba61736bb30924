"""Every event to every attached controller, paced by the fastest, bounded for the rest.

The long-lived engine's event pump hands each notification to ``Broadcast.send``, which
queues it in every attached controller's outbox. The pump waits only while *every*
attached controller has ``MAX_QUEUED_EVENT_BYTES`` or more waiting (credit exhausted, or
its socket full): then the engine's sessions stop reading their sockets, exactly as with
one controller, and TCP pushes back on the peers. As long as one controller keeps up,
delivery goes on at its pace; a controller that reads slower builds up a backlog, and once
that passes ``MAX_BACKLOG_BYTES`` it is disconnected with the reason ``fell_behind``
(Redis treats pub/sub clients the same way, with its ``client-output-buffer-limit``). A
controller that stops reading therefore never stalls the others, and costs at most that
much memory before it goes. With nobody attached, events are not queued at all (the
journal still records them) and the sessions run free.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from engine.rpc.outbox import MAX_QUEUED_EVENT_BYTES

if TYPE_CHECKING:
    from engine.rpc.connection import Connection

__all__ = ["MAX_BACKLOG_BYTES", "Broadcast"]

log = logging.getLogger("framewire.rpc")

#: Encoded events one controller may have waiting (beyond its credit window) before it
#: is disconnected: room for a GUI slower than another controller to catch up.
MAX_BACKLOG_BYTES = 16 * 1024 * 1024


class Broadcast:
    """The attached controllers, and the event sink that feeds them."""

    def __init__(self, *, max_backlog_bytes: int = MAX_BACKLOG_BYTES) -> None:
        self._max_backlog = max_backlog_bytes
        self._attached: list[Connection] = []
        self._space = trio.Event()

    @property
    def attached(self) -> list[Connection]:
        return list(self._attached)

    def add(self, connection: Connection) -> None:
        """Send ``connection`` every event from the next one on."""
        connection.outbox.on_space = self._wake
        self._attached.append(connection)

    def remove(self, connection: Connection) -> None:
        if connection in self._attached:
            self._attached.remove(connection)
            connection.outbox.on_space = None
            self._space.set()  # the one left may have been the only one full

    def _wake(self) -> None:
        self._space.set()

    async def send(self, data: bytes, cost: int) -> None:
        """Queue an encoded event for every attached controller (``pump.EventSink``).

        Waits while all of them are full; disconnects those whose backlog passes the
        bound. Never waits once it has started queueing, so an observer that runs right
        after it sees the event delivered to exactly the attached controllers.
        """
        while self._attached and all(
            c.outbox.event_bytes >= MAX_QUEUED_EVENT_BYTES for c in self._attached
        ):
            await self._space.wait()
            self._space = trio.Event()
        for connection in list(self._attached):
            outbox = connection.outbox
            outbox.push_event(data, cost)
            if outbox.event_bytes > self._max_backlog:
                self.remove(connection)
                message = (
                    f"{outbox.event_bytes / 2**20:.1f} MiB of events unread (the bound is "
                    f"{self._max_backlog / 2**20:g} MiB): it read slower than the other "
                    "controllers for too long; attach again to resume"
                )
                log.warning("%s disconnected: %s", connection.name, message)
                connection.close_channel("fell_behind", message)

    async def wait_flushed(self) -> None:
        """Wait until every attached controller has been sent what was queued for it."""
        for connection in self.attached:
            await connection.outbox.wait_flushed()
