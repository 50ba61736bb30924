"""One task that waits for many sockets to become readable: where idle sessions wait.

Why: an idle session waits for its first bytes. Through ``trio.lowlevel.wait_readable``
that wait is a stack of five coroutines, a closure and trio's record for the descriptor,
~1.7 KiB per session: the largest part of what an idle session costs. Here the session's
task parks itself with ``trio.lowlevel.wait_task_rescheduled`` (two frames, ~0.4 KiB),
its socket goes into one epoll set of the engine's, and one task
(``ReadinessWatcher.run``) waits for that set and wakes the sessions whose socket became
readable. 10,000 idle sessions: 6.0 -> 4.6 KiB of RSS each (tools/bench/sessions.py).
The session still owns its task, nursery and cancel scope: cancelling it takes its socket
out of the set.

Linux only (epoll). Elsewhere ``open_watcher`` gives ``None`` and sessions use trio's
``wait_readable``.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager

import trio

__all__ = ["ReadinessWatcher", "open_watcher"]


class ReadinessWatcher:
    """The sockets some tasks wait on, and the epoll set that watches them."""

    def __init__(self, epoll: select.epoll) -> None:
        self._epoll = epoll
        #: descriptor -> the task parked on it.
        self._waiting: dict[int, trio.lowlevel.Task] = {}

    def park(self, fd: int) -> None:
        """Watch ``fd`` for the current task, which must then ``wait_task_rescheduled``.

        The task is rescheduled (with ``None``) once ``fd`` is readable, or has an error
        or a hang-up; its abort function must call ``unpark(fd)``.

        Raises:
            OSError: epoll refused the descriptor (``max_user_watches`` reached).
        """
        self._epoll.register(fd, select.EPOLLIN)
        self._waiting[fd] = trio.lowlevel.current_task()

    def unpark(self, fd: int) -> trio.lowlevel.Abort:
        """Stop watching ``fd`` (its task was cancelled); an abort function's answer."""
        del self._waiting[fd]
        self._epoll.unregister(fd)
        return trio.lowlevel.Abort.SUCCEEDED

    async def run(self) -> None:
        """Wake the tasks whose descriptor became readable, until cancelled."""
        epoll, waiting = self._epoll, self._waiting
        while True:
            await trio.lowlevel.wait_readable(epoll.fileno())
            # Ready descriptors are taken out of the set at once, in the same step as the
            # poll, so an event never outlives its registration (a reused number).
            for fd, _ in epoll.poll(0):
                epoll.unregister(fd)
                trio.lowlevel.reschedule(waiting.pop(fd))


@contextmanager
def open_watcher() -> Iterator[ReadinessWatcher | None]:
    """A watcher and its epoll set for the duration of the block; ``None`` without epoll.

    The caller starts ``ReadinessWatcher.run`` in the nursery that holds the sessions, so
    cancelling that nursery stops it; the epoll set closes only after the block, once the
    cancelled sessions have taken their sockets out of it (``unpark``).
    """
    if not hasattr(select, "epoll"):
        yield None
        return
    with select.epoll() as epoll:
        yield ReadinessWatcher(epoll)
