"""The connect mode: one session to HOST:PORT; send the plan's frames, print the replies,
close when the expected replies arrived (or the peer closed, or a timeout: ``--timeout``
for the whole run, or by default ``REPLY_TIMEOUT_SECONDS`` without a reply while one is
due).

``run_client`` raises what ends a run badly; ``exits.run_mode`` turns it into the exit
code. ``exchange`` is the part between connecting and closing (send, print, decide when
the run is over); ``--attach --session`` runs it against a long-lived engine's session
(``engine.cli.attach``), through the ``SessionLink`` an ``Engine`` also is.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol

import trio

from engine.cli.exits import ReplyTimeout, UsageError
from engine.cli.output import Printer, tls_note
from engine.cli.parse import PROG
from engine.cli.plan import Plan, decode_line
from engine.engine import Engine, open_engine
from engine.errors import SessionBroken, SessionClosed
from engine.session import PartialFrame
from ipc import schema
from ipc.diagnosis import Diagnosis, Situation, diagnose
from ipc.errors import LocalProtocolError, RemoteProtocolError
from ipc.framing import describe, encode_frames

if TYPE_CHECKING:
    from ipc.tls import TlsInfo

__all__ = [
    "INSECURE_WARNING",
    "SessionLink",
    "exchange",
    "hint",
    "report_tls",
    "run_client",
    "start_capture",
]

#: Printed on stderr before an --insecure connection (never skip verification silently).
INSECURE_WARNING = (
    f"{PROG}: warning: --insecure: the server's certificate is NOT verified; anyone on the "
    "path can read and change this session"
)

#: How long closing may take to flush what was sent before the connection is reset.
CLOSE_GRACE_SECONDS = 2.0

#: How long a frame may wait for its rest, with no byte more, before the run says what
#: the bytes look like: a wrong framing takes a header for a length it then waits for.
STALLED_FRAME_SECONDS = 3.0
#: How often the run looks at the frame being received, for that.
STALL_CHECK_SECONDS = 0.5


class SessionLink(Protocol):
    """What a run needs of the engine its session lives in: its events, ``send``, what
    the bytes seen so far say and the frame being received (``None`` when it cannot
    tell)."""

    @property
    def events(self) -> AsyncIterable[schema.Event]: ...

    async def send(self, session_id: int, frames: Sequence[bytes]) -> None: ...

    def diagnose(self, session_id: int) -> Diagnosis | None: ...

    def partial_frame(self, session_id: int) -> PartialFrame | None: ...


@dataclass(slots=True)
class _Progress:
    """What the sender and the printer have done; decides when the run is over, how many
    frames are printed, and whether a reply is awaited (for the reply timeout)."""

    plan: Plan
    sent: int = 0
    received: int = 0
    input_done: bool = False
    #: Waiting for the next line of stdin (the user may be typing: no reply is late).
    reading_input: bool = False
    #: When a frame was last sent or received (trio's clock).
    last_activity: float = field(default_factory=trio.current_time)
    done: trio.Event = field(default_factory=trio.Event)
    #: Set (and replaced) at every change, for the reply watchdog.
    changed: trio.Event = field(default_factory=trio.Event)

    def update(self, *, activity: bool = False) -> None:
        if activity:
            self.last_activity = trio.current_time()
        plan = self.plan
        count = plan.count
        if count is not None:
            finished = self.received >= count and (count > 0 or self.input_done)
        elif not plan.stdin:
            # Known in advance: a reply may be read before the send has even returned.
            finished = bool(plan.frames) and self.received >= len(plan.frames)
        else:
            finished = self.input_done and self.sent > 0 and self.received >= self.sent
        if finished:
            self.done.set()
        self.changed.set()
        self.changed = trio.Event()

    def limit(self) -> int | None:
        """How many frames the run prints in all, as far as known now (None: no limit).

        The rule (``--help``): ``--count N`` prints N; otherwise one frame per frame sent,
        so how the peer's bytes were split into reads changes nothing. Frames given on the
        command line are known from the start; with ``--stdin``, the number is known when
        stdin ends, and until then every frame is printed.
        """
        plan = self.plan
        if plan.count is not None:
            return plan.count
        if not plan.stdin:
            return len(plan.frames) or None
        return self.sent if self.input_done else None

    def awaiting_reply(self) -> bool:
        """Whether the run is waiting on the peer: a reply is due or a send is under way
        (not while it only waits for the user's next line of stdin)."""
        if self.done.is_set() or not (self.sent or self.plan.frames):
            return False
        expected = self.plan.count if self.plan.count is not None else self.sent
        return not self.reading_input or self.received < expected

    def waiting_for(self, diagnosis: Diagnosis | None, situation: Situation) -> str:
        """How far the run got, and what the bytes say about why it got no further.

        ``diagnosis`` is the engine's; without one (the peer may close before our frames
        were even written), the frames the plan sends are looked at.
        """
        plan = self.plan
        expected = plan.count if plan.count is not None else max(self.sent, len(plan.frames))
        waiting = f"received {self.received} of {expected} expected frames"
        if diagnosis is None and self.received == 0 and plan.frames:
            sent = encode_frames(plan.frames[:1], plan.spec)
            diagnosis = diagnose(situation, plan.spec, sent=sent)
        if diagnosis is not None:
            waiting += f": {hint(diagnosis)}"
        vague = diagnosis is None or (diagnosis.kind == "nothing" and diagnosis.suggestion is None)
        if vague and self.received == 0 and (self.sent or plan.frames):
            # A usual cause, which the bytes cannot show: the server rejected our first
            # header as another framing's.
            waiting += f" (does the server speak {describe(plan.spec)}? see --framing)"
        return waiting


def report_tls(printer: Printer, session_id: int, info: TlsInfo, at: float) -> None:
    """Say what TLS established: a ``tls`` line in json output, else a line on stderr."""
    if not printer.tls(session_id, info, at):
        print(f"{PROG}: {tls_note(info)}", file=sys.stderr)


def hint(diagnosis: Diagnosis) -> str:
    """The diagnosis, and the option to try if it names a framing."""
    if diagnosis.suggestion is None:
        return diagnosis.summary
    return f"{diagnosis.summary}: try --framing {diagnosis.suggestion}"


def _diagnosis(details: dict[str, object]) -> Diagnosis | None:
    return Diagnosis.from_wire(details.get("diagnosis"))


def start_capture(engine: Engine, path: str | None, max_bytes: int, keep: int) -> None:
    """``--capture PATH`` (None: none): the engine's capture starts before any session.

    Raises:
        UsageError: the file cannot be written.
    """
    if path is None:
        return
    try:
        engine.start_capture(path, max_bytes=max_bytes, keep=keep)
    except OSError as exc:
        raise UsageError(f"cannot write --capture {path}: {exc.strerror}") from None


async def run_client(plan: Plan, out: BinaryIO | None = None) -> None:
    """Connect, send, print replies (to ``out``, stdout's bytes by default); return when
    done.

    Raises:
        ConnectFailed: could not connect.
        SessionBroken: the peer reset or closed before the expected replies arrived.
        RemoteProtocolError: the peer broke the framing.
        ReplyTimeout: ``plan.timeout`` elapsed, or no reply came within
            ``plan.reply_timeout``.
        UsageError: a bad line on stdin (with ``--input hex``).
    """
    clock_offset = time.time() - trio.current_time()
    printer = Printer(
        plan.output,
        clock_offset,
        out or sys.stdout.buffer,
        timestamps=plan.timestamps,
        decoder=plan.decoder,
        encoding=plan.encoding,
        framing=describe(plan.spec),
    )
    async with open_engine() as engine:
        start_capture(engine, plan.capture, plan.capture_max_bytes, plan.capture_keep)
        if plan.tls is not None and plan.tls.insecure:
            print(INSECURE_WARNING, file=sys.stderr)
        session_id = await engine.connect(
            plan.host,
            plan.port,
            framing=plan.spec,
            connect_timeout=plan.connect_timeout,
            tls=plan.tls,
        )
        described = engine.describe(session_id)
        printer.peer = described["peer"] if described is not None else ""
        if described is not None and "tls" in described:
            from ipc.tls import TlsInfo  # only a TLS session pays for it

            info = TlsInfo.from_wire(described["tls"])
            if info is not None:
                report_tls(printer, session_id, info, trio.current_time())

        async def close() -> None:
            with trio.move_on_after(CLOSE_GRACE_SECONDS):
                await engine.close(session_id)
            await engine.abort(session_id)  # only if the flush did not finish in time

        await exchange(engine, session_id, plan, printer, finish=close)


async def exchange(
    link: SessionLink,
    session_id: int,
    plan: Plan,
    printer: Printer,
    *,
    finish: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Send the plan's frames into the session and print its replies until the run is
    over (the rules of ``_Progress``); then ``finish()`` (closing the session), while its
    last events are still read. Without ``finish`` the session is left as it is.

    Raises what ``run_client`` documents, but ``ConnectFailed``.
    """
    progress = _Progress(plan)
    if not plan.frames and not plan.stdin:
        progress.input_done = True
        progress.update()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_consume, link, progress, printer)
        sender = trio.CancelScope()
        nursery.start_soon(_send_input, link, session_id, progress, sender)
        watchdog, stall = trio.CancelScope(), trio.CancelScope()
        nursery.start_soon(_hint_stalled_frame, link, session_id, stall)
        if plan.reply_timeout is not None:
            nursery.start_soon(
                _watch_replies, link, session_id, progress, plan.reply_timeout, watchdog
            )
        with trio.move_on_after(plan.timeout or math.inf) as timer:
            await progress.done.wait()
        if timer.cancelled_caught:
            waiting = progress.waiting_for(link.diagnose(session_id), "no_reply")
            raise ReplyTimeout(f"timed out after {plan.timeout:g} s: {waiting}")
        sender.cancel()
        watchdog.cancel()
        stall.cancel()
        if finish is None:
            nursery.cancel_scope.cancel()
        else:
            await finish()


async def _watch_replies(
    link: SessionLink,
    session_id: int,
    progress: _Progress,
    seconds: float,
    scope: trio.CancelScope,
) -> None:
    """Raise ``ReplyTimeout`` once the run has awaited the peer for ``seconds`` since the
    last frame sent or received (the default timeout of a run that sends)."""
    with scope:
        while True:
            changed = progress.changed
            if not progress.awaiting_reply():
                await changed.wait()
                continue
            deadline = progress.last_activity + seconds
            if trio.current_time() >= deadline:
                waiting = progress.waiting_for(link.diagnose(session_id), "no_reply")
                raise ReplyTimeout(
                    f"no reply within {seconds:g} s: {waiting}; wait longer with --timeout S, "
                    "or --timeout 0 to wait forever"
                )
            with trio.move_on_at(deadline):
                await changed.wait()


async def _hint_stalled_frame(link: SessionLink, session_id: int, scope: trio.CancelScope) -> None:
    """Say once, on stderr, what the bytes look like when a frame has waited
    ``STALLED_FRAME_SECONDS`` for its rest with no byte more, if they say anything
    (``ipc.diagnosis``): a run with the wrong framing that sends nothing would otherwise
    wait without a word. The run goes on; its timeouts are what end it."""
    with scope:
        seen: PartialFrame | None = None
        since = trio.current_time()
        while True:
            await trio.sleep(STALL_CHECK_SECONDS)
            now = trio.current_time()
            partial = link.partial_frame(session_id)
            if partial != seen:
                seen, since = partial, now
            elif partial is not None and now - since >= STALLED_FRAME_SECONDS:
                diagnosis = link.diagnose(session_id)
                if diagnosis is not None:
                    print(
                        f"{PROG}: no byte for {STALLED_FRAME_SECONDS:g} s in the middle of a "
                        f"frame ({partial.received:,} bytes of it received, at least "
                        f"{partial.missing:,} more expected): {hint(diagnosis)}",
                        file=sys.stderr,
                    )
                    return
                since = math.inf  # nothing to say of these bytes: look again when more come


async def _send_input(
    link: SessionLink, session_id: int, progress: _Progress, scope: trio.CancelScope
) -> None:
    # If the session ends, _consume reports why, from its events.
    with scope, contextlib.suppress(SessionBroken, SessionClosed):
        await _send_frames(link, session_id, progress)


async def _send_frames(link: SessionLink, session_id: int, progress: _Progress) -> None:
    plan = progress.plan
    if plan.frames:
        await link.send(session_id, plan.frames)
        progress.sent += len(plan.frames)
        progress.update(activity=True)
    if plan.stdin:
        number = 0
        readline = sys.stdin.buffer.readline
        while True:
            progress.reading_input = True
            progress.update()
            line = await trio.to_thread.run_sync(readline, abandon_on_cancel=True)
            progress.reading_input = False
            if not line:
                break
            number += 1
            where = f"stdin line {number}"
            frame = decode_line(line.rstrip(b"\n"), plan.input_format, where, plan.encoding)
            try:
                await link.send(session_id, [frame])
            except LocalProtocolError as exc:
                raise UsageError(f"stdin line {number}: {exc}") from None
            progress.sent += 1
            progress.update(activity=True)
    progress.input_done = True
    progress.update()


async def _consume(link: SessionLink, progress: _Progress, printer: Printer) -> None:
    """Print frames and turn session trouble into exceptions."""
    error: schema.SessionError | None = None
    async for event in link.events:
        if isinstance(event, schema.Received):
            if progress.done.is_set():
                continue  # arriving while closing: not asked for
            frames = event.frames
            limit = progress.limit()
            if limit is not None:
                frames = frames[: max(0, limit - progress.received)]
            printer.frames(event.session_id, "in", frames, event.spans())
            progress.received += len(frames)
            progress.update(activity=True)
        elif isinstance(event, schema.Sent):
            if progress.plan.show_sent:
                printer.frames(event.session_id, "out", event.frames, event.spans())
        elif isinstance(event, schema.SessionError):
            error = event
        elif isinstance(event, schema.Closed):
            diagnosis = _diagnosis(event.details)
            if progress.done.is_set():
                if diagnosis is not None and diagnosis.kind != "nothing":
                    # The run got what it waited for, but the bytes read as another
                    # framing (an empty frame, a frame left half read): say so. That
                    # nothing came back is no news to a run that waited for nothing
                    # (--count 0).
                    print(f"{PROG}: warning: {hint(diagnosis)}", file=sys.stderr)
                return
            if event.by == "error" and error is not None:
                message = error.message
                found = _diagnosis(error.details)
                if found is not None and found.suggestion is not None:
                    message += f": try --framing {found.suggestion}"
                if error.kind == "tls":
                    # A TLS peer on a plaintext session, or a TLS alert after the
                    # handshake: a connection failure (exit 3), with what to do.
                    if progress.plan.tls is None:
                        message += ": try --tls"
                    elif "client certificate" in message and not progress.plan.tls.cert:
                        message += ": give --cert and --key"
                    raise SessionBroken(message)
                if error.kind in ("frame_too_large", "truncated_frame"):
                    raise RemoteProtocolError(message)
                raise SessionBroken(message)
            plan = progress.plan
            if plan.count is None and not plan.frames and not plan.stdin:
                progress.done.set()  # listening until the session ends: that's the end
                return
            waiting = progress.waiting_for(diagnosis, "closed_early")
            if event.by == "peer":
                if progress.received == 0 and plan.tls is None:
                    # A TLS server closes without a word on a client whose first bytes
                    # are no TLS handshake.
                    waiting += "; or it speaks TLS: try --tls"
                raise SessionBroken(f"the peer closed the connection early: {waiting}")
            # Closed on our side before the replies came: another controller of a
            # long-lived engine, or the engine shutting down (--attach --session).
            raise SessionClosed(f"the session was closed ({event.by}): {waiting}")
