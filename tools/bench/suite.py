"""The suite behind ``make bench``: what a benchmark is, which ones exist, and running
them into one markdown report.

Usage: ``python -m tools.bench [--quick] [--only NAME[,NAME]] [--runs N] [--json OUT] [--list]``

Each sub-benchmark is a ``Benchmark`` object in its own module, registered by one line in
``REGISTRY`` below (``"name": "module:ATTRIBUTE"``); its module is imported only when it
runs, so a benchmark's heavy imports (Twisted, PySide6) cost nothing to the others.
A benchmark's ``run(options)`` returns a ``BenchResult``: its markdown table(s), JSON-able
data for the report generator, and the targets it checks (as ratios: docs/design.md says speed
claims are measured side by side, never asserted in unit tests).

Adding one::

    # tools/bench/foo.py
    def run(options: BenchOptions) -> BenchResult: ...
    BENCHMARK = Benchmark(name="foo", title="What foo measures", run=run)

    # tools/bench/suite.py, REGISTRY
    "foo": "tools.bench.foo:BENCHMARK",
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "REGISTRY",
    "BenchOptions",
    "BenchResult",
    "Benchmark",
    "Target",
    "cpu_model",
    "machine_info",
    "main",
    "markdown_table",
    "run_alone",
]

#: Every sub-benchmark, in report order: ``--only`` name -> ``"module:ATTRIBUTE"``.
REGISTRY: dict[str, str] = {
    "receive": "tools.bench.receive:BENCHMARK",
    "tls": "tools.bench.tls:BENCHMARK",
    "framing": "tools.bench.framing:BENCHMARK",
    "gui": "tools.bench.gui:BENCHMARK",
    "ipc": "tools.bench.ipc:BENCHMARK",
    "attach": "tools.bench.attach:BENCHMARK",
    "intake": "tools.bench.intake:BENCHMARK",
    "decoders": "tools.bench.decoders:BENCHMARK",
    "gui-decoded": "tools.bench.gui:DECODED_BENCHMARK",
    "log": "tools.bench.log:BENCHMARK",
    "relay": "tools.bench.relay:BENCHMARK",
    "replay": "tools.bench.replay:BENCHMARK",
    "gui-relay": "tools.bench.gui:RELAY_BENCHMARK",
    "startup": "tools.bench.startup:BENCHMARK",
    "sessions": "tools.bench.sessions:BENCHMARK",
    # Last: runs every benchmark above that did not run before it (plus the design
    # comparison) and writes docs/benchmarks.md.
    "report": "tools.bench.report:BENCHMARK",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchOptions:
    """What the user asked for, passed to every benchmark's ``run``."""

    #: Run about a tenth of the work (``make bench-quick``): for a smoke check, not figures.
    quick: bool = False
    #: Repetitions per measurement (the median is reported); None = the benchmark's default.
    runs: int | None = None
    #: Results of the benchmarks that already ran in this invocation, by name, filled in as
    #: each finishes: a summarising benchmark (the report) reuses them instead of
    #: measuring the same things again.
    completed: Mapping[str, BenchResult] = field(default_factory=dict)

    def runs_or(self, full: int, quick: int) -> int:
        """``runs`` if given, else ``quick`` or ``full`` by mode."""
        if self.runs is not None:
            return self.runs
        return quick if self.quick else full


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One goal a benchmark checks, e.g. "100-byte frames: framewire / Twisted >= 2.5"."""

    name: str
    measured: float
    goal: float
    #: For ratios where lower is better (memory, latency), set False.
    higher_is_better: bool = True
    unit: str = "x"

    @property
    def met(self) -> bool:
        """Whether the measured value reaches the goal."""
        if self.higher_is_better:
            return self.measured >= self.goal
        return self.measured <= self.goal


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    """What a benchmark reports."""

    #: Markdown to print under the benchmark's title (tables, notes).
    markdown: str
    #: JSON-able results (lists/dicts of numbers and strings) for ``--json``.
    data: Any = None
    targets: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Benchmark:
    """A registered sub-benchmark."""

    name: str
    title: str
    run: Callable[[BenchOptions], BenchResult]
    description: str = ""


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render a markdown table; numbers right-aligned, everything else left-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = (
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        )
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else "-" * (w + 2)
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _with_unit(value: float, unit: str) -> str:
    """``2.84x``, ``1,304,351 frames/s``, ``30.00 ms``: ratios hug their x, units get a space."""
    number = _cell(float(value))
    if not unit:
        return number
    return f"{number}{unit}" if unit == "x" else f"{number} {unit}"


def machine_info() -> dict[str, Any]:
    """Describe the machine a run was measured on (figures mean little without it)."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for package in ("trio", "twisted", "msgpack", "PySide6"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:
            info[package] = None
    return info


def cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe_machine(info: dict[str, Any]) -> str:
    """One markdown line saying what the figures were measured on."""
    versions = ", ".join(f"{k} {info[k]}" for k in ("trio", "twisted") if info.get(k))
    load = info.get("load_average")
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"{info['os']}; {info['python']}; {versions}; "
        f"load average at start {load}; {info['utc']}."
    )


def load(name: str) -> Benchmark:
    """Import and return the registered benchmark ``name``.

    Raises:
        KeyError: no such benchmark.
        ImportError: its module (or a dependency it needs) cannot be imported.
    """
    module_name, _, attribute = REGISTRY[name].partition(":")
    benchmark = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(benchmark, Benchmark):
        raise TypeError(f"{REGISTRY[name]} is not a tools.bench.suite.Benchmark")
    return benchmark


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description="Run framewire's benchmarks; print a markdown report.",
    )
    parser.add_argument("--quick", action="store_true", help="about 1/10 of the work")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(REGISTRY)}",
    )
    parser.add_argument("--runs", type=int, help="repetitions per measurement (median kept)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write results as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)} (known: {', '.join(REGISTRY)})")
    args.only = names or list(REGISTRY)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def run_alone(benchmark: Benchmark, argv: Sequence[str] | None = None) -> int:
    """``python -m tools.bench.NAME [--quick] [--runs N]``: the same as ``python -m
    tools.bench --only NAME``."""
    return main(["--only", benchmark.name, *(sys.argv[1:] if argv is None else argv)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks; return 1 if one of them failed to run, else 0."""
    args = _parse_args(argv)
    if args.list:
        for name in REGISTRY:
            print(f"{name}: {load(name).title}")
        return 0
    completed: dict[str, BenchResult] = {}
    options = BenchOptions(quick=args.quick, runs=args.runs, completed=completed)
    machine = machine_info()
    print(f"# framewire benchmarks{' (quick)' if args.quick else ''}\n")
    print(describe_machine(machine) + "\n", flush=True)
    report: dict[str, Any] = {
        "machine": machine,
        "options": {"quick": options.quick, "runs": options.runs},
        "benchmarks": {},
    }
    targets: list[tuple[str, Target]] = []
    failed = False
    for name in args.only:
        started = time.perf_counter()
        try:
            benchmark = load(name)
            print(f"## {benchmark.title}\n", flush=True)
            result = benchmark.run(options)
        except Exception as exc:
            failed = True
            print(f"**{name} failed:** {type(exc).__name__}: {exc}\n", flush=True)
            report["benchmarks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        seconds = time.perf_counter() - started
        completed[name] = result
        print(result.markdown.rstrip() + "\n", flush=True)
        targets += [(name, t) for t in result.targets]
        report["benchmarks"][name] = {
            "title": benchmark.title,
            "seconds": round(seconds, 2),
            "data": result.data,
            "targets": [dict(dataclasses.asdict(t), met=t.met) for t in result.targets],
        }
    if targets:
        print("## Targets\n")
        rows = [
            [
                name,
                t.name,
                _with_unit(t.measured, t.unit),
                f"{'>=' if t.higher_is_better else '<='} {_with_unit(t.goal, t.unit)}",
                "met" if t.met else "**MISSED**",
            ]
            for name, t in targets
        ]
        print(markdown_table(["benchmark", "target", "measured", "goal", ""], rows) + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"(results written to {args.json})")
    return 1 if failed else 0
