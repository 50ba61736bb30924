"""Frame-timing probe for the animation: tick intervals, percentiles, lateness (Qt-free).

The animation's timer asks for a tick every ``nominal`` seconds; the interval actually
observed between ticks is what a user perceives as smoothness. The probe keeps the last
``MAX_SAMPLES`` intervals (bounded), answers percentile queries over any suffix of them
(``mark()`` then ``intervals_since(mark)``), and optionally writes every interval to a
text sink, one ``<monotonic time> <interval ms>`` line per tick.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import TextIO

__all__ = ["MAX_SAMPLES", "TickProbe", "percentile"]

#: Bound on stored intervals: about 7 hours at 40 ticks/s, 8 MB.
MAX_SAMPLES = 1_000_000


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class TickProbe:
    """Records tick intervals; ``tick(now)`` is called by the animation timer."""

    def __init__(self, nominal: float, sink: TextIO | None = None) -> None:
        self.nominal = nominal
        self._sink = sink
        self._last: float | None = None
        self._intervals = array("d")
        self._dropped = 0  # intervals discarded from the front to keep the bound

    def tick(self, now: float) -> float | None:
        """Record a tick at monotonic ``now``; return the interval since the last one."""
        last, self._last = self._last, now
        if last is None:
            return None
        interval = now - last
        if len(self._intervals) >= MAX_SAMPLES:
            drop = MAX_SAMPLES // 10
            del self._intervals[:drop]
            self._dropped += drop
        self._intervals.append(interval)
        if self._sink is not None:
            self._sink.write(f"{now:.6f} {interval * 1000:.3f}\n")
        return interval

    def mark(self) -> int:
        """A position to measure from later with ``intervals_since``."""
        return self._dropped + len(self._intervals)

    def intervals_since(self, mark: int) -> list[float]:
        """Intervals recorded after ``mark`` (those still held)."""
        return self._intervals[max(0, mark - self._dropped) :].tolist()

    def lateness(self, window: int = 40) -> float:
        """Worst lateness (interval beyond nominal, seconds, >= 0) over the last ticks."""
        recent = self._intervals[-window:]
        if not recent:
            return 0.0
        return max(0.0, max(recent) - self.nominal)

    def close(self) -> None:
        """Flush and close the sink, if any."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
