"""Is the engine hung? Qt-free bookkeeping of liveness pings (a browser's hang monitor).

Theory of operation: the supervisor sends a ping every ``PING_INTERVAL_SECONDS`` while no
other ping is outstanding, and calls ``pinged(now)``/``answered(now)``. Any message from
the engine (an event batch, a reply) also counts as a sign of life via ``alive(now)``:
a busy engine that floods the pipe is not hung, even if its pong sits behind the data.
The engine is *unresponsive* once nothing has been heard for ``HANG_THRESHOLD_SECONDS``
since the oldest unanswered ping.
"""

from __future__ import annotations

__all__ = ["HANG_THRESHOLD_SECONDS", "PING_INTERVAL_SECONDS", "HangMonitor"]

PING_INTERVAL_SECONDS = 0.25
HANG_THRESHOLD_SECONDS = 2.0


class HangMonitor:
    """Tracks pings and signs of life; all times are monotonic seconds passed in."""

    def __init__(self, threshold: float = HANG_THRESHOLD_SECONDS) -> None:
        self.threshold = threshold
        self._ping_sent_at: float | None = None
        self._last_heard: float | None = None
        self.last_rtt: float | None = None

    @property
    def ping_outstanding(self) -> bool:
        return self._ping_sent_at is not None

    def pinged(self, now: float) -> None:
        """A ping was sent at ``now`` (only when none is outstanding)."""
        if self._ping_sent_at is None:
            self._ping_sent_at = now

    def answered(self, now: float) -> None:
        """The outstanding ping was answered; records the round-trip time."""
        if self._ping_sent_at is not None:
            self.last_rtt = now - self._ping_sent_at
        self._ping_sent_at = None
        self.alive(now)

    def alive(self, now: float) -> None:
        """Anything arrived from the engine."""
        self._last_heard = now

    def silent_for(self, now: float) -> float:
        """Seconds since the engine was last heard from while a ping is outstanding."""
        if self._ping_sent_at is None:
            return 0.0
        since = self._ping_sent_at
        if self._last_heard is not None and self._last_heard > since:
            since = self._last_heard
        return max(0.0, now - since)

    def is_hung(self, now: float) -> bool:
        """True once silent for the threshold."""
        return self.silent_for(now) >= self.threshold

    def reset(self) -> None:
        """A new engine: forget everything."""
        self._ping_sent_at = None
        self._last_heard = None
        self.last_rtt = None
