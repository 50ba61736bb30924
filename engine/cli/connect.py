"""The connect mode: one session to HOST:PORT; send the plan's frames, print the replies,
close when the expected replies arrived (or the peer closed, or ``--timeout``).

``run_client`` raises what ends a run badly; ``exits.run_mode`` turns it into the exit
code.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import trio

from engine.cli.exits import ReplyTimeout, UsageError
from engine.cli.output import Printer
from engine.cli.plan import Plan, decode_line
from engine.engine import Engine, open_engine
from engine.errors import SessionBroken, SessionClosed
from ipc import schema
from ipc.errors import LocalProtocolError, RemoteProtocolError
from ipc.framing import describe

__all__ = ["run_client"]

#: How long closing may take to flush what was sent before the connection is reset.
CLOSE_GRACE_SECONDS = 2.0


@dataclass(slots=True)
class _Progress:
    """What the sender and the printer have done; decides when the run is over."""

    plan: Plan
    sent: int = 0
    received: int = 0
    input_done: bool = False
    done: trio.Event = field(default_factory=trio.Event)

    def update(self) -> None:
        count = self.plan.count
        if count is not None:
            finished = self.received >= count and (count > 0 or self.input_done)
        else:
            finished = self.input_done and self.sent > 0 and self.received >= self.sent
        if finished:
            self.done.set()

    def waiting_for(self) -> str:
        plan = self.plan
        expected = plan.count if plan.count is not None else max(self.sent, len(plan.frames))
        waiting = f"received {self.received} of {expected} expected frames"
        if self.received == 0 and (self.sent or plan.frames):
            # The usual cause: the server rejected our first header as another framing.
            waiting += f" (does the server speak {describe(plan.spec)}? see --framing)"
        return waiting


async def run_client(plan: Plan, out: TextIO = sys.stdout) -> None:
    """Connect, send, print replies; return when done.

    Raises:
        ConnectFailed: could not connect.
        SessionBroken: the peer reset or closed before the expected replies arrived.
        RemoteProtocolError: the peer broke the framing.
        ReplyTimeout: ``plan.timeout`` elapsed.
        UsageError: a bad line on stdin (with ``--input hex``).
    """
    clock_offset = time.time() - trio.current_time()
    printer = Printer(plan.output, clock_offset, out, plan.decoder)
    async with open_engine() as engine:
        session_id = await engine.connect(
            plan.host, plan.port, framing=plan.spec, connect_timeout=plan.connect_timeout
        )
        progress = _Progress(plan)
        if not plan.frames and not plan.stdin:
            progress.input_done = True
            progress.update()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_consume, engine, progress, printer)
            sender = trio.CancelScope()
            nursery.start_soon(_send_input, engine, session_id, progress, sender)
            with trio.move_on_after(plan.timeout or math.inf) as timer:
                await progress.done.wait()
            if timer.cancelled_caught:
                raise ReplyTimeout(f"timed out after {plan.timeout:g} s: {progress.waiting_for()}")
            sender.cancel()
            with trio.move_on_after(CLOSE_GRACE_SECONDS):
                await engine.close(session_id)
            await engine.abort(session_id)  # only if the flush did not finish in time


async def _send_input(
    engine: Engine, session_id: int, progress: _Progress, scope: trio.CancelScope
) -> None:
    # If the session ends, _consume reports why, from its events.
    with scope, contextlib.suppress(SessionBroken, SessionClosed):
        await _send_frames(engine, session_id, progress)


async def _send_frames(engine: Engine, session_id: int, progress: _Progress) -> None:
    plan = progress.plan
    if plan.frames:
        await engine.send(session_id, plan.frames)
        progress.sent += len(plan.frames)
    if plan.stdin:
        number = 0
        readline = sys.stdin.buffer.readline
        while line := await trio.to_thread.run_sync(readline, abandon_on_cancel=True):
            number += 1
            frame = decode_line(line.rstrip(b"\n"), plan.input_format, f"stdin line {number}")
            try:
                await engine.send(session_id, [frame])
            except LocalProtocolError as exc:
                raise UsageError(f"stdin line {number}: {exc}") from None
            progress.sent += 1
    progress.input_done = True
    progress.update()


async def _consume(engine: Engine, progress: _Progress, printer: Printer) -> None:
    """Print frames and turn session trouble into exceptions."""
    error: schema.SessionError | None = None
    count = progress.plan.count
    async for event in engine.events:
        if isinstance(event, schema.Received):
            if progress.done.is_set():
                continue  # arriving while closing: not asked for
            frames = event.frames
            if count is not None:
                frames = frames[: count - progress.received]
            printer.frames(event.session_id, "in", frames, event.at)
            progress.received += len(frames)
            progress.update()
        elif isinstance(event, schema.Sent):
            if progress.plan.show_sent:
                printer.frames(event.session_id, "out", event.frames, event.at)
        elif isinstance(event, schema.SessionError):
            error = event
        elif isinstance(event, schema.Closed):
            if progress.done.is_set():
                return
            if event.by == "error" and error is not None:
                if error.kind in ("frame_too_large", "truncated_frame"):
                    raise RemoteProtocolError(error.message)
                raise SessionBroken(error.message)
            if event.by == "peer":
                plan = progress.plan
                if plan.count is None and not plan.frames and not plan.stdin:
                    progress.done.set()  # listening until the peer closes: that's the end
                else:
                    raise SessionBroken(
                        f"the peer closed the connection early: {progress.waiting_for()}"
                    )
            return
