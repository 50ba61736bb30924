"""The benchmark report: framewire next to the designs it replaces, in one run.

Runs every design's app (``tools.bench.designs``) through the same timeline against one
demo server, the idle-sessions benchmark (``tools.bench.sessions``) and the other
``make bench`` benchmarks, then writes ``docs/benchmarks.md`` (tables with ratios, the
machine described) and ``docs/img/bench-ticks.png`` (tick intervals over time, one line
per design, the block and the flood marked).

Run: ``python -m tools.bench.report [--quick] [--runs N] [--json OUT]``. ``--quick``
(one run of each, small flood, 1,000 sessions) is for CI and writes under build/
instead, so a smoke check never replaces the committed report; the full mode is what the
report in docs/ shows. Figures are medians over runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tools.bench.designs.chart import render_chart as render_chart_png
from tools.bench.designs.runner import DESIGN_MODULES, run_design
from tools.bench.designs.scenario import (
    PHASE_TITLES,
    PHASES,
    PLANS,
    TARGET_MAX_MS,
    TARGET_P99_MS,
    DesignResult,
    PhaseSummary,
    Plan,
    summarise_flood,
    summarise_phase,
)
from tools.bench.sessions import SessionsResult, format_table as format_sessions_table
from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, cpu_model
from tools.demo_server import spawn_demo_server

ROOT = Path(__file__).resolve().parents[2]
REPORT_PATH = ROOT / "docs" / "benchmarks.md"
CHART_PATH = ROOT / "docs" / "img" / "bench-ticks.png"
#: Where ``--quick`` writes: a smoke check's figures must not replace the committed report.
QUICK_REPORT_PATH = ROOT / "build" / "bench-quick" / "benchmarks.md"
QUICK_CHART_PATH = ROOT / "build" / "bench-quick" / "bench-ticks.png"

LIBRARIES = (
    "PySide6-Essentials",
    "trio",
    "msgpack",
    "Twisted",
    "qt-reactor",
    "QtPy",
    "qtrio",
    "qts",
    "qasync",
    "matplotlib",
)
#: This benchmark's name in ``tools.bench.suite.REGISTRY``, and the idle sessions'.
BENCHMARK_NAME = "report"
SESSIONS_NAME = "sessions"


@dataclass(slots=True, kw_only=True)
class Report:
    """Everything the markdown and the chart are made from."""

    mode: str
    machine: dict[str, str]
    designs: dict[str, list[DesignResult]]  # design -> one result per run
    sessions: list[SessionsResult] = field(default_factory=list)
    others: dict[str, Any] = field(default_factory=dict)  # benchmark name -> its JSON
    problems: list[str] = field(default_factory=list)  # what failed to run, verbatim


# ----------------------------------------------------------------------------- measuring


def describe_machine() -> dict[str, str]:
    """CPU, cores, RAM, OS, Python, Qt and library versions, and the load when we started."""
    import psutil
    from PySide6.QtCore import qVersion

    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "CPU": cpu_model(),
        "cores": f"{psutil.cpu_count(logical=False)} physical, {os.cpu_count()} logical",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Qt": f"{qVersion()} (QT_QPA_PLATFORM=offscreen)",
        "libraries": ", ".join(versions),
        "load average at start": " ".join(f"{x:.2f}" for x in load),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run_designs(
    plan: str, runs: int, designs: list[str], problems: list[str]
) -> dict[str, list[DesignResult]]:
    """Every design ``runs`` times, interleaved (so slow drift hits all alike)."""
    results: dict[str, list[DesignResult]] = {d: [] for d in designs}
    with spawn_demo_server(stderr=subprocess.DEVNULL) as server:
        for run in range(runs):
            for design in designs:
                print(f"  {design} run {run + 1}/{runs}", file=sys.stderr, flush=True)
                try:
                    results[design].append(run_design(design, server, plan))
                except RuntimeError as exc:
                    problems.append(str(exc))
    return results


def run_other_benchmarks(options: BenchOptions, problems: list[str]) -> dict[str, Any]:
    """Every other benchmark registered in ``tools.bench``, in this process, in order;
    one that already ran in this invocation (``options.completed``) is not run again.

    Returns name -> {"title", "markdown", "data", "targets"}; a benchmark that fails is
    left out and said in ``problems``.
    """
    from tools.bench.suite import REGISTRY, load

    others: dict[str, Any] = {}
    for name in REGISTRY:
        if name in (BENCHMARK_NAME, SESSIONS_NAME):  # the sessions have their own section
            continue
        try:
            benchmark = load(name)
            result = options.completed.get(name)
            if result is None:
                print(f"{name}:", file=sys.stderr, flush=True)
                result = benchmark.run(options)
        except Exception as exc:  # one broken benchmark must not sink the whole report
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        others[name] = {
            "title": benchmark.title,
            "markdown": result.markdown,
            "data": result.data,
            "targets": [dict(asdict(t), met=t.met) for t in result.targets],
        }
    return others


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _ratio(value: float, base: float) -> str:
    if math.isnan(value) or math.isnan(base) or base <= 0:
        return "n/a"
    ratio = value / base
    return f"{ratio:.2f}x" if ratio < 0.95 else f"{ratio:.1f}x"


def target_verdicts(report: Report) -> list[tuple[str, PhaseSummary | None, bool]]:
    """framewire's (phase, summary, meets p99 and max targets) for each phase it ran."""
    runs = report.designs.get("framewire", [])
    verdicts = []
    for phase in PHASES:
        summary = summarise_phase(runs, phase)
        ok = summary is not None and summary.p99 <= TARGET_P99_MS and summary.max <= TARGET_MAX_MS
        verdicts.append((phase, summary, ok))
    return verdicts


# ----------------------------------------------------------------------------- rendering


def render_markdown(report: Report, chart_name: str = "img/bench-ticks.png") -> str:
    """The whole docs/benchmarks.md."""
    plan = PLANS["quick" if report.mode == "quick" else "full"]
    command = "python -m tools.bench.report" + (" --quick" if report.mode == "quick" else "")
    out = [
        "# Benchmarks: framewire next to the designs it replaces",
        "",
        f"Written by `{command}` (`make bench`); every figure below comes from the same "
        "run on the machine described at the end. Tick figures are medians over "
        f"{_runs_text(report)} of each design. Do not edit by hand: re-run it.",
        "",
        f"![Tick intervals over time, one line per design]({chart_name})",
        "",
        "Each design draws the classic sample's circle on a 25 ms `QTimer` and logs every "
        "frame it receives from the demo server. The chart shows the interval between "
        "consecutive ticks (log scale): a flat line at 25 ms is a smooth animation; "
        "a plateau is a frozen window, as long as the freeze lasted. In every table a "
        "scenario's figures cover the ticks of that scenario only.",
        "",
    ]
    out += _render_targets(report)
    out += _render_ticks(report)
    out += _render_flood(report, plan.flood_frames)
    if report.sessions:
        out += [
            "## Many idle sessions",
            "",
            "One process holding N idle loopback sessions to a trio listener that "
            "accepts and idles (`tools/bench/sessions.py`); RSS growth per session and "
            "time to open them all (wall, and the CPU time of the process holding them), "
            "median of runs. Lower is better; the ratio is the contender's figure over "
            "Twisted's (the issue's targets: framewire at most 1.00x). *framewire* is one "
            "engine "
            "(`engine.open_engine`) in the measuring process; *framewire-process* is the "
            "engine process as the GUI runs it (`python -m engine --stdio`), each session "
            "opened by an `open` request over its pipe, RSS of the engine process.",
            "",
            format_sessions_table(report.sessions),
            "",
        ]
    out += _render_others(report)
    out += _render_method(plan)
    out += ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in report.machine.items()]
    out.append("")
    if report.problems:
        out += ["## Not measured in this run", ""]
        out += [f"- {p.splitlines()[0]}" for p in report.problems]
        out.append("")
    return "\n".join(out)


def _runs_text(report: Report) -> str:
    counts = {len(v) for v in report.designs.values() if v}
    if not counts:
        return "no runs"
    n = max(counts)
    return "1 run" if n == 1 else f"{n} runs"


def _render_targets(report: Report) -> list[str]:
    if not report.designs.get("framewire"):
        return ["**framewire was not measured in this run** (see the end of this page).", ""]
    out = [
        f"## framewire's targets: p99 <= {TARGET_P99_MS:.0f} ms and max <= "
        f"{TARGET_MAX_MS:.0f} ms in every scenario",
        "",
        "| scenario | p99 ms | max ms | target met |",
        "|---|---:|---:|---|",
    ]
    for phase, summary, ok in target_verdicts(report):
        if summary is None:
            out.append(f"| {PHASE_TITLES[phase]} | n/a | n/a | not measured |")
        else:
            out.append(
                f"| {PHASE_TITLES[phase]} | {_ms(summary.p99)} | {_ms(summary.max)} | "
                f"{'yes' if ok else '**no**'} |"
            )
    return [*out, "", *_render_recovery(report.designs["framewire"])]


def _render_recovery(runs: list[DesignResult]) -> list[str]:
    """How the GUI saw the engine's stop and death, from the marks of framewire's runs."""
    restarts = [r.marks["restarted"] - r.marks["kill"] for r in runs if "restarted" in r.marks]
    noticed = sum("not_responding" in r.marks for r in runs)
    stalled = sum("stall_start" in r.marks for r in runs)
    out = []
    if restarts:
        out.append(
            f"After SIGKILL the GUI had a new engine ready in {statistics.median(restarts):.2f} s "
            f"(median of {len(restarts)}); the window kept animating meanwhile."
        )
    if stalled:
        out.append(
            f'During the 2 s SIGSTOP the GUI\'s hang monitor said "not responding" in '
            f"{noticed} of {stalled} runs (it fires after 2 s without an answer to its pings, "
            "so a stop of exactly 2 s is at its edge)."
        )
    return [" ".join(out), ""] if out else []


def _render_ticks(report: Report) -> list[str]:
    base_runs = report.designs.get("framewire", [])
    out = [
        "## Animation tick intervals (ms; the timer asks for 25)",
        "",
        "Ratios are the design's figure over framewire's in the same scenario: "
        "how much worse the window's worst moments are.",
        "",
        "| scenario | design | p50 | p99 | max | p99 vs framewire | max vs framewire |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for phase in PHASES:
        base = summarise_phase(base_runs, phase)
        for design, runs in report.designs.items():
            summary = summarise_phase(runs, phase)
            if summary is None:
                continue
            label = runs[0].label
            p99_ratio = _ratio(summary.p99, base.p99) if base else "n/a"
            max_ratio = _ratio(summary.max, base.max) if base else "n/a"
            if design == "framewire":
                p99_ratio = max_ratio = "1.0x"
            out.append(
                f"| {PHASE_TITLES[phase]} | {label} | {_ms(summary.p50)} | "
                f"{_ms(summary.p99)} | {_ms(summary.max)} | {p99_ratio} | {max_ratio} |"
            )
    return [*out, ""]


def _render_flood(report: Report, flood_frames: int) -> list[str]:
    base = summarise_flood(report.designs.get("framewire", []))
    out = [
        "## The flood: frames shown per second, and frames lost",
        "",
        f"The demo server sends {flood_frames:,} sequence-numbered 100-byte frames as fast "
        "as it can; each design shows every frame in its log (the in-process designs append "
        "one line per frame to a `QTextEdit`, as the classic sample did; framewire appends "
        "batches to its log model). Frames/s counts from the request to the last frame "
        "shown; lost counts sequence numbers that never appeared (summed over runs).",
        "",
        "| design | shown (worst run) | lost | frames/s shown | vs framewire |",
        "|---|---:|---:|---:|---:|",
    ]
    for runs in report.designs.values():
        flood = summarise_flood(runs)
        if flood is None:
            continue
        ratio = _ratio(flood.frames_per_second, base.frames_per_second) if base else "n/a"
        out.append(
            f"| {runs[0].label} | {flood.displayed_min:,} / {flood.requested:,} | "
            f"{flood.lost_total} | {flood.frames_per_second:,.0f} | {ratio} |"
        )
    return [*out, ""]


def _render_others(report: Report) -> list[str]:
    if not report.others:
        return []
    out = [
        "## Throughput and end-to-end (the other `make bench` benchmarks, same run)",
        "",
        "Each benchmark's own table, as it prints it; ratios compare framewire with the "
        "library or design named in the row.",
        "",
    ]
    for other in report.others.values():
        out += [f"### {other['title']}", "", other["markdown"].rstrip(), ""]
        targets = other.get("targets") or []
        if targets:
            out += ["| target | measured | goal | met |", "|---|---:|---:|---|"]
            for t in targets:
                sign = ">=" if t["higher_is_better"] else "<="
                out.append(
                    f"| {t['name']} | {t['measured']:.2f}{t['unit']} | {sign} "
                    f"{t['goal']:g}{t['unit']} | {'yes' if t['met'] else '**no**'} |"
                )
            out.append("")
    return out


def _render_method(plan: Plan) -> list[str]:
    return [
        "## How each scenario is made",
        "",
        "- **The designs.** *Twisted in Qt* is the classic sample: `qt-reactor` "
        "(`qreactor`, which reaches PySide6 through qtpy with `QT_API=pyside6`) drives "
        "Twisted from Qt's loop and an `IntNStringReceiver` (`<L` prefix) appends each "
        "frame to a `QTextEdit`. *qtrio* runs Trio as a guest of Qt's loop; *qasync* runs "
        "asyncio on Qt's loop; both read the same frames and log them the same way. "
        "*framewire* is the real GUI (`ui`) with its real engine subprocess.",
        "- **Idle**: connected, nothing happens.",
        "- **1 s blocking handler**: the in-process designs send `block`; the echo's handler "
        "calls `time.sleep(1)` on the GUI thread, as a slow callback does. In framewire "
        "network handlers run in the engine process, so the same stall is the engine "
        "stopped for 1 s (SIGSTOP, then SIGCONT): the network side does nothing for 1 s, "
        "as with a handler that blocks.",
        "- **Flood**: each design sends `!stream N 100` and the demo server answers with N "
        "100-byte frames (8-byte big-endian sequence number + filler) as fast as TCP takes "
        "them; the phase lasts until the last frame is shown, and at least "
        f"{plan.flood_min_seconds:g} s (so every design is judged on as many ticks).",
        "- **Engine SIGSTOP 2 s** (framewire only): long enough for the GUI's hang monitor "
        "to say the engine is not responding.",
        "- **Engine killed, restarted** (framewire only): SIGKILL; the GUI's supervisor "
        "starts a new engine.",
        "- A tick interval counts in the phase where it ends; p99 is nearest-rank (over "
        "fewer than 100 intervals it is the maximum).",
        "",
    ]


# ----------------------------------------------------------------------------- main


def build_report(
    options: BenchOptions, *, designs: list[str], sessions: bool, others: bool
) -> Report:
    """Measure everything; ``options.runs`` is runs per design (default 5, quick 1)."""
    from tools.bench.sessions import run_all as run_sessions

    mode = "quick" if options.quick else "full"
    problems: list[str] = []
    machine = describe_machine()
    print("designs:", file=sys.stderr, flush=True)
    results = run_designs(mode, options.runs_or(5, 1), designs, problems)
    report = Report(mode=mode, machine=machine, designs=results, problems=problems)
    done = options.completed.get(SESSIONS_NAME)
    if sessions and done is not None:  # measured in this run already: make bench
        report.sessions = [SessionsResult(**r) for r in done.data]
    elif sessions:
        print("idle sessions:", file=sys.stderr, flush=True)
        try:
            report.sessions = run_sessions(
                sessions=1_000 if options.quick else 10_000,
                runs=options.runs_or(3, 1),
                problems=problems,
            )
        except OSError as exc:
            problems.append(f"idle sessions: {exc}")
    if others:
        report.others = run_other_benchmarks(options, problems)
    return report


def render_chart(report: Report, path: Path) -> None:
    """docs/img/bench-ticks.png from the first run of each design."""
    render_chart_png(report.designs, report.mode, path)


def report_paths(quick: bool) -> tuple[Path, Path]:
    """The report's and the chart's paths: the committed docs for a full run, build/ for
    ``--quick``."""
    return (QUICK_REPORT_PATH, QUICK_CHART_PATH) if quick else (REPORT_PATH, CHART_PATH)


def write_report(report: Report, out: Path = REPORT_PATH, chart: Path = CHART_PATH) -> None:
    """docs/benchmarks.md and its chart."""
    render_chart(report, chart)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(report, os.path.relpath(chart, out.parent)))


def framewire_targets(report: Report) -> tuple[Target, ...]:
    """The issue's targets for framewire, per scenario, as ``tools.bench`` targets."""
    targets = []
    for phase, summary, _ok in target_verdicts(report):
        if summary is None:
            continue
        title = PHASE_TITLES[phase]
        targets += [
            Target(name=f"{title}: tick p99 (ms)", measured=summary.p99, goal=TARGET_P99_MS,
                   higher_is_better=False, unit=""),
            Target(name=f"{title}: tick max (ms)", measured=summary.max, goal=TARGET_MAX_MS,
                   higher_is_better=False, unit=""),
        ]  # fmt: skip
    return tuple(targets)


def run(options: BenchOptions) -> BenchResult:
    """``tools.bench`` entry: measure everything, write the docs, return the summary."""
    report = build_report(options, designs=list(DESIGN_MODULES), sessions=True, others=True)
    out, chart = report_paths(options.quick)
    write_report(report, out, chart)
    summary = "\n".join(
        [
            *_render_targets(report),
            *_render_ticks(report),
            *_render_flood(report, PLANS[report.mode].flood_frames),
            format_sessions_table(report.sessions) if report.sessions else "",
            "",
            f"Full report: {os.path.relpath(out, ROOT)} (chart: {os.path.relpath(chart, ROOT)}).",
            *[f"Not measured: {p.splitlines()[0]}" for p in report.problems],
        ]
    )
    # Under tools.bench's own "## title" heading, our sections go one level down.
    summary = "\n".join(
        "#" + line if line.startswith("## ") else line for line in summary.splitlines()
    )
    targets = framewire_targets(report)
    if SESSIONS_NAME not in options.completed:  # else they are in that benchmark's result
        from tools.bench.sessions import targets as session_targets

        targets += session_targets(report.sessions)
    return BenchResult(markdown=summary, data=report_json(report), targets=targets)


def report_json(report: Report) -> dict[str, Any]:
    return {
        "mode": report.mode,
        "machine": report.machine,
        "designs": {d: [r.to_json() for r in runs] for d, runs in report.designs.items()},
        "sessions": [asdict(s) for s in report.sessions],
        "others": report.others,
        "problems": report.problems,
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.report",
        description="Measure framewire next to Twisted-in-Qt, qtrio and qasync; write "
        "docs/benchmarks.md and docs/img/bench-ticks.png.",
    )
    parser.add_argument("--quick", action="store_true", help="CI mode: under a minute")
    parser.add_argument("--runs", type=int, help="runs per design (default: 5; 1 with --quick)")
    parser.add_argument(
        "--designs", default=",".join(DESIGN_MODULES), help="comma-separated subset of %(default)s"
    )
    parser.add_argument("--no-sessions", action="store_true", help="skip the idle sessions")
    parser.add_argument(
        "--no-others", action="store_true", help="skip the receive/IPC/GUI throughput benchmarks"
    )
    parser.add_argument("--out", type=Path, help="markdown path (default: see report_paths)")
    parser.add_argument("--chart", type=Path, help="PNG path (default: see report_paths)")
    parser.add_argument("--json", type=Path, help="also write every raw figure as JSON")
    args = parser.parse_args(argv)
    args.designs = [d for d in args.designs.split(",") if d]
    unknown = set(args.designs) - set(DESIGN_MODULES)
    if unknown:
        parser.error(f"unknown designs: {', '.join(sorted(unknown))}")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    options = BenchOptions(quick=args.quick, runs=args.runs)
    report = build_report(
        options, designs=args.designs, sessions=not args.no_sessions, others=not args.no_others
    )
    default_out, default_chart = report_paths(args.quick)
    out, chart = args.out or default_out, args.chart or default_chart
    write_report(report, out, chart)
    if args.json:
        args.json.write_text(json.dumps(report_json(report)))
    print(f"wrote {out} and {chart}", file=sys.stderr)
    for problem in report.problems:
        print(f"not measured: {problem.splitlines()[0]}", file=sys.stderr)


BENCHMARK = Benchmark(
    name=BENCHMARK_NAME,
    title="The report: framewire next to Twisted-in-Qt, qtrio and qasync (docs/benchmarks.md)",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    main()
