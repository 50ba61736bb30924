"""Smoke tests of the benchmark report: one real comparison app, and the report renderer.

No timing targets here (those live in the report itself): the app test checks that the
result is well formed and that what the scenario does really happened (the 1 s blocking
handler froze the loop; every flood frame was shown, in order).
"""

from __future__ import annotations

import math

from tools.bench_designs.runner import open_demo_server, run_design
from tools.bench_designs.scenario import (
    BLOCK_SECONDS,
    PLANS,
    DesignResult,
    FloodResult,
    Phase,
    TickStats,
)
from tools.bench_report import Report, render_chart, render_markdown, target_verdicts
from tools.bench_sessions import SessionsResult, format_table, run_all


def test_qasync_app_records_ticks_block_and_flood() -> None:
    with open_demo_server() as server:
        result = run_design("qasync", server, "smoke")

    assert result.design == "qasync"
    assert [p.name for p in result.phases] == ["idle", "block", "flood"]
    ticks = result.ticks
    assert ticks == sorted(ticks)
    assert len(ticks) >= 20
    idle = result.intervals_ms(result.phase("idle"))
    assert idle, "no tick during the idle phase"
    assert 5 < TickStats.of(idle).p50 < 250  # a 25 ms timer, whatever the machine's load
    # time.sleep(1) in the handler held the GUI thread: one interval spans it.
    assert max(result.intervals_ms(result.phase("block"))) >= BLOCK_SECONDS * 1000
    flood = result.flood
    assert flood is not None
    assert flood.displayed == PLANS["smoke"].flood_frames
    assert (flood.lost, flood.out_of_order) == (0, 0)
    assert flood.frames_per_second(result.marks["flood_start"]) > 0


def _fake_run(design: str, label: str, stall_ms: float) -> DesignResult:
    """Ticks every 25 ms for 3 s, with one interval of ``stall_ms`` inside the block."""
    ticks, t = [], 0.0
    while t < 3.0:
        ticks.append(t)
        t += stall_ms / 1000 if 1.0 <= t < 1.025 else 0.025
    phases = [
        Phase(name="idle", start=0.0, end=1.0),
        Phase(name="block", start=1.0, end=2.0 + stall_ms / 1000),
        Phase(name="flood", start=2.0 + stall_ms / 1000, end=t),
    ]
    return DesignResult(
        design=design,
        label=label,
        plan="quick",
        ticks=ticks,
        phases=phases,
        marks={"block_start": 1.0, "flood_start": phases[2].start},
        flood=FloodResult(requested=100, displayed=100, first_at=2.2, last_at=2.5),
        duration=t,
    )


def _fixture_report() -> Report:
    return Report(
        mode="quick",
        machine={"CPU": "test CPU", "cores": "2"},
        designs={
            "classic": [_fake_run("classic", "Twisted in Qt (qt-reactor)", 1000.0)],
            "framewire": [_fake_run("framewire", "framewire (engine process + GUI)", 25.0)],
        },
        sessions=[
            SessionsResult(
                contender=name,
                sessions=1000,
                setup_seconds=secs,
                rss_per_session_kib=kib,
                rss_total_mib=40.0,
                runs=1,
            )
            for name, secs, kib in [("framewire", 0.5, 10.0), ("twisted", 0.25, 5.0)]
        ],
        problems=["bench_ipc: it broke\nwith details"],
    )


def test_report_renders_tables_with_ratios_and_verdicts() -> None:
    report = _fixture_report()
    markdown = render_markdown(report)

    assert "![Tick intervals over time" in markdown
    assert "| 1 s blocking handler | Twisted in Qt (qt-reactor) |" in markdown
    # The classic design's p99 in the block is 1000 ms against framewire's 25: 40x.
    assert "| 1000 | 1000 | 40.0x | 40.0x |" in markdown
    assert "| framewire | 0.50 | 1.00x | 10.0 | 1.00x | 40 |" in markdown
    assert "| twisted | 0.25 | 0.50x | 5.0 | 0.50x | 40 |" in markdown
    assert "| test CPU |" in markdown
    assert "- bench_ipc: it broke" in markdown and "with details" not in markdown
    verdicts = {phase: ok for phase, _summary, ok in target_verdicts(report)}
    assert verdicts["block"] is True
    assert verdicts["stall"] is False  # not measured in this fixture: never "met"


def test_report_chart_is_a_png(tmp_path) -> None:
    path = tmp_path / "img" / "ticks.png"
    render_chart(_fixture_report(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tick_stats_of_nothing_is_nan() -> None:
    stats = TickStats.of([])
    assert stats.count == 0 and math.isnan(stats.p99)


def test_idle_sessions_benchmark_measures_every_contender() -> None:
    results = run_all(sessions=20, runs=1)

    assert [r.contender for r in results] == [
        "framewire",
        "framewire-process",
        "twisted",
        "asyncio",
    ]
    for result in results:
        assert result.sessions == 20
        assert result.setup_seconds > 0
        assert result.rss_total_mib > 0
    table = format_table(results)
    assert "| framewire |" in table and "1.00x" in table
