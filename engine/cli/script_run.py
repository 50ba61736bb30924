"""``--script`` and ``--replay``: running scripts as the client, reporting, JUnit.

Each script runs in a connection of its own, one after the other (all of them, even
after a failure, so a JUnit report lists every one). Frames print as in the client mode
(``--output``, ``--show-sent``); each script's result goes to stderr: ``check.toml:
passed (...)``, or the failure report (the step, what was expected, what came, as text
and hex). The run's exit code is that of the first script that did not pass: 6 an
expectation failed, 5 a timeout, 4 a protocol error, 3 no connection, 2 a mistake in the
script found while running (a placeholder without a value).

``make_runner`` and ``close_session`` are shared with the scripted server
(``engine.cli.listen``).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TextIO

import trio

from engine.cli.connect import INSECURE_WARNING, report_tls, start_capture
from engine.cli.exits import ExpectationFailed, ReplyTimeout, UsageError
from engine.cli.output import Printer
from engine.cli.parse import PROG
from engine.cli.script_driver import ScriptDriver
from engine.cli.script_plan import ScriptPlan
from engine.engine import Engine, open_engine
from engine.errors import ConnectFailed, SessionBroken, SessionClosed
from exchanges import Case, Outcome, Runner, Script, Variables, junit_xml
from exchanges.session_end import describe_end
from ipc import schema
from ipc.errors import RemoteProtocolError
from ipc.framing import FramingSpec, describe
from ipc.tls import TlsInfo

__all__ = [
    "CLOSE_GRACE_SECONDS",
    "failure_error",
    "make_runner",
    "run_scripts",
    "write_junit",
]

#: How long closing may take to flush what was sent before the connection is reset.
CLOSE_GRACE_SECONDS = 2.0


async def run_scripts(
    plan: ScriptPlan, out: BinaryIO | None = None, err: TextIO | None = None
) -> None:
    """Run every script of the plan against HOST:PORT, then write ``--junit``.

    Raises:
        ExpectationFailed, ReplyTimeout, RemoteProtocolError, SessionBroken, UsageError:
            the first script that did not pass, as its exit code says.
    """
    err = sys.stderr if err is None else err
    output = sys.stdout.buffer if out is None else out
    cases: list[Case] = []
    failed: list[tuple[Script, Outcome]] = []
    for script, spec in zip(plan.scripts, plan.specs, strict=True):
        started = time.monotonic()
        runner = make_runner(plan, script)
        outcome = await _run_one(plan, script, spec, runner, output)
        seconds = time.monotonic() - started
        cases.append(case_of(script, outcome, seconds, runner.transcript))
        if outcome.passed:
            print(
                f"{PROG}: {script.path}: passed ({_counts(runner, seconds)})", file=err, flush=True
            )
        else:
            failed.append((script, outcome))
            if len(plan.scripts) > 1:
                print(f"{PROG}: {outcome.report}", file=err, flush=True)
    if plan.junit is not None:
        write_junit(plan.junit, cases)
    if not failed:
        return
    first = failed[0][1]
    if len(plan.scripts) == 1:
        raise failure_error(first, first.report)
    names = ", ".join(
        f"{script.path} ({outcome.step or outcome.kind})" for script, outcome in failed
    )
    raise failure_error(first, f"{len(failed)} of {len(plan.scripts)} scripts failed: {names}")


def make_runner(plan: ScriptPlan, script: Script) -> Runner:
    """A runner for ``script`` with the plan's variables (``--var`` wins), decoder and
    text encoding (the command line's, else the script's)."""
    from decoders import decoder_for

    decoder = plan.decoder or decoder_for(script.decoder or "auto")
    encoding = plan.encoding if plan.encoding_given else (script.encoding or plan.encoding)
    variables = Variables({**script.variables, **plan.variables})
    return Runner(script, variables=variables, decoder=decoder, encoding=encoding)


def case_of(script: Script, outcome: Outcome, seconds: float, transcript: Sequence[str]) -> Case:
    return Case(
        name=script.name,
        classname=Path(script.path).stem or script.name,
        file=script.path,
        seconds=seconds,
        kind=outcome.kind,
        message=outcome.message,
        report=outcome.report,
        transcript=tuple(transcript),
    )


def write_junit(path: str, cases: Sequence[Case]) -> None:
    """Write the JUnit report.

    Raises:
        UsageError: it cannot be written.
    """
    data = junit_xml(
        cases,
        suite=PROG,
        timestamp=datetime.now().astimezone().isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise UsageError(f"cannot write --junit {path}: {exc.strerror}") from None


def failure_error(outcome: Outcome, message: str) -> Exception:
    """The exception whose exit code says how ``outcome`` failed."""
    if outcome.kind == "expectation":
        return ExpectationFailed(message)
    if outcome.kind == "timeout":
        return ReplyTimeout(message)
    if outcome.kind == "protocol":
        return RemoteProtocolError(message)
    if outcome.kind == "script":
        return UsageError(message)
    return SessionBroken(message)


def _counts(runner: Runner, seconds: float) -> str:
    steps = runner.script.step_count()
    return (
        f"{steps} step{'' if steps == 1 else 's'}, {runner.frames_out} frame"
        f"{'' if runner.frames_out == 1 else 's'} sent, {runner.frames_in} received, "
        f"{seconds:.3f} s"
    )


async def _run_one(
    plan: ScriptPlan, script: Script, spec: FramingSpec, runner: Runner, out: BinaryIO
) -> Outcome:
    printer = Printer(
        plan.output,
        time.time() - trio.current_time(),
        out,
        timestamps=plan.timestamps,
        decoder=plan.decoder,
        encoding=runner.encoding,
        framing=describe(spec),
    )
    async with open_engine() as engine:
        start_capture(engine, plan.capture, plan.capture_max_bytes, plan.capture_keep)
        if plan.tls is not None and plan.tls.insecure:
            print(INSECURE_WARNING, file=sys.stderr)
        try:
            session_id = await engine.connect(
                plan.host,
                plan.port,
                framing=spec,
                connect_timeout=plan.connect_timeout,
                tls=plan.tls,
            )
        except ConnectFailed as exc:
            message = f"cannot connect: {exc}"
            return Outcome(False, "connection", message, f"{script.path}: {message}", script.path)
        described = engine.describe(session_id)
        printer.peer = described["peer"] if described is not None else ""
        info = TlsInfo.from_wire(described.get("tls")) if described is not None else None
        if info is not None:
            report_tls(printer, session_id, info, trio.current_time())

        async def send(payload: bytes) -> None:
            await engine.send(session_id, [payload])

        async def close() -> None:
            await close_session(engine, session_id)

        # A script with only rules answers until the peer leaves.
        driver = ScriptDriver(runner, send, close, keep_open=not script.steps)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_route, engine, session_id, driver, printer, plan.show_sent)
            outcome = await driver.run()
            await close()
        return outcome


async def close_session(engine: Engine, session_id: int) -> None:
    """Close after flushing, within ``CLOSE_GRACE_SECONDS``; then reset what is left."""
    with trio.move_on_after(CLOSE_GRACE_SECONDS), contextlib.suppress(SessionClosed, SessionBroken):
        await engine.close(session_id)
    await engine.abort(session_id)


async def _route(
    engine: Engine, session_id: int, driver: ScriptDriver, printer: Printer, show_sent: bool
) -> None:
    """The engine's events: print the session's frames, feed them to the driver, until
    the session is closed."""
    error: schema.SessionError | None = None
    async for event in engine.events:
        if isinstance(event, schema.Received) and event.session_id == session_id:
            printer.frames(session_id, "in", event.frames, event.spans())
            await driver.frames(event.frames)
        elif isinstance(event, schema.Sent) and event.session_id == session_id:
            if show_sent:
                printer.frames(session_id, "out", event.frames, event.spans())
        elif isinstance(event, schema.SessionError) and event.session_id == session_id:
            error = event
        elif isinstance(event, schema.Closed) and event.session_id == session_id:
            await driver.ended(*describe_end(event, error))
            return
