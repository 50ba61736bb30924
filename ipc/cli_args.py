"""What the programs' command lines share: ``HOST:PORT``, positive and non-negative
numbers, framings, and a parser whose usage errors are one line.

The engine CLI, the GUI and the launcher all take a server address and a few durations;
the engine CLI and the GUI also an address to listen on (``[HOST:]PORT``, loopback when
no host is named, port 0 for a free one).
They live here because ``ipc`` is the one package all three import without pulling in
trio (``engine``) or Qt (``ui``), so each program parses them the same way.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from collections.abc import Callable
from typing import NoReturn, TypeVar

from ipc.framing import describe, parse_framing

__all__ = [
    "EXIT_USAGE",
    "LOOPBACK",
    "HelpFormatter",
    "OneLineErrorParser",
    "format_address",
    "framing_words",
    "host_port",
    "listen_address",
    "non_negative",
    "parse_host_port",
    "parse_listen_address",
    "positive",
    "writable_file",
]

#: argparse's exit code for a bad command line; every framewire program uses it.
EXIT_USAGE = 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` as the programs lay it out: a description or epilog written with line
    breaks (tables, examples) is kept as it is; a one-paragraph text, such as an option
    group's description, is wrapped to the terminal like the options' help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr, not the whole usage summary:
    ``PROG: error: MESSAGE (see PROG --help)``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_Number = TypeVar("_Number", int, float)


def parse_host_port(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:PORT`` for IPv6) into ``(host, port)``.

    Raises:
        ValueError: not ``HOST:PORT``, an empty host, or a port outside 1..65535.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"expected [IPV6]:PORT, got {text!r}")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, as [{host}]:{port_text}")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"bad host in {text!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port must be a number in 1..65535, got {port_text!r}")
    return host, int(port_text)


#: Where a listener binds unless told otherwise: this machine only.
LOOPBACK = "127.0.0.1"


def parse_listen_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` to listen on: ``PORT`` alone is loopback (``LOOPBACK``); port 0
    lets the system pick a free one.

    Raises:
        ValueError: not ``[HOST:]PORT``, or a port outside 0..65535.
    """
    if text.isdigit():
        host, port_text = LOOPBACK, text
    else:
        host_part, sep, port_text = text.rpartition(":")
        if not sep or not host_part:
            raise ValueError(f"expected [HOST:]PORT, got {text!r}")
        # The host, checked as for connecting (with a port that check accepts).
        shown = port_text if port_text.isdigit() and 0 < int(port_text) <= 65535 else "1"
        host, _ = parse_host_port(f"{host_part}:{shown}")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"port must be a number in 0..65535 (0: a free one), got {port_text!r}")
    return host, int(port_text)


def listen_address(text: str) -> tuple[str, int]:
    """``parse_listen_address`` as an argparse ``type=``."""
    try:
        return parse_listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def host_port(text: str) -> tuple[str, int]:
    """``parse_host_port`` as an argparse ``type=``."""
    try:
        return parse_host_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_address(host: str, port: int) -> str:
    """The inverse of ``parse_host_port``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def positive(kind: Callable[[str], _Number], what: str) -> Callable[[str], _Number]:
    """An argparse ``type=``: a finite ``kind`` (int or float) > 0, else a usage error
    saying "expected a positive ``what``"."""

    def parse(text: str) -> _Number:
        refusal = argparse.ArgumentTypeError(f"expected a positive {what}, got {text!r}")
        try:
            value = kind(text)
        except ValueError:
            raise refusal from None
        if not 0 < value < math.inf:
            raise refusal
        return value

    return parse


def non_negative(kind: Callable[[str], _Number], what: str) -> Callable[[str], _Number]:
    """Like ``positive``, but 0 is allowed too (a timeout of 0 meaning "never")."""

    def parse(text: str) -> _Number:
        refusal = argparse.ArgumentTypeError(f"expected 0 or a positive {what}, got {text!r}")
        try:
            value = kind(text)
        except ValueError:
            raise refusal from None
        if not 0 <= value < math.inf:
            raise refusal
        return value

    return parse


def framing_words(text: str) -> str:
    """An argparse type for ``--framing``: a preset name or framing words
    (``ipc.framing.parse_framing``), checked, in their shortest form (``"pg"`` for
    ``"be32,offset=1,adjust=-4"``), as the programs pass them on to each other."""
    try:
        return describe(parse_framing(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def writable_file(text: str) -> str:
    """An argparse ``type=`` for a file a program appends to (a log): not a directory, in
    a directory that exists, writable. Checked before anything starts, so a bad path is
    one usage line (exit 2), not a traceback after the demo server came up. The file
    itself is not created here."""
    directory = os.path.dirname(text) or "."
    if os.path.isdir(text):
        problem = "is a directory"
    elif not os.path.isdir(directory):
        problem = f"needs the directory {directory!r}, which does not exist"
    elif not os.access(text if os.path.exists(text) else directory, os.W_OK):
        problem = "cannot be written (permission denied)"
    else:
        return text
    raise argparse.ArgumentTypeError(f"{text!r} {problem}; give a file to write the log to")
