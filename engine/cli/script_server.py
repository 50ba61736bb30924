"""A scripted server (``--listen PORT --script FILE`` or ``--replay FILE``): each client
that connects gets a run of the script, as the server.

``engine.cli.listen`` does the listening, printing and stopping; ``ScriptedClients`` is
what it hands each accepted client to (``accepted``), and the client's frames and end.
A client's script ends when its steps are done and the client leaves (the rules answer
until then), or at once when it fails (then the connection is closed). Each result goes
to stderr as it comes (``#3 127.0.0.1:50412: passed (...)``, or the report); after
``--clients N`` results the run ends. ``finish`` writes ``--junit`` (one test case per
client) and raises the first failure, whose kind is the exit code.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import trio

from engine.cli.plan import ServerPlan
from engine.cli.script_driver import ScriptDriver
from engine.cli.script_plan import ScriptPlan
from engine.cli.script_run import (
    case_of,
    close_session,
    failure_error,
    make_runner,
    write_junit,
)
from engine.engine import Engine
from exchanges import Case, Outcome
from exchanges.session_end import describe_end
from ipc import schema

__all__ = ["ScriptedClients", "server_plan"]


def server_plan(plan: ScriptPlan) -> ServerPlan:
    """The listening part of a scripted server's plan."""
    assert plan.limits is not None
    return ServerPlan(
        host=plan.host,
        port=plan.port,
        spec=plan.specs[0],
        upstream=None,
        upstream_spec=None,
        echo=False,
        frames=[],
        limits=plan.limits,
        output=plan.output,
        timestamps=plan.timestamps,
        show_sent=plan.show_sent,
        count=None,
        timeout=None,
        connect_timeout=plan.connect_timeout,
        decoder=plan.decoder,
        encoding=plan.encoding,
        capture=plan.capture,
        capture_max_bytes=plan.capture_max_bytes,
        capture_keep=plan.capture_keep,
        tls=plan.server_tls,
    )


@dataclass(slots=True)
class _Client:
    peer: str
    driver: ScriptDriver
    error: schema.SessionError | None = None


class ScriptedClients:
    """Each accepted client's script run (see the module docstring)."""

    def __init__(self, plan: ScriptPlan, err: TextIO) -> None:
        self.plan = plan
        self.script = plan.scripts[0]
        self.err = err
        #: Set by the listening run: set it to end the run.
        self.done = trio.Event()
        self.cases: list[Case] = []
        self.failures: list[tuple[str, Outcome]] = []
        self._clients: dict[int, _Client] = {}

    def accepted(self, engine: Engine, session_id: int, peer: str, nursery: trio.Nursery) -> None:
        """Start the script for a client that just connected."""
        runner = make_runner(self.plan, self.script)

        async def send(payload: bytes) -> None:
            await engine.send(session_id, [payload])

        async def close() -> None:
            await close_session(engine, session_id)

        driver = ScriptDriver(runner, send, close, keep_open=True)
        self._clients[session_id] = _Client(peer, driver)
        nursery.start_soon(self._serve, engine, session_id, f"#{session_id} {peer}")

    async def frames(self, session_id: int, frames: Sequence[bytes]) -> None:
        client = self._clients.get(session_id)
        if client is not None:
            await client.driver.frames(frames)

    async def session_event(self, event: schema.Event) -> None:
        """A client's error or end."""
        if isinstance(event, schema.SessionError):
            client = self._clients.get(event.session_id)
            if client is not None:
                client.error = event
        elif isinstance(event, schema.Closed):
            client = self._clients.pop(event.session_id, None)
            if client is not None:
                await client.driver.ended(*describe_end(event, client.error))

    async def _serve(self, engine: Engine, session_id: int, who: str) -> None:
        client = self._clients[session_id]
        runner = client.driver.runner
        started = time.monotonic()
        outcome = await client.driver.run()
        seconds = time.monotonic() - started
        case = case_of(self.script, outcome, seconds, runner.transcript)
        self.cases.append(
            Case(
                name=f"{case.name} ({who})",
                classname=case.classname,
                file=case.file,
                seconds=case.seconds,
                kind=case.kind,
                message=case.message,
                report=case.report,
                transcript=case.transcript,
            )
        )
        if outcome.passed:
            print(f"{who}: {self.script.path}: passed", file=self.err, flush=True)
        else:
            self.failures.append((who, outcome))
            print(f"{who}: {outcome.report}", file=self.err, flush=True)
            await close_session(engine, session_id)
        if self.plan.clients is not None and len(self.cases) >= self.plan.clients:
            self.done.set()

    def finish(self) -> None:
        """Write ``--junit``; raise the first failure.

        Raises:
            ExpectationFailed, ReplyTimeout, ...: as ``script_run.failure_error``.
        """
        if self.plan.junit is not None:
            write_junit(self.plan.junit, self.cases)
        if not self.failures:
            return
        who, first = self.failures[0]
        raise failure_error(
            first,
            f"{len(self.failures)} of {len(self.cases)} clients failed the script; the first, "
            f"{who}: {first.message}",
        )
