"""The headless command line: ``python -m engine`` / ``framewire-engine``.

The netcat of length-prefixed framing: connect, send frames given as arguments, from a
file or from stdin lines, print what comes back with timestamps, exit with a code a
script can rely on. ``--stdio`` turns the process into the GUI's engine (MessagePack-RPC
on stdin/stdout, served by ``engine.rpc_server``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TextIO

import trio

from engine.allocator import tune_allocator
from engine.engine import Engine, open_engine
from engine.errors import ConnectFailed, EngineError, SessionBroken, SessionClosed
from engine.framing import PRESETS, FramingSpec
from ipc import schema
from ipc.cli_args import parse_host_port, positive
from ipc.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["EXIT_CODES", "GC_YOUNG_THRESHOLD", "build_parser", "main", "tune_gc"]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_PROTOCOL = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

#: Exit codes, by meaning (also in ``--help``).
EXIT_CODES = {
    "ok": EXIT_OK,
    "unexpected": EXIT_UNEXPECTED,
    "usage": EXIT_USAGE,
    "connection": EXIT_CONNECTION,
    "protocol": EXIT_PROTOCOL,
    "timeout": EXIT_TIMEOUT,
}

PROG = "framewire-engine"

#: How long closing may take to flush what was sent before the connection is reset.
CLOSE_GRACE_SECONDS = 2.0

#: New container objects (net of those freed) between two young collections of the
#: cyclic GC in the engine process; CPython's default is 700. See ``tune_gc``.
GC_YOUNG_THRESHOLD = 50_000

DESCRIPTION = """\
The netcat of length-prefixed framing: connect to HOST:PORT, send frames, print the
frames that come back with timestamps.

Frames to send come from --send/--send-hex (in the order given), then --file, then
--stdin (each line of a file or of stdin is one frame, without its newline; sent as soon
as it is read, so the tool works interactively). Without --count, it waits for as many
replies as it sent frames, then closes; if it sends nothing, it prints frames until the
peer closes the connection."""

EPILOG = f"""\
framing presets:
  {", ".join(PRESETS)}.
  The default, le32, is a 4-byte little-endian length of the payload (Twisted's
  IntNStringReceiver with "<L"). Netty, Twisted's Int32StringReceiver ("!I") and Tokio
  default to BIG-endian: use --framing be32 for them. --length-size, --byte-order,
  --length-includes-header and --max-frame override single fields of the preset.

output formats:
  text  "HH:MM:SS.ffffff < payload" (non-UTF-8 bytes and control characters escaped)
  hex   "HH:MM:SS.ffffff < 68656c6c6f"
  json  one object per line: {{"t": unix time, "session": id, "dir": "in", "len": n,
        "text": ...}} ("hex": ... instead of "text" when the payload is not UTF-8)
  --show-sent adds lines for sent frames (">" / "dir": "out").

exit codes:
  0 ok; 1 unexpected error; 2 usage error (bad option, bad hex, unreadable file);
  3 connection failure (refused, DNS, connect timeout, reset, peer closed before all
  replies arrived); 4 protocol error (frame too large, truncated frame);
  5 timeout (--timeout elapsed before the replies arrived); 130 interrupted.

examples:
  {PROG} 127.0.0.1:9000 --send hello
      send "hello", print the reply, disconnect (the classic exchange)
  {PROG} 127.0.0.1:9000 --send-hex 68656c6c6f --output hex --timeout 5
  {PROG} [::1]:9000 --framing be32 --send ping --send ping --output json
  printf 'a\\nb\\n' | {PROG} 127.0.0.1:9000 --stdin
  {PROG} 127.0.0.1:9000 --count 100 --output json > frames.jsonl
      print the first 100 frames the server sends
  {PROG} 127.0.0.1:9000 --length-size 2 --byte-order big --max-frame 4096 --send hi
  {PROG} --stdio      (the GUI's engine: MessagePack-RPC on stdin/stdout)
  {PROG} --api-info   (print the IPC methods and events as JSON)
"""


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class ReplyTimeout(Exception):
    """--timeout elapsed before the expected replies arrived (exit code 5)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "address", nargs="?", metavar="HOST:PORT", help="server to connect to ([::1]:PORT for IPv6)"
    )
    send = parser.add_argument_group("what to send")
    send.add_argument(
        "--send",
        dest="sends",
        action=_AppendTagged,
        tag="text",
        default=[],
        metavar="TEXT",
        help="send TEXT (UTF-8) as one frame; repeatable",
    )
    send.add_argument(
        "--send-hex",
        dest="sends",
        action=_AppendTagged,
        tag="hex",
        metavar="HEX",
        help="send the bytes spelled in HEX (spaces allowed) as one frame; repeatable",
    )
    send.add_argument("--file", metavar="PATH", help="send each line of PATH as a frame")
    send.add_argument(
        "--stdin", action="store_true", help="send each line read from stdin as a frame"
    )
    send.add_argument(
        "--input",
        choices=("text", "hex"),
        default="text",
        help="how --file and --stdin lines are read (default: text)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output", choices=("text", "hex", "json"), default="text", help="default: text"
    )
    out.add_argument("--show-sent", action="store_true", help="also print the frames sent")
    framing = parser.add_argument_group("framing")
    framing.add_argument(
        "--framing", choices=list(PRESETS), default="le32", help="preset (default: le32)"
    )
    framing.add_argument(
        "--length-size",
        type=int,
        choices=(1, 2, 4, 8),
        metavar="N",
        help="bytes in the length field: 1, 2, 4 or 8",
    )
    framing.add_argument(
        "--byte-order", choices=("little", "big"), help="byte order of the length field"
    )
    framing.add_argument(
        "--length-includes-header",
        action="store_true",
        default=None,
        help="the length field counts the header too",
    )
    framing.add_argument(
        "--max-frame",
        type=int,
        metavar="BYTES",
        help="largest payload accepted or sent (default: 8 MiB)",
    )
    timing = parser.add_argument_group("counts and timeouts")
    timing.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="exit after N frames were received (0: do not wait for replies)",
    )
    timing.add_argument(
        "--timeout",
        type=positive(float, "number of seconds"),
        metavar="S",
        help="give up (exit 5) if the replies have not arrived S seconds after connecting",
    )
    timing.add_argument(
        "--connect-timeout",
        type=positive(float, "number of seconds"),
        default=10.0,
        metavar="S",
        help="give up connecting after S seconds (exit 3; default: 10)",
    )
    ipc = parser.add_argument_group("engine mode (used by the GUI)")
    ipc.add_argument(
        "--stdio",
        action="store_true",
        help="serve MessagePack-RPC on stdin/stdout instead of connecting",
    )
    ipc.add_argument(
        "--api-info", action="store_true", help="print the IPC API description as JSON"
    )
    ipc.add_argument(
        "--stats-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between stats events in --stdio mode (default: 1; 0: none)",
    )
    return parser


class _AppendTagged(argparse.Action):
    """Append ``(tag, value)`` so --send and --send-hex keep their command-line order."""

    def __init__(self, *args: Any, tag: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = [*(getattr(namespace, self.dest, None) or []), (self.tag, values)]
        setattr(namespace, self.dest, items)


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a client run does, checked and decoded from the arguments."""

    host: str
    port: int
    spec: FramingSpec
    frames: list[bytes]
    stdin: bool
    input_format: str
    output: str
    show_sent: bool
    count: int | None
    timeout: float | None
    connect_timeout: float


def make_plan(args: argparse.Namespace) -> Plan:
    """Check the client-mode arguments and decode the frames to send.

    Raises:
        UsageError: anything wrong with the arguments or the input file.
    """
    if args.address is None:
        raise UsageError("HOST:PORT is required (or --stdio / --api-info)")
    try:
        host, port = parse_host_port(args.address)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    fields: dict[str, Any] = PRESETS[args.framing].to_wire()
    overrides = {
        "length_size": args.length_size,
        "byte_order": args.byte_order,
        "length_includes_header": args.length_includes_header,
        "max_frame_length": args.max_frame,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    try:
        spec = FramingSpec(**fields)
    except LocalProtocolError as exc:
        raise UsageError(f"bad framing: {exc}") from None
    frames = [_decode_input(value, tag, f"--send-{tag}") for tag, value in args.sends]
    if args.file is not None:
        try:
            with open(args.file, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError as exc:
            raise UsageError(f"cannot read --file {args.file}: {exc.strerror}") from None
        if lines and lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, 1):
            frames.append(_decode_line(line, args.input, f"{args.file} line {number}"))
    for frame in frames:
        if len(frame) > spec.payload_limit:
            raise UsageError(f"a frame of {len(frame)} bytes is over the framing's limit")
    if args.count is not None and args.count < 0:
        raise UsageError(f"--count must be >= 0, not {args.count}")
    return Plan(
        host=host,
        port=port,
        spec=spec,
        frames=frames,
        stdin=args.stdin,
        input_format=args.input,
        output=args.output,
        show_sent=args.show_sent,
        count=args.count,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
    )


def _decode_input(value: str, tag: str, where: str) -> bytes:
    if tag == "text":
        return value.encode()
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise UsageError(f"{where} {value!r} is not hexadecimal") from None


def _decode_line(line: bytes, input_format: str, where: str) -> bytes:
    if line.endswith(b"\r"):
        line = line[:-1]
    if input_format == "text":
        return line
    try:
        return bytes.fromhex(line.decode("ascii"))
    except ValueError:
        raise UsageError(f"{where} is not hexadecimal: {line[:40]!r}") from None


# ---------------------------------------------------------------------------- the run


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
            waiting += f" (does the server speak {_framing_name(plan.spec)}? see --framing)"
        return waiting


def _framing_name(spec: FramingSpec) -> str:
    """The preset name of ``spec``, or its fields spelled out."""
    for name, preset in PRESETS.items():
        if preset == spec:
            return name
    order = "little" if spec.byte_order == "little" else "big"
    counts = "header and payload" if spec.length_includes_header else "payload"
    return f"a {spec.length_size}-byte {order}-endian length of the {counts}"


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
    printer = _Printer(plan.output, clock_offset, out)
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
            frame = _decode_line(line.rstrip(b"\n"), plan.input_format, f"stdin line {number}")
            try:
                await engine.send(session_id, [frame])
            except LocalProtocolError as exc:
                raise UsageError(f"stdin line {number}: {exc}") from None
            progress.sent += 1
    progress.input_done = True
    progress.update()


async def _consume(engine: Engine, progress: _Progress, printer: _Printer) -> None:
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


class _Printer:
    """Formats frames for stdout: text, hex or JSON lines."""

    def __init__(self, output: str, clock_offset: float, out: TextIO) -> None:
        self.output = output
        self.clock_offset = clock_offset
        self.out = out

    def frames(self, session_id: int, direction: str, frames: list[bytes], at: float) -> None:
        unix = at + self.clock_offset
        arrow = "<" if direction == "in" else ">"
        lines = []
        if self.output == "json":
            for frame in frames:
                record: dict[str, Any] = {
                    "t": round(unix, 6),
                    "session": session_id,
                    "dir": direction,
                    "len": len(frame),
                }
                try:
                    record["text"] = frame.decode()
                except UnicodeDecodeError:
                    record["hex"] = frame.hex()
                lines.append(json.dumps(record))
        else:
            stamp = datetime.fromtimestamp(unix).strftime("%H:%M:%S.%f")
            render = _printable if self.output == "text" else bytes.hex
            lines.extend(f"{stamp} {arrow} {render(frame)}" for frame in frames)
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def _printable(frame: bytes) -> str:
    """UTF-8 text with invalid bytes as \\xNN and control characters escaped (one line)."""
    return frame.decode("utf-8", "backslashreplace").translate(_CONTROL_ESCAPES)


# ---------------------------------------------------------------------------- entry


def tune_gc() -> None:
    """Make the cyclic garbage collector of the engine process run less often.

    Why: every session holds ~30 long-lived container objects (its task, nursery, cancel
    scope, coroutine frames, socket objects). With CPython's default threshold the
    collector starts every 700 of them and keeps re-scanning the older generations as
    they grow: opening 10,000 idle sessions spent ~0.74 s of its ~3.3 s of CPU in the
    GC; with ``GC_YOUNG_THRESHOLD`` ~0.17 s (``tools/bench_sessions.py``). Only objects
    that stay alive count towards the threshold (reference counting frees the rest at
    once), so a busy session's traffic does not set off collections; cyclic garbage waits
    for at most that many new objects (a few MB). ``gc.freeze()`` after the imports was
    measured too and gave nothing clear, so it is not done.

    Called by ``main`` only: the GUI, the tests and programs that import the engine as a
    library keep Python's defaults.
    """
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: parse, run, exit with a documented code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    tune_allocator()
    tune_gc()
    if args.api_info:
        from engine import rpc_server  # lazily: client mode does not need the IPC layer

        print(json.dumps(rpc_server.api_info(), indent=2, default=str))
        sys.exit(EXIT_OK)
    if args.stdio:
        from engine import rpc_server

        interval = args.stats_interval
        if not (interval >= 0 and math.isfinite(interval)):
            parser.error(f"--stats-interval must be >= 0 (0: no stats events), not {interval}")
        sys.exit(rpc_server.run_stdio(args) or EXIT_OK)
    try:
        plan = make_plan(args)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    sys.exit(_run(plan))


def _run(plan: Plan) -> int:
    """``trio.run`` the client, mapping every expected failure to an exit code."""
    # (code, error to print) per matched clause; the first clause in this order wins.
    failures: list[tuple[int, BaseException | None]] = []
    try:
        trio.run(run_client, plan)
    except* KeyboardInterrupt:
        failures.append((EXIT_INTERRUPTED, None))
    except* UsageError as group:
        failures.append((EXIT_USAGE, _first(group)))
    except* (ConnectFailed, SessionBroken) as group:
        failures.append((EXIT_CONNECTION, _first(group)))
    except* RemoteProtocolError as group:
        failures.append((EXIT_PROTOCOL, _first(group)))
    except* ReplyTimeout as group:
        failures.append((EXIT_TIMEOUT, _first(group)))
    except* EngineError as group:
        failures.append((EXIT_CONNECTION, _first(group)))
    except* Exception as group:
        failures.append((EXIT_UNEXPECTED, _first(group)))
    if not failures:
        return EXIT_OK
    code, error = failures[0]
    if error is not None:
        detail = str(error)
        if code == EXIT_UNEXPECTED:
            detail = f"unexpected error: {type(error).__name__}: {detail}"
        print(f"{PROG}: {detail}", file=sys.stderr)
    return code


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
