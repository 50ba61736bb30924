"""Running an ``exchanges.Runner`` over one engine session, with trio.

The runner is sans-IO; ``ScriptDriver`` is its I/O: whoever reads the engine's events
hands it the session's frames (``frames``) and its end (``ended``); ``run`` feeds them
to the runner with the clock, sends what the runner sends (from a task of its own, so a
peer that does not read never stops the events: the runner has one frame in flight at a
time), closes when it says so, and returns the ``Outcome``.

A client's driver returns as soon as the steps are over; a scripted server's
(``keep_open``) goes on answering with the script's rules until the client leaves.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from engine.errors import SessionBroken, SessionClosed
from exchanges import CloseConnection, Outcome, Runner, SendFrame
from exchanges.runner import Action
from ipc.errors import LocalProtocolError

__all__ = ["FEED_BUFFER", "ScriptDriver"]

#: Batches of frames (one per engine event) queued for the runner; more waits (the
#: engine then stops reading the socket: TCP back-pressure).
FEED_BUFFER = 16


@dataclass(frozen=True, slots=True)
class _Frames:
    frames: Sequence[bytes]


@dataclass(frozen=True, slots=True)
class _Ended:
    why: str
    kind: str


@dataclass(frozen=True, slots=True)
class _Sent:
    error: str | None = None


_Input = _Frames | _Ended | _Sent


class ScriptDriver:
    """One script run over one session: ``send(payload)`` writes a frame (returning once
    written), ``close()`` closes the session gracefully."""

    def __init__(
        self,
        runner: Runner,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        *,
        keep_open: bool = False,
    ) -> None:
        self.runner = runner
        self._send = send
        self._close = close
        self._keep_open = keep_open
        self._inputs_in, self._inputs = trio.open_memory_channel[_Input](FEED_BUFFER)
        self._ended = False

    async def frames(self, frames: Sequence[bytes]) -> None:
        """Frames the session received (after ``run`` ended: dropped)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._inputs_in.send(_Frames(frames))

    async def ended(self, why: str, kind: str = "expectation") -> None:
        """The session is over: ``why`` in words, ``kind`` "protocol" for a framing error."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._inputs_in.send(_Ended(why, kind))

    async def run(self) -> Outcome:
        """Run the script to its outcome (see the module docstring)."""
        runner = self.runner
        outgoing_in, outgoing = trio.open_memory_channel[bytes](1)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._sender, outgoing)
                self._perform(runner.start(trio.current_time()), outgoing_in, nursery)
                while not self._finished():
                    deadline = runner.deadline
                    item: _Input | None = None
                    with trio.move_on_at(math.inf if deadline is None else deadline):
                        item = await self._inputs.receive()
                    now = trio.current_time()
                    actions = runner.tick(now) if item is None else self._feed(item, now)
                    self._perform(actions, outgoing_in, nursery)
                nursery.cancel_scope.cancel()
        finally:
            self._inputs.close()
        assert runner.outcome is not None
        return runner.outcome

    def _finished(self) -> bool:
        outcome = self.runner.outcome
        if outcome is None:
            return False
        return not (outcome.passed and self._keep_open and not self._ended)

    def _feed(self, item: _Input, now: float) -> list[Action]:
        runner = self.runner
        if isinstance(item, _Frames):
            actions: list[Action] = []
            for frame in item.frames:
                actions += runner.frame_received(frame, now)
            return actions
        if isinstance(item, _Sent):
            if item.error is not None:
                return runner.send_failed(item.error, now)
            return runner.send_done(now)
        self._ended = True
        return runner.connection_ended(item.why, now, kind=item.kind)

    def _perform(
        self,
        actions: list[Action],
        outgoing: trio.MemorySendChannel[bytes],
        nursery: trio.Nursery,
    ) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                outgoing.send_nowait(action.payload)  # one in flight: the runner waits
            elif isinstance(action, CloseConnection):
                nursery.start_soon(self._close)

    async def _sender(self, outgoing: trio.MemoryReceiveChannel[bytes]) -> None:
        async for payload in outgoing:
            try:
                await self._send(payload)
            except (SessionBroken, SessionClosed):
                return  # the session's end comes as an event and says why
            except LocalProtocolError as exc:
                await self._inputs_in.send(_Sent(str(exc)))
                continue
            await self._inputs_in.send(_Sent())
