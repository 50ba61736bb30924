"""How many engine restarts the supervisor may do on its own (Qt-free).

A crash loop must stop: after ``max_restarts`` automatic restarts inside a sliding window
of ``window_seconds`` the supervisor waits for the user (like systemd's
``StartLimitBurst``/``StartLimitIntervalSec``, whose defaults are also 5 per interval).
"""

from __future__ import annotations

from collections import deque

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW_SECONDS", "RestartBudget"]

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0


class RestartBudget:
    """Sliding-window restart counter; time is always a parameter (monotonic seconds)."""

    def __init__(
        self, max_restarts: int = MAX_RESTARTS, window_seconds: float = RESTART_WINDOW_SECONDS
    ) -> None:
        if max_restarts < 1 or window_seconds <= 0:
            raise ValueError("max_restarts must be >= 1 and window_seconds > 0")
        self.max_restarts = max_restarts
        self.window_seconds = window_seconds
        self._restarts: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._restarts and now - self._restarts[0] >= self.window_seconds:
            self._restarts.popleft()

    def remaining(self, now: float) -> int:
        """Automatic restarts still allowed at ``now``."""
        self._expire(now)
        return self.max_restarts - len(self._restarts)

    def try_spend(self, now: float) -> bool:
        """Record a restart at ``now`` if the budget allows one; return whether it did."""
        if self.remaining(now) <= 0:
            return False
        self._restarts.append(now)
        return True

    def seconds_until_available(self, now: float) -> float:
        """0 if a restart is allowed now, else how long until the oldest one expires."""
        if self.remaining(now) > 0:
            return 0.0
        return self._restarts[0] + self.window_seconds - now

    def reset(self) -> None:
        """Forget past restarts (the user asked for a restart explicitly)."""
        self._restarts.clear()
