"""The pump's observer hears of an event only once the sink has taken it, so a snapshot
taken between two of the pump's steps matches what the controllers were sent."""

from __future__ import annotations

import trio
import trio.testing

from engine.rpc.pump import EventPump
from ipc.codec import MessageDecoder, Notification
from ipc.schema import Closed, Connecting, Event, Received, Sent


class _Observer:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def observe_event(self, event: Event) -> None:
        self.seen.append(event.METHOD)

    def observe_frames(
        self,
        kind: type[Received | Sent],
        session_id: int,
        frames: list[bytes],
        times: list[list[float]],
        nbytes: int,
    ) -> None:
        self.seen.append(f"{kind.METHOD} {len(frames)}")


async def test_the_observer_hears_of_each_event_after_the_sink_took_it() -> None:
    send, receive = trio.open_memory_channel[Event](10)
    observer = _Observer()
    taken: list[str] = []
    release = trio.Event()

    async def sink(data: bytes, cost: int) -> None:
        decoder = MessageDecoder()
        decoder.receive_data(data)
        (message,) = list(decoder)
        assert isinstance(message, Notification)
        if message.method == "received":
            await release.wait()  # a sink that waits: all controllers are full
        taken.append(message.method)

    for event in (
        Connecting(session_id=1, host="h", port=1, framing={}, at=0.0),
        Received(session_id=1, frames=[b"a", b"b"], at=0.1),
        Closed(session_id=1, by="peer", at=0.2),
    ):
        send.send_nowait(event)
    send.close()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(EventPump(receive, sink, observer).run)
        await trio.testing.wait_all_tasks_blocked()
        assert (taken, observer.seen) == (["connecting"], ["connecting"])
        release.set()
    assert taken == ["connecting", "received", "closed"]
    assert observer.seen == ["connecting", "received 2", "closed"]
