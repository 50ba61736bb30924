"""The framewire design's app, run as the report runs it, through every scenario on the
real GUI (what happened is checked, not how fast)."""

from __future__ import annotations

import subprocess

from tools.bench.designs.runner import run_design
from tools.bench.designs.scenario import PLANS, TickStats
from tools.demo_server import spawn_demo_server


def test_framewire_app_runs_every_scenario_on_the_real_gui() -> None:
    with spawn_demo_server(stderr=subprocess.DEVNULL) as server:
        result = run_design("framewire", server, "smoke")

    assert result.design == "framewire"
    assert [p.name for p in result.phases] == ["idle", "block", "flood", "stall", "restart"]
    ticks = result.ticks
    assert ticks == sorted(ticks)
    assert len(ticks) >= 40
    idle = result.intervals_ms(result.phase("idle"))
    assert idle, "no tick during the idle phase"
    assert 5 < TickStats.of(idle).p50 < 250  # a 25 ms timer, whatever the machine's load
    flood = result.flood
    assert flood is not None
    assert flood.displayed == PLANS["smoke"].flood_frames
    assert (flood.lost, flood.out_of_order) == (0, 0)
    # The supervisor brought a new engine up after the SIGKILL.
    assert result.marks["restarted"] > result.marks["kill"]
