"""The server roles of the CLI: ``--listen`` (be the server) and ``--relay`` (sit between a
client and its server).

One engine, one listener (``Engine.listen`` or ``Engine.relay``). The first line on stderr
says where it listens (``listening on HOST:PORT``: a script that asked for port 0 reads the
port from it); a warning follows when the address is reachable from the network, then the
clients and relay pairs coming and going. Frames go to stdout, one line each, saying whose
they are (``#3 127.0.0.1:50412``: the session, or the relay pair, and its client).

What happens to each accepted client besides what the engine does for the role (echo,
relaying) is a ``ClientHandler``: a task started for each accepted client, in the run's
nursery, which ends by itself once the client's session ends. ``--send`` frames are one
(``greet``). ``--listen --script`` and ``--listen --replay`` (``run_scripted_server``)
give each client a script run instead (``engine.cli.script_server.ScriptedClients``),
which also gets the client's frames and its end.

The run ends after ``--count`` frames received in all (exit 0), at ``--timeout`` (exit 5
when ``--count`` frames have not come; 0 without ``--count``), or on SIGINT or SIGTERM
(exit 0): the listener stops, every session is closed after flushing (within
``CLOSE_GRACE_SECONDS``; then the engine resets what is left), and the engine stops.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import trio

from engine.cli.connect import start_capture
from engine.cli.exits import ReplyTimeout
from engine.cli.output import Printer, tls_note
from engine.cli.plan import ServerPlan
from engine.engine import Engine, open_engine
from engine.errors import SessionBroken, SessionClosed
from ipc import schema
from ipc.cli_args import format_address
from ipc.closed_text import closed_text
from ipc.framing import describe
from ipc.tls import TlsInfo

if TYPE_CHECKING:
    from engine.cli.script_plan import ScriptPlan
    from engine.cli.script_server import ScriptedClients

__all__ = ["CLOSE_GRACE_SECONDS", "ClientHandler", "greet", "run_scripted_server", "run_server"]

#: How long the sessions may take to flush when the run ends; then they are reset.
CLOSE_GRACE_SECONDS = 2.0

#: What a run does for each accepted client: ``handler(engine, session_id)``.
ClientHandler = Callable[[Engine, int], Awaitable[None]]


def greet(frames: list[bytes]) -> ClientHandler:
    """Send ``frames`` to each client as it connects (``--send`` and the like)."""

    async def handler(engine: Engine, session_id: int) -> None:
        with contextlib.suppress(SessionClosed, SessionBroken):  # it left: nothing to do
            await engine.send(session_id, frames)

    return handler


async def run_scripted_server(
    plan: ScriptPlan, out: BinaryIO | None = None, err: TextIO | None = None
) -> None:
    """``--listen --script``/``--replay``: each client gets the script, until ``--clients``
    clients' scripts ended, SIGINT or SIGTERM; then ``--junit`` is written.

    Raises:
        ListenFailed: the address cannot be listened on.
        ExpectationFailed, ReplyTimeout, ...: a client's script failed (the first's code).
    """
    from engine.cli.script_server import ScriptedClients, server_plan

    err = sys.stderr if err is None else err
    scripted = ScriptedClients(plan, err)
    await run_server(server_plan(plan), out, err, scripted=scripted)
    scripted.finish()


async def run_server(
    plan: ServerPlan,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
    *,
    scripted: ScriptedClients | None = None,
) -> None:
    """Listen (or relay) until ``--count``, ``--timeout``, SIGINT or SIGTERM.

    Raises:
        ListenFailed: the address cannot be listened on.
        ReplyTimeout: ``--timeout`` passed before ``--count`` frames came.
    """
    printer = Printer(
        plan.output,
        time.time() - trio.current_time(),
        sys.stdout.buffer if out is None else out,
        timestamps=plan.timestamps,
        decoder=plan.decoder,
        encoding=plan.encoding,
        # JSON lines name the framing unless a relay's two legs have different ones.
        framing=describe(plan.spec) if plan.upstream_spec in (None, plan.spec) else "",
    )
    run = _Run(plan, printer, sys.stderr if err is None else err, scripted)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        # The outer nursery holds the event reader and the client handlers: they end once
        # the engine has closed every session and its events.
        async with trio.open_nursery() as outer, open_engine() as engine:
            start_capture(engine, plan.capture, plan.capture_max_bytes, plan.capture_keep)
            outer.start_soon(run.consume, engine, outer)
            listening = await _start(engine, plan)
            run.announce(listening)
            async with trio.open_nursery() as waiting:
                waiting.start_soon(_cancel_on_signal, signals, waiting.cancel_scope)
                with trio.move_on_after(plan.timeout or math.inf) as timer:
                    await run.done.wait()
                waiting.cancel_scope.cancel()
            run.done.set()  # frames arriving from now on are not printed
            await _stop(engine, listening.listener_id)
    if timer.cancelled_caught and plan.count is not None:
        raise ReplyTimeout(
            f"timed out after {plan.timeout:g} s: received {run.received} of {plan.count} frames"
        )


async def _start(engine: Engine, plan: ServerPlan) -> schema.Listening:
    if plan.upstream is None:
        return await engine.listen(
            plan.host,
            plan.port,
            framing=plan.spec,
            echo=plan.echo,
            limits=plan.limits,
            tls=plan.tls,
        )
    assert plan.upstream_spec is not None
    return await engine.relay(
        plan.host,
        plan.port,
        *plan.upstream,
        framing=plan.spec,
        upstream_framing=plan.upstream_spec,
        connect_timeout=plan.connect_timeout,
        limits=plan.limits,
        tls=plan.tls,
        upstream_tls=plan.upstream_tls,
    )


async def _cancel_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel()
        return


async def _stop(engine: Engine, listener_id: int) -> None:
    """Stop accepting, then close every session after flushing, within the grace."""
    await engine.close_listener(listener_id)

    async def close(session_id: int) -> None:
        with contextlib.suppress(SessionClosed, SessionBroken):
            await engine.close(session_id)

    with trio.move_on_after(CLOSE_GRACE_SECONDS):
        async with trio.open_nursery() as nursery:
            for info in engine.sessions():
                nursery.start_soon(close, info["session_id"])


class _Run:
    """The event reader of a run: prints frames, logs clients, counts, starts handlers."""

    def __init__(
        self,
        plan: ServerPlan,
        printer: Printer,
        err: TextIO,
        scripted: ScriptedClients | None = None,
    ) -> None:
        self.plan = plan
        self.printer = printer
        self.err = err
        self.handler = greet(plan.frames) if plan.frames else None
        self.scripted = scripted
        self.received = 0
        #: Set once --count frames came, or --clients clients' scripts ended (or the run
        #: is ending): no more frames print.
        self.done = trio.Event()
        if plan.count == 0:
            self.done.set()
        if scripted is not None:
            scripted.done = self.done
        #: The peer of each live session, and the client of each live relay pair.
        self.peers: dict[int, str] = {}
        self.clients: dict[int, str] = {}

    def log(self, line: str) -> None:
        print(line, file=self.err, flush=True)

    def announce(self, listening: schema.Listening) -> None:
        self.log(f"listening on {listening.local}" + (" (TLS)" if listening.tls else ""))
        if self.plan.upstream_tls is not None and self.plan.upstream_tls.insecure:
            self.log(
                "warning: --upstream-insecure: the upstream's certificate is NOT verified; "
                "anyone on the path can read and change what is relayed"
            )
        if listening.reachable:
            self.log(
                f"warning: {listening.local} is reachable from the network, not only from "
                "this machine (listen on 127.0.0.1 or ::1 to keep it local)"
            )
        plan = self.plan
        if plan.upstream is not None:
            assert plan.upstream_spec is not None
            framings = describe(plan.spec)
            if plan.upstream_spec != plan.spec:
                framings += f" ⇄ {describe(plan.upstream_spec)}"
            self.log(f"relaying each client to {format_address(*plan.upstream)} ({framings})")

    async def consume(self, engine: Engine, nursery: trio.Nursery) -> None:
        """Handle every event until the engine's events end."""
        async for event in engine.events:
            if isinstance(event, schema.Received):
                self.on_frames(event, "in" if event.direction is None else event.direction)
                if self.scripted is not None:
                    await self.scripted.frames(event.session_id, event.frames)
            elif isinstance(event, schema.Sent):
                if self.plan.show_sent and not self.done.is_set():
                    self.on_frames(event, "out")
            elif isinstance(event, schema.Accepted):
                self.peers[event.session_id] = event.peer
                if event.pair_id is None:
                    self.log(f"#{event.session_id} {event.peer} connected")
                    if self.scripted is not None:
                        self.scripted.accepted(engine, event.session_id, event.peer, nursery)
                    elif self.handler is not None:
                        nursery.start_soon(self.handler, engine, event.session_id)
                else:
                    self.clients[event.pair_id] = event.peer
            elif isinstance(event, schema.Connected):
                self.peers[event.session_id] = event.peer
            else:
                if self.scripted is not None:
                    await self.scripted.session_event(event)
                self.on_state(event)

    def on_frames(self, event: schema.Received | schema.Sent, direction: str) -> None:
        if self.done.is_set():
            return  # arriving while the run ends: not asked for
        frames = event.frames
        spans = event.spans()
        if direction != "out":
            count = self.plan.count
            if count is not None:
                frames = frames[: count - self.received]
            self.received += len(frames)
        peer = self.peers.get(event.session_id, "?")
        extra: dict[str, Any] | None = None
        if event.pair_id is None:
            who = f"#{event.session_id} {peer}"
        else:
            who = f"#{event.pair_id} {self.clients.get(event.pair_id, '?')}"
            extra = {"pair": event.pair_id}
        self.printer.frames(
            event.session_id, direction, frames, spans, who=who, peer=peer, extra=extra
        )
        if self.plan.count is not None and self.received >= self.plan.count:
            self.done.set()

    def on_state(self, event: schema.Event) -> None:
        """Log clients and pairs coming and going (relay legs are logged as pairs)."""
        if isinstance(event, schema.PairOpened):
            self.log(f"#{event.pair_id} {event.client} ⇄ {event.upstream}")
        elif isinstance(event, schema.PairClosed):
            self.clients.pop(event.pair_id, None)
            self.log(
                f"#{event.pair_id} closed: {event.reason} ({_frames(event.frames_c2s)} >, "
                f"{event.frames_s2c:,} <)"
            )
        elif isinstance(event, schema.SessionError):
            if self._plain(event.session_id):
                self.log(f"#{event.session_id} error: {event.message}")
        elif isinstance(event, schema.Closed):
            plain = self._plain(event.session_id)
            self.peers.pop(event.session_id, None)
            if plain:
                reason = event.details.get("reason")
                self.log(
                    f"#{event.session_id} {closed_text(event.by, 'the client')}"
                    + (f": {reason}" if reason else "")
                    + f" ({_frames(event.frames_in)} in, {event.frames_out:,} out)"
                )
        elif isinstance(event, schema.LogLine):
            self.log(f"{event.level}: {event.message}")
        elif isinstance(event, schema.TlsEstablished):
            info = TlsInfo.from_wire(event.tls)
            if info is not None:
                peer = self.peers.get(event.session_id, "")
                who = f"#{event.session_id} {peer}"
                if self.plan.upstream is not None:  # a relay leg: the client's, or upstream
                    who = f"{'upstream' if info.side == 'client' else 'client'} {peer}"
                self.log(f"{who} {tls_note(info)}")
                self.printer.tls(event.session_id, info, event.at, peer=peer)

    def _plain(self, session_id: int) -> bool:
        """Whether a session is a --listen client (not a relay leg, logged as its pair)."""
        return self.plan.upstream is None and session_id in self.peers


def _frames(count: int) -> str:
    return f"{count:,} frame{'' if count == 1 else 's'}"
