"""Finding real processes and waiting for them by pid, for the lifecycle tests (psutil).

Waits poll process state every ``POLL_SECONDS`` inside a deadline and fail loudly with
what they were waiting for; none sleeps to synchronise.

A dead process counts as gone once it is a zombie whose parent is not under test: an
orphan is reparented to init, which on some machines (this VM's init among them) reaps
only every few seconds. Zombies of our own processes are checked separately
(``zombie_children``), since those would be real leaks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import psutil

T = TypeVar("T")

#: How often the waits look at process state.
POLL_SECONDS = 0.01


def wait_until(predicate: Callable[[], T], *, timeout: float, what: str) -> T:
    """Return ``predicate()``'s first truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def is_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting for its reaper)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: Iterable[int], *, timeout: float) -> float:
    """Wait until every pid is gone; return the seconds it took. Fails naming survivors."""
    pids = list(pids)
    start = time.monotonic()
    deadline = start + timeout
    while True:
        alive = [pid for pid in pids if not is_gone(pid)]
        if not alive:
            return time.monotonic() - start
        if time.monotonic() > deadline:
            names = ", ".join(f"{pid} ({describe(pid)})" for pid in alive)
            raise AssertionError(f"still running after {timeout} s: {names}")
        time.sleep(POLL_SECONDS)


def describe(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline()[1:4])
    except psutil.Error:
        return "gone"


def find_descendant(root: int, marker: str, *, timeout: float, exclude: int = 0) -> int:
    """Wait for a live descendant of ``root`` whose command line holds ``marker``.

    ``marker`` is matched against the argument after ``-m`` (``ui``, ``engine``,
    ``tools.demo_server``); ``exclude`` skips one pid (to find a restarted process).
    """

    def look() -> int | None:
        try:
            children = psutil.Process(root).children(recursive=True)
        except psutil.NoSuchProcess:
            raise AssertionError(f"pid {root} exited while looking for {marker}") from None
        for child in children:
            try:
                cmdline = child.cmdline()
                if (
                    child.pid != exclude
                    and _module_of(cmdline) == marker
                    and not is_gone(child.pid)
                ):
                    return child.pid
            except psutil.Error:
                continue
        return None

    pid = wait_until(look, timeout=timeout, what=f"a {marker!r} process under pid {root}")
    assert pid is not None
    return pid


def _module_of(cmdline: list[str]) -> str | None:
    try:
        return cmdline[cmdline.index("-m") + 1]
    except (ValueError, IndexError):
        return None


def zombie_children(pid: int | None = None) -> list[int]:
    """Direct children of ``pid`` (default: this process) that nobody has reaped."""
    parent = psutil.Process(os.getpid() if pid is None else pid)
    zombies = []
    for child in parent.children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                zombies.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return zombies


def open_fds() -> list[str]:
    """This process's open file descriptors, with what each points to (Linux /proc)."""
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except FileNotFoundError:
            continue  # the fd listdir itself used
    return sorted(fds)
