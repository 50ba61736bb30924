"""What one controller's writer sends next: control messages first, events under credit.

Control messages (responses, the hello) jump the queue: a response may therefore arrive
before events the engine queued earlier. With ``flow_control(window_bytes)`` the writer
stops sending ``received``/``sent`` events once ``window_bytes`` of credit
(``ipc.rpc.credit_cost``) are unacknowledged; other events keep their order behind them.
Both queues are bounded: ``put_event`` waits while ``MAX_QUEUED_EVENT_BYTES`` of events
wait (back-pressure on the pump, hence on the sessions), and the reader waits in
``wait_control_space`` while ``MAX_QUEUED_CONTROL_BYTES`` of responses do, so a
controller that never reads its replies cannot grow the engine.

One outbox per controller connection: its credit is that controller's.

On the long-lived engine's socket several controllers share one event pump, which must
not wait for the slowest of them: there ``push_event`` queues without waiting (the
broadcast decides what a backlog over the bound means), ``on_space`` tells it when a
backlog went under ``MAX_QUEUED_EVENT_BYTES``, and a *prelude* (the history replayed to
a controller that attaches) goes out before the queued events, encoded only as the
writer gets to it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

import trio

__all__ = ["MAX_QUEUED_CONTROL_BYTES", "MAX_QUEUED_EVENT_BYTES", "Outbox"]

#: Largest single write to the controller (several messages joined): big enough that
#: syscalls vanish from the profile, small enough to keep latency for control traffic.
WRITE_CHUNK_BYTES = 1024 * 1024
#: Encoded events waiting for the writer; past this the pump waits (back-pressure).
MAX_QUEUED_EVENT_BYTES = 4 * 1024 * 1024
#: Encoded responses waiting for the writer; past this the reader stops reading requests,
#: so a controller that sends requests but does not read its replies cannot grow them.
MAX_QUEUED_CONTROL_BYTES = 1024 * 1024


class Outbox:
    """What the writer sends next: control messages first, then events under credit."""

    def __init__(self) -> None:
        self._control: collections.deque[bytes] = collections.deque()
        self._control_bytes = 0
        self._control_space = trio.Event()
        self._events: collections.deque[tuple[bytes, int]] = collections.deque()
        self._event_bytes = 0
        self._window: int | None = None
        self._unacked = 0
        self._wakeup = trio.Event()
        self._space = trio.Event()
        self._idle = trio.Event()
        self._writing = False
        self._prelude: Iterator[tuple[bytes, int]] | None = None
        self._prelude_next: tuple[bytes, int] | None = None
        #: Called when the queued events went under ``MAX_QUEUED_EVENT_BYTES``.
        self.on_space: Callable[[], None] | None = None
        self._events_closed = False  # close_events: the channel is closing

    @property
    def event_bytes(self) -> int:
        """Encoded events queued (the prelude not counted)."""
        return self._event_bytes

    def statistics(self) -> dict[str, int]:
        return {
            "outbox_events": len(self._events),
            "outbox_event_bytes": self._event_bytes,
            "window_bytes": self._window or 0,
            "unacked_bytes": self._unacked,
        }

    def put_control(self, data: bytes) -> None:
        self._control.append(data)
        self._control_bytes += len(data)
        self._wakeup.set()

    async def wait_control_space(self) -> None:
        """Wait while ``MAX_QUEUED_CONTROL_BYTES`` of responses wait for the writer."""
        while self._control_bytes >= MAX_QUEUED_CONTROL_BYTES:
            await self._control_space.wait()

    async def put_event(self, data: bytes, cost: int) -> None:
        """Queue an encoded event; waits while the queue is full (back-pressure). Dropped
        once ``close_events`` was called."""
        while self._event_bytes >= MAX_QUEUED_EVENT_BYTES:
            await self._space.wait()
        self.push_event(data, cost)

    def push_event(self, data: bytes, cost: int) -> None:
        """Queue an encoded event even past the bound (the caller bounds the backlog).
        Dropped once ``close_events`` was called."""
        if self._events_closed:
            return
        self._events.append((data, cost))
        self._event_bytes += len(data)
        self._wakeup.set()

    def set_prelude(self, messages: Iterator[tuple[bytes, int]]) -> None:
        """Send ``messages`` (encoded events, credit cost) before the queued events,
        taking each only when the writer gets to it."""
        self._prelude = messages
        self._prelude_next = next(messages, None)
        self._wakeup.set()

    def set_window(self, window_bytes: int) -> None:
        self._window = window_bytes
        self._unacked = 0
        self._wakeup.set()

    def ack(self, nbytes: int) -> None:
        self._unacked = max(0, self._unacked - nbytes)
        self._wakeup.set()

    def _take(self) -> list[bytes]:
        chunks: list[bytes] = []
        size = 0
        while self._control and size < WRITE_CHUNK_BYTES:
            data = self._control.popleft()
            chunks.append(data)
            size += len(data)
        self._control_bytes -= size
        if self._control_bytes < MAX_QUEUED_CONTROL_BYTES:
            self._control_space.set()
            self._control_space = trio.Event()
        window = self._window
        while self._prelude_next is not None and size < WRITE_CHUNK_BYTES:
            data, cost = self._prelude_next
            if cost and window is not None:
                if self._unacked >= window:
                    return chunks
                self._unacked += cost
            chunks.append(data)
            size += len(data)
            assert self._prelude is not None
            self._prelude_next = next(self._prelude, None)
        if self._prelude_next is not None:
            return chunks
        while self._events and size < WRITE_CHUNK_BYTES:
            data, cost = self._events[0]
            if cost and window is not None:
                if self._unacked >= window:
                    break
                self._unacked += cost
            self._events.popleft()
            self._event_bytes -= len(data)
            chunks.append(data)
            size += len(data)
        if self._event_bytes < MAX_QUEUED_EVENT_BYTES:
            self._space.set()
            self._space = trio.Event()
            if self.on_space is not None:
                self.on_space()
        return chunks

    def close_events(self) -> None:
        """Drop the queued events and every later one; control messages still go out (the
        channel is closing: its last words overtake the data nobody will read)."""
        self._events_closed = True
        self._events.clear()
        self._event_bytes = 0
        self._prelude = self._prelude_next = None
        self._space.set()
        self._wakeup.set()

    def discard(self) -> None:
        """Drop everything queued: the stream is gone (wakes ``wait_flushed``)."""
        self._control.clear()
        self._control_bytes = 0
        self._control_space.set()
        self._events.clear()
        self._event_bytes = 0
        self._prelude = self._prelude_next = None
        self._writing = False
        self._idle.set()

    async def wait_flushed(self) -> None:
        """Wait until everything queued so far has been written (credit permitting)."""
        while self._control or self._prelude_next or self._events or self._writing:
            await self._idle.wait()

    async def serve_writer(self, stream: trio.abc.SendStream) -> None:
        """Write forever; returns never (cancel it). Raises trio.BrokenResourceError when
        the controller stopped reading for good."""
        while True:
            chunks = self._take()
            if chunks:
                self._writing = True
                await stream.send_all(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                self._writing = False
            else:
                self._idle.set()
                self._idle = trio.Event()
                await self._wakeup.wait()
                self._wakeup = trio.Event()
