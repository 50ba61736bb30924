"""The benchmark suite's harness on tiny fake benchmarks: registry, report, JSON, targets.

These measure nothing (speed lives in ``make bench``, never in unit tests).
"""

from __future__ import annotations

import json

import pytest

from tools.bench import suite
from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, markdown_table


def _tiny_run(options: BenchOptions) -> BenchResult:
    return BenchResult(
        markdown=markdown_table(["what", "value"], [["runs", options.runs_or(5, 3)]]),
        data={"quick": options.quick},
        targets=(
            Target(name="fast enough", measured=3.0, goal=2.5),
            Target(name="small enough", measured=3.0, goal=2.5, higher_is_better=False),
        ),
    )


TINY = Benchmark(name="tiny", title="A tiny benchmark", run=_tiny_run)


def _broken_run(options: BenchOptions) -> BenchResult:
    raise RuntimeError("sender did not start")


BROKEN = Benchmark(name="broken", title="A broken benchmark", run=_broken_run)


def _summary_run(options: BenchOptions) -> BenchResult:
    return BenchResult(markdown="summary", data={n: r.data for n, r in options.completed.items()})


SUMMARY = Benchmark(name="summary", title="Reuses what ran before it", run=_summary_run)


def test_markdown_table_aligns_numbers_right_and_text_left():
    table = markdown_table(["name", "n"], [["a", 1234567], ["bb", 2.5]])
    assert table.splitlines() == [
        "| name |         n |",
        "|------|----------:|",
        "| a    | 1,234,567 |",
        "| bb   |      2.50 |",
    ]


def test_bench_runs_registered_benchmarks_and_writes_json(tmp_path, monkeypatch, capsys):
    registry = {
        "tiny": f"{__name__}:TINY",
        "broken": f"{__name__}:BROKEN",
        "summary": f"{__name__}:SUMMARY",
    }
    monkeypatch.setattr(suite, "REGISTRY", registry)
    out = tmp_path / "bench.json"
    assert suite.main(["--quick", "--json", str(out)]) == 1  # one benchmark failed
    printed = capsys.readouterr().out
    assert "## A tiny benchmark" in printed
    assert "**broken failed:** RuntimeError: sender did not start" in printed
    assert "| tiny      | small enough | 3.00x    | <= 2.50x | **MISSED** |" in printed
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1
    assert report["benchmarks"]["tiny"]["data"] == {"quick": True}
    assert [t["met"] for t in report["benchmarks"]["tiny"]["targets"]] == [True, False]
    assert "error" in report["benchmarks"]["broken"]
    # A later benchmark sees the results of those that completed before it.
    assert report["benchmarks"]["summary"]["data"] == {"tiny": {"quick": True}}


def test_bench_refuses_an_unknown_benchmark_name(capsys):
    with pytest.raises(SystemExit) as info:
        suite.main(["--only", "receive,nope"])
    assert info.value.code == 2
    assert "unknown benchmark(s) nope" in capsys.readouterr().err


def test_every_registered_benchmark_loads():
    for name in suite.REGISTRY:
        assert suite.load(name).name == name
