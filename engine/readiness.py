"""Where idle sessions wait: one epoll set of the engine's, and one task watching it.

Why: a session that was never spoken to waits for its first bytes. Waited for in its own
task, that costs the task, its coroutine frames, its nursery and cancel scope, and trio's
record for the descriptor: ~3 KiB a session, most of what 10,000 idle sessions cost. So
a session that is connected and has nothing to do *dozes*: its socket goes into the
watcher's epoll set and its task ends. The watcher's task (``ReadinessWatcher.start``)
waits for that set; when a dozing session's socket becomes readable (bytes, a hang-up,
an error), it takes the socket out and starts the session's task again
(``Sleeper.resume``) in the nursery it serves, the engine's. Anything else that needs
the session to act (a send, a close, the engine shutting down) wakes it the same way
(``wake``). 10,000 idle sessions: 4.5 -> XX KiB of RSS each (tools/bench/sessions.py).

Nothing is left without an owner: a dozing session is in the engine's session table and
in this set, has no task to cancel, and the engine's ``aclose`` wakes it to close.

Linux only (epoll). Elsewhere ``open_watcher`` gives ``None`` and sessions wait in their
own task with trio's ``wait_readable``.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import trio

__all__ = ["ReadinessWatcher", "Sleeper", "open_watcher"]


class Sleeper(Protocol):
    """What dozes in a watcher: a session."""

    async def resume(self, readable: bool) -> None:
        """The sleeper's task again; ``readable``: its socket is (else it was woken)."""


class ReadinessWatcher:
    """The dozing sessions' sockets, the epoll set that watches them, and the nursery
    their tasks start again in."""

    def __init__(self, epoll: select.epoll) -> None:
        self._epoll = epoll
        #: descriptor -> what dozes on it.
        self._dozing: dict[int, Sleeper] = {}
        self._nursery: trio.Nursery | None = None

    def __len__(self) -> int:
        """How many sleepers doze."""
        return len(self._dozing)

    def doze(self, fd: int, sleeper: Sleeper) -> None:
        """Watch ``fd`` for ``sleeper``, whose task then ends: ``sleeper.resume(True)``
        starts once ``fd`` is readable (or has an error or a hang-up), or
        ``resume(False)`` once someone calls ``wake(fd)``.

        Raises:
            OSError: epoll refused the descriptor (``max_user_watches`` reached).
        """
        self._epoll.register(fd, select.EPOLLIN)
        self._dozing[fd] = sleeper

    def wake(self, fd: int) -> None:
        """Take ``fd`` out of the set and start its sleeper's task (``resume(False)``);
        nothing if its task was started already (it became readable meanwhile)."""
        sleeper = self._dozing.pop(fd, None)
        if sleeper is not None:
            self._epoll.unregister(fd)
            self._start(sleeper, False)

    def start(self, nursery: trio.Nursery) -> None:
        """Start watching, in ``nursery``: the one that holds the sessions, where their
        tasks start again (cancelling it stops the watching)."""
        self._nursery = nursery
        nursery.start_soon(self._watch)

    async def _watch(self) -> None:
        """Start the tasks of the sleepers whose descriptor became readable."""
        epoll, dozing = self._epoll, self._dozing
        while True:
            await trio.lowlevel.wait_readable(epoll.fileno())
            # Ready descriptors are taken out of the set at once, in the same step as the
            # poll, so an event never outlives its registration (a reused number).
            for fd, _ in epoll.poll(0):
                epoll.unregister(fd)
                self._start(dozing.pop(fd), True)

    def _start(self, sleeper: Sleeper, readable: bool) -> None:
        assert self._nursery is not None, "the watcher was not started"
        self._nursery.start_soon(sleeper.resume, readable)


@contextmanager
def open_watcher() -> Iterator[ReadinessWatcher | None]:
    """A watcher and its epoll set for the duration of the block; ``None`` without epoll.

    The caller starts it (``ReadinessWatcher.start``) in the nursery that holds the
    sessions; the epoll set closes after the block.
    """
    if not hasattr(select, "epoll"):
        yield None
        return
    with select.epoll() as epoll:
        yield ReadinessWatcher(epoll)
