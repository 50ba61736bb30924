"""Tick statistics of the design comparison."""

from __future__ import annotations

import math

from tools.bench.designs.scenario import TickStats


def test_tick_stats_of_nothing_is_nan() -> None:
    stats = TickStats.of([])
    assert stats.count == 0 and math.isnan(stats.p99)
