"""Smoke tests of the benchmark report: the framewire app on the real GUI, the harness the
in-process designs share, the idle-sessions benchmark, and the report renderer.

No timing targets here (those live in the report itself): the tests check that results
are well formed and that what each scenario does really happened (the 1 s blocking
handler froze the loop; every flood frame was shown, in order; the engine came back).
Only what ``make test`` installs is used: the bench extra (Twisted, qasync, qtrio,
matplotlib) is for ``make bench``.
"""

from __future__ import annotations

import math
import subprocess

import shiboken6
from PySide6.QtCore import QTimer

from tools import bench, bench_report
from tools.bench import BenchOptions, BenchResult
from tools.bench_designs.probe import ClassicWindow, Harness
from tools.bench_designs.runner import run_design
from tools.bench_designs.scenario import (
    BLOCK_SECONDS,
    PLANS,
    DesignResult,
    FloodResult,
    Phase,
    TickStats,
)
from tools.bench_report import Report, render_markdown, run_other_benchmarks, target_verdicts
from tools.bench_sessions import SessionsResult, format_table, measure
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


def test_deleting_a_classic_window_stops_its_animation_timer(qtbot) -> None:
    # A probe outliving its window ticked a deleted widget and broke later Qt tests.
    window = ClassicWindow("test")
    probe = window.probe
    shiboken6.delete(window)
    assert not shiboken6.isValid(probe)


def test_harness_blocks_in_the_handler_and_counts_the_flood(qtbot, tmp_path) -> None:
    """An in-process design's side of the harness, with a fake echo server on Qt timers."""
    window = ClassicWindow("test")
    qtbot.addWidget(window)
    out = tmp_path / "result.json"

    def send(payload: bytes) -> None:
        QTimer.singleShot(0, lambda: answer(payload))

    def answer(payload: bytes) -> None:
        if payload.startswith(b"!stream"):
            _, count, size = payload.split()
            for seq in range(int(count)):
                harness.on_frame(seq.to_bytes(8, "big") + b"x" * (int(size) - 8))
        else:
            harness.on_frame(payload)

    harness = Harness(
        design="fake",
        label="fake echo",
        plan_name="smoke",
        out=out,
        send=send,
        log=window.log,
        ticks=lambda: window.probe.ticks,
    )
    with qtbot.waitSignal(harness.finished, timeout=10_000):
        harness.start()

    result = DesignResult.read(out)
    assert [p.name for p in result.phases] == ["idle", "block", "flood"]
    # time.sleep(1) in the handler held the loop: one tick interval spans it.
    assert max(result.intervals_ms(result.phase("block"))) >= BLOCK_SECONDS * 1000
    assert result.flood is not None and result.flood.displayed == PLANS["smoke"].flood_frames
    assert window.log.document().blockCount() >= PLANS["smoke"].flood_frames


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


def test_tick_stats_of_nothing_is_nan() -> None:
    stats = TickStats.of([])
    assert stats.count == 0 and math.isnan(stats.p99)


def test_idle_sessions_benchmark_measures_the_engine_process_and_asyncio() -> None:
    # Twisted is left out: it comes with the bench extra, which `make test` does not install.
    results = [measure(contender, 20, 1) for contender in ("framewire-process", "asyncio")]

    for result in results:
        assert result.sessions == 20
        assert result.setup_seconds > 0
        assert result.rss_total_mib > 0
    table = format_table(results)
    assert "| framewire-process | " in table and "| asyncio | " in table and "1.00x" in table


def test_the_report_reuses_what_ran_before_it_and_runs_the_rest(monkeypatch):
    smoke = "tests.tools.test_bench_smoke"
    registry = {"tiny": f"{smoke}:TINY", "broken": f"{smoke}:BROKEN", "report": "x:UNUSED"}
    monkeypatch.setattr(bench, "REGISTRY", registry)
    earlier = BenchResult(markdown="measured earlier")
    problems: list[str] = []

    others = run_other_benchmarks(BenchOptions(completed={"broken": earlier}), problems)

    assert others["broken"]["markdown"] == "measured earlier"  # not run again: it would fail
    assert others["tiny"]["title"] == "A tiny benchmark"  # not run before: run now
    assert problems == []


def test_a_quick_run_writes_under_build_not_over_the_committed_report(
    monkeypatch, tmp_path
) -> None:
    committed = tmp_path / "docs" / "benchmarks.md"
    quick = tmp_path / "build" / "benchmarks.md"
    monkeypatch.setattr(bench_report, "REPORT_PATH", committed)
    monkeypatch.setattr(bench_report, "QUICK_REPORT_PATH", quick)
    monkeypatch.setattr(bench_report, "QUICK_CHART_PATH", tmp_path / "build" / "chart.png")
    monkeypatch.setattr(bench_report, "build_report", lambda *a, **k: _fixture_report())
    monkeypatch.setattr(bench_report, "render_chart", lambda report, path: None)

    result = bench_report.run(BenchOptions(quick=True))

    assert quick.exists() and not committed.exists()
    assert "build/benchmarks.md" in result.markdown
