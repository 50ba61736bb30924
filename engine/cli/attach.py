"""``--attach [PATH]``: work in a running long-lived engine from the shell.

- ``--attach [PATH] HOST:PORT [--send ...]``: open a session in that engine and print its
  id (alone on the first line, so ``sid=$(framewire-engine --attach HOST:PORT)`` works);
  with frames to send, send them and print the replies as the client form does. The
  session stays open when the command exits.
- ``--attach [PATH] --session ID [--send ...]``: send into session ID and print the
  replies as the client form does (``--count``, ``--timeout``, ``--stdin`` and the
  output options included); without frames, print what the session receives until it
  closes (or ``--count``/``--timeout``). The session stays open.
- ``--attach [PATH]``: list the engine's sessions and listeners.

The command is a controller of the engine (``ipc.trio_channel.connect_socket``); it
attaches without history when it prints frames, so it sees the replies to what it sends
and nothing from before. Leaving detaches: the engine and its sessions carry on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.cli.connect import exchange
from engine.cli.exits import UsageError
from engine.cli.output import Printer
from engine.cli.plan import Plan, make_plan
from engine.errors import ConnectFailed, EngineError, SessionBroken, SessionClosed
from engine.session import PartialFrame
from ipc import schema
from ipc.cli_args import format_address, parse_host_port
from ipc.diagnosis import Diagnosis
from ipc.framing import FramingSpec, describe
from ipc.rpc import CommandFailed
from ipc.socket_path import NoEngine, SocketPathError, find_engine
from ipc.trio_channel import ChannelRefused, EngineClient, connect_socket

__all__ = ["AttachPlan", "make_attach_plan", "run_attach"]


@dataclass(frozen=True, slots=True)
class AttachPlan:
    """What an ``--attach`` run does: in the engine ``engine`` names (``--attach``'s PATH,
    None for the default one), open a session (``session_id`` None and an address in
    ``plan``, named ``label``) or use ``session_id``; then ``plan``'s exchange, if it
    sends or follows; or, with neither, list the sessions and listeners (a table, or
    JSON lines when ``listing`` is "json")."""

    engine: str | None
    session_id: int | None
    plan: Plan | None
    label: str = ""
    listing: str = "text"


def make_attach_plan(args: argparse.Namespace) -> AttachPlan:
    """Check the ``--attach`` arguments; find the engine's socket.

    ``--attach HOST:PORT`` (no PATH) reads as the default engine and that address, as a
    person means it, unless a file of that name exists.

    Raises:
        UsageError: bad arguments, or no such engine (the message says how to start one).
    """
    for option, given in (("--listen", args.listen), ("--relay", args.relay)):
        if given is not None:  # else it was left out without a word: the sessions listed
            raise UsageError(
                f"{option} does not go with --attach: --attach opens and drives client "
                f"sessions in a running engine; {option} runs in a process of its own"
            )
    spec = args.attach or None
    if spec is not None and args.address is None and not Path(spec).exists():
        with contextlib.suppress(ValueError):
            parse_host_port(spec)
            spec, args.address = None, spec
    if args.session is not None and args.address is not None:
        raise UsageError("--session ID is an open session: give it or HOST:PORT, not both")
    if args.label and args.address is None:
        raise UsageError("--label names a session --attach opens: add HOST:PORT")
    if args.address is None and args.session is None:
        if args.sends or args.file or args.stdin:
            raise UsageError("--attach sends into a session: add HOST:PORT or --session ID")
        return AttachPlan(spec, None, None, listing=args.output)
    plan = make_plan(args, address_required=False)
    return AttachPlan(spec, args.session, plan, args.label or "")


def _find(engine: str | None) -> Path:
    """The engine's socket.

    Raises:
        EngineError: no engine runs there (exit 3, as a server that is not there).
        UsageError: several engines and none named, or a name that cannot be a socket.
    """
    try:
        return find_engine(engine)
    except NoEngine as exc:
        raise EngineError(str(exc)) from None
    except SocketPathError as exc:
        raise UsageError(str(exc)) from None


async def run_attach(attach: AttachPlan, out: BinaryIO | None = None) -> None:
    """Do what ``attach`` says (see the module docstring).

    Raises:
        EngineError: the engine cannot be reached, refused us, or went away.
        ConnectFailed: the engine could not open the session.
        UsageError: no such session, or frames it cannot send.
        and what ``exchange`` raises.
    """
    binary = out or sys.stdout.buffer
    path = _find(attach.engine)
    async with _connect(path) as client:
        plan = attach.plan
        if plan is None:
            sessions = (await _call(client, schema.ListSessions()))["sessions"]
            listeners = (await _call(client, schema.ListListeners()))["listeners"]
            if attach.listing == "json":
                _print_json(sessions, listeners, binary)
            else:
                _print_sessions(sessions, listeners, binary)
            return
        following = attach.session_id is not None or plan.count is not None
        prints = bool(plan.frames or plan.stdin or following)
        if prints:
            await _call(client, schema.Attach(history=False))
        if attach.session_id is None:
            opened = await _call(
                client,
                schema.Open(
                    host=plan.host,
                    port=plan.port,
                    framing=plan.spec.to_wire(),
                    connect_timeout=plan.connect_timeout,
                    label=attach.label,
                ),
            )
            session_id, peer, spec = int(opened["session_id"]), str(opened.get("peer", "")), None
            if plan.output == "json":
                record = {"session": session_id, "peer": peer, "local": opened.get("local", "")}
                binary.write(f"{json.dumps(record)}\n".encode())
            else:
                binary.write(f"{session_id}\n".encode())
            binary.flush()
            where = format_address(plan.host, plan.port)
            print(
                f"framewire-engine: session {session_id} open to {where} in the engine at "
                f"{path}; it stays open (send: --attach --session {session_id} --send TEXT)",
                file=sys.stderr,
            )
        else:
            session_id = attach.session_id
            info = await _session(client, session_id)
            peer, spec = str(info.get("peer", "")), FramingSpec.from_wire(info["framing"])
        if not prints:
            return
        framing = describe(spec or plan.spec)
        printer = Printer(
            plan.output,
            client.hello.clock_offset,
            binary,
            timestamps=plan.timestamps,
            decoder=plan.decoder,
            encoding=plan.encoding,
            framing=framing,
        )
        printer.peer = peer
        await exchange(_RemoteSession(client, session_id), session_id, plan, printer)


@contextlib.asynccontextmanager
async def _connect(path: Path) -> AsyncIterator[EngineClient]:
    try:
        async with connect_socket(path) as client:
            yield client
    except* OSError as group:
        error = group.exceptions[0]
        assert isinstance(error, OSError)
        raise EngineError(
            f"no engine answers at {path} ({error.strerror or error}); start one with: "
            "framewire-engine --serve-ipc"
        ) from None
    except* ChannelRefused as group:
        raise EngineError(f"the engine at {path} refused: {group.exceptions[0]}") from None


async def _call(client: EngineClient, command: schema.Command) -> Any:
    try:
        return await client.call(command)
    except CommandFailed as exc:
        raise _engine_error(exc) from None


def _engine_error(exc: CommandFailed) -> Exception:
    """The exception a failed request means for the exit code."""
    if exc.type == "ConnectFailed":
        reason = exc.data.get("reason", "error") if isinstance(exc.data, dict) else "error"
        if reason not in ("refused", "dns", "timeout", "unreachable"):
            reason = "error"
        return ConnectFailed(reason, exc.message)
    if exc.type == "SessionClosed":
        return SessionClosed(exc.message)
    if exc.type == "SessionBroken":
        return SessionBroken(exc.message)
    if exc.type in ("UnknownSession", "LocalProtocolError", "SchemaError"):
        return UsageError(exc.message)
    return EngineError(f"{exc.type}: {exc.message}")


async def _session(client: EngineClient, session_id: int) -> dict[str, Any]:
    for info in (await _call(client, schema.ListSessions()))["sessions"]:
        if info["session_id"] == session_id:
            return dict(info)
    raise UsageError(f"the engine has no open session {session_id} (list them with --attach alone)")


class _RemoteSession:
    """A session of the long-lived engine as ``connect.exchange`` uses one
    (``connect.SessionLink``): its events, ``send``, no diagnosis of its own (nor the
    frame being received: the engine's IPC says neither)."""

    def __init__(self, client: EngineClient, session_id: int) -> None:
        self._client = client
        self._session_id = session_id

    @property
    def events(self) -> AsyncIterator[schema.Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[schema.Event]:
        async for event in self._client.events():
            if isinstance(event, schema.ChannelClosed):
                raise EngineError(f"the engine closed the connection: {event.message}")
            if getattr(event, "session_id", None) == self._session_id:
                yield event
        raise EngineError("the engine went away (it exited or was stopped)")

    async def send(self, session_id: int, frames: Sequence[bytes]) -> None:
        await _call(self._client, schema.Send(session_id=session_id, frames=list(frames)))

    def diagnose(self, session_id: int) -> Diagnosis | None:
        return None

    def partial_frame(self, session_id: int) -> PartialFrame | None:
        return None


def _print_sessions(
    sessions: list[dict[str, Any]], listeners: list[dict[str, Any]], out: BinaryIO
) -> None:
    """The sessions, then the listeners if there are any, as aligned tables."""
    rows: list[tuple[str, ...]] = [("ID", "ROLE", "STATE", "PEER", "FRAMING", "IN", "OUT", "LABEL")]
    for info in sessions:
        rows.append(
            (
                str(info["session_id"]),
                str(info.get("role", "connect")),
                str(info["state"]),
                str(info.get("peer") or format_address(info["host"], info["port"])),
                _framing_text(info["framing"]),
                f"{info['frames_in']:,}",
                f"{info['frames_out']:,}",
                str(info.get("label", "")),
            )
        )
    _table(rows, out)
    if listeners:
        rows = [("LISTENER", "ROLE", "LOCAL", "UPSTREAM", "CLIENTS", "ACCEPTED", "LABEL")]
        for info in listeners:
            rows.append(
                (
                    str(info["listener_id"]),
                    str(info["role"]),
                    str(info["local"]),
                    str(info.get("upstream", "")) or "-",
                    str(info.get("clients", 0)),
                    str(info.get("accepted", 0)),
                    str(info.get("label", "")),
                )
            )
        out.write(b"\n")
        _table(rows, out)
    out.flush()
    if not sessions and not listeners:
        print("framewire-engine: no open sessions", file=sys.stderr)


def _print_json(
    sessions: list[dict[str, Any]], listeners: list[dict[str, Any]], out: BinaryIO
) -> None:
    """One JSON object a line, as the engine lists them: the sessions (``list_sessions``),
    then the listeners (``list_listeners``), each with ``"kind"`` saying which."""
    for kind, items in (("session", sessions), ("listener", listeners)):
        for info in items:
            out.write((json.dumps({"kind": kind, **info}, default=str) + "\n").encode())
    out.flush()


def _framing_text(wire: Any) -> str:
    try:
        return describe(FramingSpec.from_wire(wire))
    except Exception:  # a framing this CLI cannot read: show it as it came
        return str(wire)


def _table(rows: list[tuple[str, ...]], out: BinaryIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        out.write(f"{line}\n".encode())
