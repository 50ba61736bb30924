"""The CLI's exit codes, the exceptions that mean them, and the mapping between them.

Scripts depend on these codes (they are in ``--help`` too): 0 ok, 1 unexpected, 2 usage,
3 connection failure, 4 protocol error, 5 timeout, 6 an expectation failed (``--script``,
``--replay``), 130 interrupted. A reader of stdout that goes away (``| head``) ends the
run quietly with 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVarTuple, Unpack

import trio

from engine.cli.parse import PROG
from engine.errors import ConnectFailed, EngineError, SessionBroken, TlsConfigError
from ipc.errors import RemoteProtocolError

__all__ = [
    "EXIT_CODES",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_USAGE",
    "ExpectationFailed",
    "ReplyTimeout",
    "UsageError",
    "run_mode",
    "stdout_gone",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_PROTOCOL = 4
EXIT_TIMEOUT = 5
EXIT_EXPECTATION = 6
EXIT_INTERRUPTED = 130

#: Exit codes, by meaning (also in ``--help``).
EXIT_CODES = {
    "ok": EXIT_OK,
    "unexpected": EXIT_UNEXPECTED,
    "usage": EXIT_USAGE,
    "connection": EXIT_CONNECTION,
    "protocol": EXIT_PROTOCOL,
    "timeout": EXIT_TIMEOUT,
    "expectation": EXIT_EXPECTATION,
}


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class ExpectationFailed(Exception):
    """A script's expect step, or a replayed frame, got something else (exit code 6)."""


class ReplyTimeout(Exception):
    """--timeout elapsed before the expected replies arrived (exit code 5)."""


Ts = TypeVarTuple("Ts")


def run_mode(mode: Callable[[Unpack[Ts]], Awaitable[object]], *args: *Ts) -> int:
    """``trio.run`` a mode, mapping every expected failure to an exit code (and one line
    on stderr)."""
    # (code, error to print) per matched clause; the first clause in this order wins.
    failures: list[tuple[int, BaseException | None]] = []
    try:
        trio.run(mode, *args)
    except* KeyboardInterrupt:
        failures.append((EXIT_INTERRUPTED, None))
    except* BrokenPipeError:
        # The engine's sockets never raise it (trio makes it BrokenResourceError, the
        # engine a SessionBroken): stdout's reader went away, as ``| head`` does.
        stdout_gone()
        failures.append((EXIT_OK, None))
    except* (UsageError, TlsConfigError) as group:
        failures.append((EXIT_USAGE, _first(group)))
    except* (ConnectFailed, SessionBroken) as group:
        failures.append((EXIT_CONNECTION, _first(group)))
    except* RemoteProtocolError as group:
        failures.append((EXIT_PROTOCOL, _first(group)))
    except* ExpectationFailed as group:
        failures.append((EXIT_EXPECTATION, _first(group)))
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


def stdout_gone() -> None:
    """stdout's reader stopped reading (``framewire-engine ... | head``): the run ends
    quietly, like any filter, and Python's last flush of stdout at exit goes nowhere
    instead of printing a BrokenPipeError of its own."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
