"""The GUI's lifeline to the launcher: when the launcher dies, the GUI dies too (Qt-free).

The launcher (``tools/launch.py``) starts the GUI with two promises, announced by the
environment variable ``FRAMEWIRE_PARENT_PID`` (the launcher's pid):

* the GUI's stdin is a pipe whose only write end the launcher holds, so the pipe reads
  EOF exactly when the launcher is gone, however it died;
* the launcher's pid, so a launcher that died before we armed anything is noticed.

``install_lifeline()`` arms two independent mechanisms from that:

1. Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, then a ``getppid()`` re-check that closes
   the race where the launcher died between fork and prctl. The kernel delivers the
   signal even if the GUI's Python is stuck, so this is the one that cannot fail.
2. Every platform (the macOS and Windows mechanism): a daemon thread blocks in
   ``os.read`` on stdin and, at EOF, calls ``on_parent_exit`` (by default it ends the
   process at once with ``os._exit``).

Either way the GUI's engine follows within its own deadline: its stdin pipe, held by
the GUI, reads EOF once the GUI is gone. Strategy: the GUI dies abruptly rather than
closing its window politely, because its parent is already gone (nobody waits for an
exit code) and an abrupt death cannot hang; the engine still shuts down cleanly.

Without ``FRAMEWIRE_PARENT_PID`` (``python -m ui`` started by hand from a shell) nothing
is armed, so the GUI keeps the usual behaviour of a program started from a terminal.

This module imports neither Qt nor trio: it must work before ``QApplication`` exists.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

__all__ = ["ENV_PARENT_PID", "PARENT_EXITED_EXIT_CODE", "LifelineStatus", "install_lifeline"]

#: Set by the launcher to its own pid; its presence also says "stdin is my pipe".
ENV_PARENT_PID = "FRAMEWIRE_PARENT_PID"
#: Exit code of a GUI ended by the stdin lifeline (nobody reads it: the parent is gone).
PARENT_EXITED_EXIT_CODE = 70
#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LifelineStatus:
    """What ``install_lifeline`` armed; the GUI may log it."""

    parent_pid: int | None  #: the launcher's pid, or None when no launcher asked for it
    pdeathsig: bool  #: the kernel will SIGKILL us when the parent dies (Linux)
    stdin_pipe: bool  #: a thread watches stdin for EOF


def _default_on_parent_exit() -> None:
    os._exit(PARENT_EXITED_EXIT_CODE)


def install_lifeline(
    *,
    environ: MutableMapping[str, str] | None = None,
    on_parent_exit: Callable[[], None] = _default_on_parent_exit,
    use_pdeathsig: bool = True,
) -> LifelineStatus:
    """Make this process end when the launcher that started it ends.

    Call it first thing in ``main()``, before Qt starts threads. It removes
    ``FRAMEWIRE_PARENT_PID`` from the environment so the engine (our child) does not
    inherit a promise that is not meant for it.

    Args:
        environ: the environment to read (default ``os.environ``).
        on_parent_exit: called from the watcher thread when stdin reads EOF; the default
            ends the process with ``PARENT_EXITED_EXIT_CODE``.
        use_pdeathsig: arm PR_SET_PDEATHSIG on Linux; tests turn it off to exercise the
            portable stdin pipe alone, as it runs on macOS and Windows.

    Returns:
        What was armed. Nothing is armed when ``FRAMEWIRE_PARENT_PID`` is absent.

    Raises:
        ValueError: ``FRAMEWIRE_PARENT_PID`` is not a positive integer.
        OSError: prctl failed (it does not on any supported kernel).
    """
    env = os.environ if environ is None else environ
    raw = env.pop(ENV_PARENT_PID, None)
    if raw is None:
        return LifelineStatus(parent_pid=None, pdeathsig=False, stdin_pipe=False)
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"{ENV_PARENT_PID} must be a pid, not {raw!r}")
    parent_pid = int(raw)
    pdeathsig = use_pdeathsig and sys.platform.startswith("linux")
    if pdeathsig:
        _arm_pdeathsig(parent_pid)
    watcher = threading.Thread(
        target=_watch_stdin, args=(on_parent_exit,), name="framewire-lifeline", daemon=True
    )
    watcher.start()
    return LifelineStatus(parent_pid=parent_pid, pdeathsig=pdeathsig, stdin_pipe=True)


def _arm_pdeathsig(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent_pid:
        # The launcher died before prctl took effect: the kernel will never signal us.
        os.kill(os.getpid(), signal.SIGKILL)


def _watch_stdin(on_parent_exit: Callable[[], None]) -> None:
    # os.read on the raw fd, not sys.stdin: a daemon thread blocked inside sys.stdin's
    # buffered reader holds its lock, and interpreter shutdown then aborts on that lock.
    while True:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""  # stdin closed or invalid: the lifeline is cut all the same
        if not data:
            on_parent_exit()
            return
