"""A ``--script`` or ``--replay`` run's arguments, checked, the scripts read: ``ScriptPlan``.

Everything wrong is found here, before any connection, as ``UsageError`` (exit 2): bad
options, unreadable files, and every mistake in a script or recording, with its line
(``exchanges.ScriptError``: ``check.toml:17: ...``).

Each script's framing: the command line's when it names one (``--framing`` or a
``--length-*`` option), else the script's ``framing`` (a recording's ``framing`` key),
else le32.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.cli.exits import UsageError
from engine.cli.plan import (
    client_tls,
    make_decoder,
    make_spec,
    server_limits,
    server_tls,
)
from engine.cli.saved import parse_variables
from engine.limits import Limits
from exchanges import (
    Project,
    Script,
    ScriptError,
    load_project,
    load_script,
    parse_ignore,
    script_from_recording,
)
from exchanges.script import DEFAULT_STEP_TIMEOUT
from ipc.cli_args import parse_host_port
from ipc.framing import PRESETS, FramingSpec, parse_framing
from ipc.text import DEFAULT_ENCODING

if TYPE_CHECKING:
    from decoders import Decoder
    from ipc.tls import ClientTls, ServerTls

__all__ = ["ScriptPlan", "make_script_plan"]

#: Options the script modes do not take: what they would mean is the script's job.
_NOT_WITH_SCRIPTS = {
    "sends": "--send",
    "file": "--file",
    "stdin": "--stdin",
    "count": "--count",
    "echo": "--echo",
    "relay": "--relay",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptPlan:
    """What a script run does: ``role`` client (``host``/``port`` is the server) or
    server (``host``/``port`` is where to listen)."""

    role: str
    host: str
    port: int
    scripts: list[Script]
    #: Each script's framing, in ``scripts``' order.
    specs: list[FramingSpec]
    variables: dict[str, Any] = field(default_factory=dict)
    junit: str | None = None
    output: str = "text"
    timestamps: str = "time"
    show_sent: bool = False
    decoder: Decoder | None = None
    encoding: str = DEFAULT_ENCODING
    #: Whether the command line named the text encoding (else a script's ``encoding``).
    encoding_given: bool = False
    connect_timeout: float = 10.0
    capture: str | None = None
    capture_max_bytes: int = 0
    capture_keep: int = 0
    #: ``--listen``: end after this many clients' scripts (None: until a signal).
    clients: int | None = None
    limits: Limits | None = None
    #: The client's TLS (``--tls``...), or the listening side's (``--tls-cert``...).
    tls: ClientTls | None = None
    server_tls: ServerTls | None = None


def make_script_plan(args: argparse.Namespace) -> ScriptPlan:
    """Check the arguments of ``--script``/``--replay`` and read the files.

    Raises:
        UsageError: anything wrong with the arguments or the files.
    """
    for name, option in _NOT_WITH_SCRIPTS.items():
        value = getattr(args, name)
        if value not in (None, False, []):
            raise UsageError(
                f"{option} does not go with --script or --replay (a script says what to send "
                "and what to expect)"
            )
    server = args.listen is not None
    if server:
        if args.address is not None:
            raise UsageError(f"--listen takes no server address ({args.address})")
        host, port = args.listen
        if len(args.scripts) + (args.replay is not None) > 1:
            raise UsageError("--listen runs one script (or one --replay) for each client")
    else:
        if args.address is None:
            raise UsageError("HOST:PORT is required: the server the script talks to (or --listen)")
        try:
            host, port = parse_host_port(args.address)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.clients is not None:
            raise UsageError("--clients is for --listen")
    if args.output == "raw" and args.show_sent:
        raise UsageError("--show-sent does not go with --output raw (it prints payloads only)")
    if args.replay is None and (args.keep_timing or args.ignores or args.session is not None):
        raise UsageError("--keep-timing, --ignore and --session ID go with --replay")
    variables = parse_variables(args.variables)
    try:
        project = load_project(args.project) if args.project is not None else None
        scripts = [_load(path, project, variables) for path in args.scripts]
        if args.replay is not None:
            scripts.append(_replay(args, "server" if server else "client"))
    except ScriptError as exc:
        raise UsageError(str(exc)) from None
    if args.timeout is not None:  # the whole script's bound, whatever the file says
        scripts = [_with_timeout(script, args.timeout) for script in scripts]
    given = _framing_given(args)
    specs = [make_spec(args) if given or not s.framing else _spec(s) for s in scripts]
    return ScriptPlan(
        role="server" if server else "client",
        host=host,
        port=port,
        scripts=scripts,
        specs=specs,
        variables=variables,
        junit=args.junit,
        output=args.output,
        timestamps=args.timestamps,
        show_sent=args.show_sent,
        decoder=make_decoder(args),
        encoding=args.encoding,
        encoding_given=args.encoding != DEFAULT_ENCODING,
        connect_timeout=args.connect_timeout,
        capture=args.capture,
        capture_max_bytes=args.capture_max_bytes,
        capture_keep=args.capture_keep,
        clients=args.clients,
        limits=server_limits(args) if server else None,
        tls=None if server else client_tls(args),
        server_tls=server_tls(args) if server else None,
    )


def _load(path: str, project: Project | None, variables: dict[str, Any]) -> Script:
    return load_script(path, project, variables=variables)


def _replay(args: argparse.Namespace, role: str) -> Script:
    try:
        ignore = [parse_ignore(item) for item in args.ignores]
    except ValueError as exc:
        raise UsageError(f"--ignore: {exc}") from None
    try:
        with open(args.replay, encoding="utf-8") as f:  # line by line: no copy of the file
            return script_from_recording(
                f,
                path=args.replay,
                role=role,
                session=args.session,
                ignore=ignore,
                keep_timing=args.keep_timing,
                step_timeout=DEFAULT_STEP_TIMEOUT,
            )
    except OSError as exc:
        raise UsageError(f"cannot read --replay {args.replay}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"--replay {args.replay} is not UTF-8 text: {exc.reason}") from None


def _with_timeout(script: Script, seconds: float) -> Script:
    return replace(script, timeout=seconds or None)


def _framing_given(args: argparse.Namespace) -> bool:
    """Whether the command line names a framing (``--framing``'s default is the preset
    object itself; an option given makes a new one)."""
    overrides = (
        args.length_size, args.byte_order, args.length_includes_header, args.max_frame,
        args.length_offset, args.length_adjust, args.strip,
    )  # fmt: skip
    return args.framing is not PRESETS["le32"] or any(v is not None for v in overrides)


def _spec(script: Script) -> FramingSpec:
    assert script.framing is not None
    return parse_framing(script.framing)  # checked when the script was read
