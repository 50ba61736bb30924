"""Process-lifetime helpers shared by framewire's tools: no process outlives its parent.

On Linux the kernel can deliver a signal to a process when its parent dies
(``prctl(PR_SET_PDEATHSIG)``). ``die_with_parent()`` arms that with SIGTERM, so a tool
that handles SIGTERM as "shut down cleanly" also shuts down cleanly when whatever started
it is killed, even with SIGKILL. Elsewhere it does nothing and says so by returning False;
there the parent must stop its children itself (which the launcher and the GUI do anyway).

Caveats, from prctl(2): the signal fires when the parent *thread* that forked us exits,
not the whole parent process (so fork from a long-lived thread, as subprocess and QProcess
do from the main thread); it is cleared in the child of a fork and by exec of a set-uid
binary. A parent that dies before the prctl call is caught by re-checking ``getppid()``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, *, expected_parent_pid: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies.

    Call it early in ``main()``, before any threads are started.

    Args:
        sig: the signal to receive; SIGTERM by default so the usual clean-shutdown
            handler runs.
        expected_parent_pid: the parent's pid, if the parent told us (e.g. through an
            argument). It closes the race where the parent died between fork and this
            call; without it only a death during the call itself is caught.

    Returns:
        True if armed (Linux), False where the platform has no such facility.

    Raises:
        OSError: prctl failed (it does not on any supported kernel).
    """
    if not sys.platform.startswith("linux"):
        return False
    parent_before = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    parent_now = os.getppid()
    orphaned = parent_now != parent_before or (
        expected_parent_pid is not None and parent_now != expected_parent_pid
    )
    if orphaned:
        # The parent is already gone, so the kernel will never send the signal: send it.
        os.kill(os.getpid(), sig)
    return True
