"""The benchmark report: rendering with ratios and verdicts, reusing what ran before it,
and a quick run writing under build/ (no timing targets here: those live in the report
itself). Only what ``make test`` installs is used: the bench extra (Twisted, qasync,
qtrio, matplotlib) is for ``make bench``."""

from __future__ import annotations

from tools.bench import report as bench_report, suite
from tools.bench.designs.scenario import (
    DesignResult,
    FloodResult,
    Phase,
)
from tools.bench.report import Report, render_markdown, run_other_benchmarks, target_verdicts
from tools.bench.sessions import SessionsResult
from tools.bench.suite import BenchOptions, BenchResult


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
                setup_cpu_seconds=secs / 2,
                rss_per_session_kib=kib,
                rss_total_mib=40.0,
                runs=1,
            )
            for name, secs, kib in [("framewire", 0.5, 10.0), ("twisted", 0.25, 5.0)]
        ],
        problems=["ipc: it broke\nwith details"],
    )


def test_report_renders_tables_with_ratios_and_verdicts() -> None:
    report = _fixture_report()
    markdown = render_markdown(report)

    assert "![Tick intervals over time" in markdown
    assert "| 1 s blocking handler | Twisted in Qt (qt-reactor) |" in markdown
    # The classic design's p99 in the block is 1000 ms against framewire's 25: 40x.
    assert "| 1000 | 1000 | 40.0x | 40.0x |" in markdown
    # Ratios over Twisted's figures: the targets are framewire <= 1.00x.
    assert "| framewire | 0.50 | 2.00x | 0.25 | 2.00x | 10.0 | 2.00x | 40 |" in markdown
    assert "| twisted | 0.25 | 1.00x | 0.12 | 1.00x | 5.0 | 1.00x | 40 |" in markdown
    assert "| test CPU |" in markdown
    assert "- ipc: it broke" in markdown and "with details" not in markdown
    verdicts = {phase: ok for phase, _summary, ok in target_verdicts(report)}
    assert verdicts["block"] is True
    assert verdicts["stall"] is False  # not measured in this fixture: never "met"


def test_the_report_reuses_what_ran_before_it_and_runs_the_rest(monkeypatch):
    smoke = "tests.tools.bench.test_suite"
    registry = {"tiny": f"{smoke}:TINY", "broken": f"{smoke}:BROKEN", "report": "x:UNUSED"}
    monkeypatch.setattr(suite, "REGISTRY", registry)
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
