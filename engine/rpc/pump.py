"""The event pump: the engine's events, encoded as notifications, into a sink.

Engine-wide: the engine has one event channel, and the pump is its only reader while a
controller is served. Consecutive frame events are coalesced (``batching``) while events
are waiting; a batch goes out as soon as the channel is empty, so coalescing never adds
latency. The sink (a connection's ``Outbox.put_event``) may wait: that is the
back-pressure that reaches the sessions through the engine's bounded channel.

At shutdown ``drain`` makes the pump forward what the engine still holds, then stop.

An ``Observer`` (the long-lived engine's ``snapshot.Journal``) hears of every event right
after the sink took it, before the pump can be suspended again: whoever looks at the
observer between two of the pump's awaits sees exactly what the sink was given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from engine.rpc.batching import FrameBatcher
from ipc.codec import encode_notification
from ipc.schema import Event, Received, Sent

__all__ = ["EventPump", "EventSink", "Observer"]

#: Where encoded notifications go: ``(message bytes, credit cost)``; may wait.
EventSink = Callable[[bytes, int], Awaitable[None]]


class Observer(Protocol):
    """Hears of what the sink took: frames a batch at a time, other events one by one."""

    def observe_event(self, event: Event) -> None: ...

    def observe_frames(
        self,
        kind: type[Received | Sent],
        session_id: int,
        frames: list[bytes],
        times: list[list[float]],
        nbytes: int,
    ) -> None: ...


class EventPump:
    """Moves events from ``events`` to ``sink`` until the channel ends or ``drain``."""

    def __init__(
        self,
        events: trio.MemoryReceiveChannel[Event],
        sink: EventSink,
        observer: Observer | None = None,
    ) -> None:
        self._events = events
        self._sink = sink
        self._observer = observer
        self._draining = False
        self._wait = trio.CancelScope()
        self._done = trio.Event()

    async def run(self) -> None:
        try:
            await self._pump()
        finally:
            self._done.set()

    async def drain(self) -> None:
        """Forward every event the engine has queued, then stop; returns once stopped."""
        self._draining = True
        self._wait.cancel()
        await self._done.wait()

    async def _pump(self) -> None:
        events = self._events
        observer = self._observer
        batcher = FrameBatcher(observer.observe_frames if observer is not None else None)
        while True:
            try:
                event = events.receive_nowait()
            except trio.EndOfChannel:
                return
            except trio.WouldBlock:
                if self._draining:
                    return  # shutting down and every event was forwarded
                self._wait = trio.CancelScope()
                with self._wait:
                    try:
                        event = await events.receive()
                    except trio.EndOfChannel:
                        return
                if self._wait.cancelled_caught:
                    continue
            while True:
                if isinstance(event, Received | Sent):
                    for notification in batcher.add(event):
                        await self._sink(*notification)
                else:
                    for notification in batcher.flush():
                        await self._sink(*notification)
                    await self._sink(encode_notification(event.METHOD, event.to_params()), 0)
                    if observer is not None:
                        observer.observe_event(event)
                try:
                    event = events.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            for notification in batcher.flush():
                await self._sink(*notification)
