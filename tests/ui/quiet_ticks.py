"""The animation's tick intervals as a quiet machine would show them (tests/README.md).

On a loaded machine the GUI thread is sometimes ready to run but waits for a CPU, and its
ticks come late through no fault of the window. Linux counts that wait per thread: the
second figure of ``/proc/thread-self/schedstat`` is the nanoseconds the thread has spent
runnable but not running. ``QuietTickProbe`` takes it off the clock before recording a
tick, so an interval holds only what the window itself did between two ticks (work on
the GUI thread, or blocking in a call): the lateness a user of a quiet machine would see,
and what a stalled or blocked GUI thread still shows, but not what load adds.
"""

from __future__ import annotations

from ui.tick_probe import TickProbe

SCHEDSTAT = "/proc/thread-self/schedstat"


def cpu_wait_seconds() -> float:
    """Seconds the calling thread has spent waiting for a CPU while ready to run."""
    with open(SCHEDSTAT, "rb") as stat:
        return int(stat.read().split()[1]) / 1e9


class QuietTickProbe(TickProbe):
    """A ``TickProbe`` whose clock stands still while the ticking thread waits for a CPU.

    ``tick`` must be called on the thread that ticks (the pulse's timer calls it on the
    GUI thread).
    """

    def tick(self, now: float) -> float | None:
        return super().tick(now - cpu_wait_seconds())
