"""The launcher's children: started in their own process group, dying with the launcher,
stopped on a deadline, and leaving nothing behind (docs/lifecycle.md).

POSIX gets the whole of it; Linux adds PR_SET_PDEATHSIG (armed between fork and exec) and
makes the launcher a child subreaper, so what a dead GUI leaves behind is reparented to
the launcher and reaped there. On Windows children get their own process group and are
stopped with TerminateProcess; nothing more (the Job object that would match the rest is
not implemented).

Theory of operation: ``run_supervised`` waits for one main child on a
``queue.SimpleQueue`` that receives both its exit (from a waiter thread) and the stop
signals (from ``StopSignals``' handler, the one thing a handler may safely do), so the
decisions -- forward SIGTERM, start a deadline, kill the group -- are ordinary code.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = [
    "CHILD_STOP_GRACE_SECONDS",
    "EXIT_FORCED",
    "GROUP_EXIT_GRACE_SECONDS",
    "StopRequested",
    "StopSignals",
    "become_subreaper",
    "exit_code_of",
    "run_supervised",
    "spawn_kwargs",
    "stop_process",
    "sweep_process_group",
    "warn",
]

#: A requested shutdown had to kill a child that did not stop within its grace period.
EXIT_FORCED = 1
#: How long the GUI (or the engine CLI) gets to stop after SIGTERM before its whole process
#: group is killed. Longer than the GUI's own escalation for a stuck engine (ui.supervisor:
#: ask, SIGTERM after 1.5 s, SIGKILL after 3 s), so the GUI still ends its engine itself;
#: a clean stop takes about 0.1 s (docs/lifecycle.md).
CHILD_STOP_GRACE_SECONDS = 3.5
#: After the main child is gone, how long the rest of its process group (the GUI's engine)
#: gets to exit by itself -- the engine needs ~30 ms after its stdin's EOF -- before the
#: launcher kills it. This catches an engine that cannot see the EOF (stopped, hung).
GROUP_EXIT_GRACE_SECONDS = 1.0
_GROUP_POLL_SECONDS = 0.02


def spawn_kwargs(*, pdeathsig: bool = False) -> dict[str, Any]:
    """Put a child in its own process group, so the terminal's Ctrl-C reaches us alone;
    with ``pdeathsig``, on Linux, also make it die with us (``_pdeathsig_preexec``)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    kwargs: dict[str, Any] = {"process_group": 0}
    if pdeathsig and sys.platform.startswith("linux"):
        kwargs["preexec_fn"] = functools.partial(_pdeathsig_preexec, os.getpid())
    return kwargs


#: prctl, looked up once in the launcher: the child must not dlopen between fork and exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_PR_SET_CHILD_SUBREAPER = 36


def _pdeathsig_preexec(launcher_pid: int) -> None:
    """Runs in the child between fork and exec: SIGTERM it when the launcher dies.

    The setting survives exec, so it covers the child's whole start-up, unlike a prctl
    made by the child itself once its imports are done. Strategy: this is
    ``tools.lifecycle.die_with_parent`` minus the ``dlopen`` it does on each call, which
    is not safe between fork and exec if another thread of ours held the loader's lock.
    """
    assert _prctl is not None
    _prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != launcher_pid:  # we already died between fork and prctl
        os._exit(EXIT_FORCED)


def stop_process(process: subprocess.Popen[bytes], grace: float) -> int | None:
    """Stop ``process``: SIGTERM, then SIGKILL after ``grace`` seconds; reap it.

    Returns:
        Its exit code if it stopped by itself within ``grace`` (or had already exited),
        None if it had to be killed.
    """
    try:
        if process.poll() is None:
            process.terminate()
            try:
                return process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return None
        return process.returncode
    finally:
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def exit_code_of(returncode: int) -> int:
    """A child's exit status as a shell reports it: killed by signal N gives 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class StopRequested(Exception):
    """A stop signal arrived before supervision began (during start-up)."""


class StopSignals:
    """SIGINT/SIGTERM/SIGHUP handling: raise during start-up, queue during supervision.

    Strategy: the handler only puts into a ``queue.SimpleQueue`` (whose ``put`` is
    documented as safe to call from signal handlers); the supervising loop, blocked in
    ``get``, wakes up and does the real work in ordinary code.
    """

    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
    )

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.supervising = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.supervising:
            raise StopRequested(signum)
        self.events.put(("signal", signum))


def run_supervised(
    process: subprocess.Popen[bytes],
    events: queue.SimpleQueue[tuple[str, int]],
    *,
    grace: float = CHILD_STOP_GRACE_SECONDS,
    group: bool = False,
) -> int:
    """Wait for ``process`` to exit, handling stop signals that arrive on ``events``.

    The first ``("signal", n)`` event sends SIGTERM to ``process`` and starts a ``grace``
    deadline, after which it is killed; a second one kills it at once. With ``group``
    (it leads its own process group, POSIX), killing it kills the whole group, so the
    GUI's engine goes with it.

    Returns:
        Its exit code (``exit_code_of``) if it exited by itself; after a requested stop,
        0 if it stopped cleanly (exit code 0, or the default action of SIGTERM) within the
        grace period, ``EXIT_FORCED`` if it had to be killed.
    """
    threading.Thread(
        target=lambda: events.put(("exited", process.wait())),
        name=f"wait-{process.pid}",
        daemon=True,
    ).start()
    deadline: float | None = None
    forced = False
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            kind, value = events.get(timeout=timeout)
        except queue.Empty:
            warn(f"pid {process.pid} did not stop within {grace} s; killing it")
            _kill(process, group=group)
            forced, deadline = True, None
            continue
        if kind == "exited":
            if deadline is None and not forced:
                return exit_code_of(value)
            if forced:
                return EXIT_FORCED
            return 0 if value in (0, -signal.SIGTERM) else exit_code_of(value)
        if deadline is None and not forced:
            process.terminate()
            deadline = time.monotonic() + grace
        elif not forced:
            _kill(process, group=group)
            forced, deadline = True, None


def _kill(process: subprocess.Popen[bytes], *, group: bool) -> None:
    if group and sys.platform != "win32":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()


def sweep_process_group(pgid: int, grace: float = GROUP_EXIT_GRACE_SECONDS) -> bool:
    """After a group leader has exited and been reaped: wait up to ``grace`` seconds for
    the rest of its process group to exit, then SIGKILL whatever is left (POSIX).

    Members orphaned by the leader's death are reparented to us when we are a child
    subreaper (``main`` makes the launcher one on Linux); they are reaped here, so none
    stays a zombie. Polls every ``_GROUP_POLL_SECONDS``: no portable call waits for a
    process group that is not made of our own children.

    Returns:
        True if something had to be killed.
    """
    deadline = time.monotonic() + grace
    killed = False
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            if killed:  # SIGKILLed and still there (uninterruptible sleep): give up
                return True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + grace
        time.sleep(_GROUP_POLL_SECONDS)
    return killed


def _group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass  # reaped an orphan of the group that was reparented to us
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # the id is now another user's group: ours is gone
    return True


def become_subreaper() -> bool:
    """Linux: adopt our orphaned descendants (the GUI's engine when the GUI dies first),
    so ``sweep_process_group`` can reap them instead of waiting on init.

    Returns:
        True if set (Linux), False elsewhere.
    """
    if _prctl is None:
        return False
    result: int = _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # ctypes types calls as Any
    return result == 0


def warn(message: str) -> None:
    print(f"framewire: {message}", file=sys.stderr, flush=True)
