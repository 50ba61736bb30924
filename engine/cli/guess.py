"""The guess mode: ``--guess-framing`` (what HOST:PORT sends) and ``--guess-from FILE``.

Shows the bytes, what they look like (``ipc.diagnosis``: TLS, HTTP, a banner, text) and
the framings that parse them, best first, with the option to use. Exit 0 when something
fits, 4 when bytes came and no framing parses them, 3 when the peer closed without a
byte, 5 when nothing came in time.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TextIO

from engine.cli.exits import ReplyTimeout, UsageError
from engine.cli.parse import PROG
from engine.cli.plan import make_plan, make_spec
from engine.errors import SessionBroken
from engine.sniff import DEFAULT_SNIFF_SECONDS, sniff
from ipc.cli_args import format_address
from ipc.diagnosis import Situation, diagnose, guess_framing, looks_like
from ipc.errors import RemoteProtocolError
from ipc.framing import FramingSpec, encode_frames

__all__ = ["GuessPlan", "make_guess_plan", "report", "run_guess"]

#: Bytes of a file looked at, and bytes shown as a hex dump.
FILE_BYTES = 64 * 1024
SHOWN_BYTES = 64
#: Guesses listed.
LISTED = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class GuessPlan:
    """Where the bytes come from: a server (with what to send first) or a file."""

    spec: FramingSpec
    host: str = ""
    port: int = 0
    send: bytes = b""
    wait: float = DEFAULT_SNIFF_SECONDS
    connect_timeout: float = 10.0
    #: ``--guess-from``: the file, and its first ``FILE_BYTES`` bytes.
    path: str | None = None
    data: bytes = b""


def make_guess_plan(args: argparse.Namespace) -> GuessPlan:
    """Check the guess mode's arguments.

    Raises:
        UsageError: anything wrong with them.
    """
    if args.guess_from is not None:
        if args.address is not None:
            raise UsageError("--guess-from reads a file: give no HOST:PORT with it")
        return GuessPlan(
            spec=make_spec(args), path=args.guess_from, data=_read_file(args.guess_from)
        )
    plan = make_plan(args)
    return GuessPlan(
        spec=plan.spec,
        host=plan.host,
        port=plan.port,
        send=encode_frames(plan.frames, plan.spec),
        wait=plan.timeout or DEFAULT_SNIFF_SECONDS,
        connect_timeout=plan.connect_timeout,
    )


async def run_guess(plan: GuessPlan, out: TextIO = sys.stdout) -> None:
    """Get the bytes, print the report.

    Raises:
        ConnectFailed: could not connect.
        SessionBroken: the peer closed without sending anything.
        ReplyTimeout: nothing came back in time.
        RemoteProtocolError: bytes came, and no framing parses them.
    """
    if plan.path is not None:
        data, source = plan.data, plan.path
    else:
        sniffed = await sniff(
            plan.host,
            plan.port,
            send=plan.send,
            read_seconds=plan.wait,
            connect_timeout=plan.connect_timeout,
        )
        data = sniffed.data
        source = sniffed.peer
        if not data:
            why = "closed" if sniffed.closed else f"sent nothing in {plan.wait:g} s"
            message = f"{sniffed.peer} {why}"
            if plan.send:
                situation: Situation = "closed_early" if sniffed.closed else "no_reply"
                found = diagnose(situation, plan.spec, sent=plan.send)
                if found is not None and found.suggestion is not None:
                    message += f" ({found.summary}): try --framing {found.suggestion}"
            else:
                message += ": it may wait for a request first (add --send, in the framing "
                message += "you believe it speaks)"
            if sniffed.closed:
                raise SessionBroken(message)
            raise ReplyTimeout(message)
    address = None if plan.path is not None else format_address(plan.host, plan.port)
    if not report(data, source, out, address):
        raise RemoteProtocolError(f"no framing parses the {len(data)} bytes from {source}")


def _read_file(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read(FILE_BYTES)
        with open(path, "rb") as f:
            return f.read(FILE_BYTES)
    except OSError as exc:
        raise UsageError(f"cannot read --guess-from {path}: {exc.strerror}") from None


def report(data: bytes, source: str, out: TextIO, address: str | None = None) -> bool:
    """Print what ``data`` looks like and the framings that parse it; True if any fits.

    ``address`` (``HOST:PORT``) goes into the suggested command line.
    """
    out.write(f"{source}: {len(data)} bytes\n")
    for offset in range(0, min(len(data), SHOWN_BYTES), 16):
        chunk = data[offset : offset + 16]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        out.write(f"  {offset:04x}  {chunk.hex(' '):<47}  {text}\n")
    if len(data) > SHOWN_BYTES:
        out.write(f"  … {len(data) - SHOWN_BYTES} more\n")
    seen = looks_like(data)
    if seen is not None:
        out.write(f"{seen[1]}\n")
        return True
    guesses = guess_framing(data)
    if not guesses:
        out.write("no framing parses these bytes into a whole frame\n")
        return False
    out.write("framings that parse them, best first:\n")
    width = max(len(g.name) for g in guesses[:LISTED])
    for guess in guesses[:LISTED]:
        out.write(f"  {guess.name:<{width}}  {guess.sentence()}\n")
    target = f"{address} " if address is not None else ""
    out.write(f"try: {PROG} {target}--framing {guesses[0].name}\n")
    return True
