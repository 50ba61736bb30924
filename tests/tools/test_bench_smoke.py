"""The benchmark harness and the receive benchmark's contenders, on tiny workloads.

These check that every contender receives every frame and that the report is well
formed; they measure nothing (speed lives in ``make bench``, never in unit tests).
"""

from __future__ import annotations

import json

import pytest

from tools import bench, bench_receive
from tools.bench import Benchmark, BenchOptions, BenchResult, Target, markdown_table


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
    monkeypatch.setattr(bench, "REGISTRY", registry)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--json", str(out)]) == 1  # one benchmark failed
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
        bench.main(["--only", "receive,nope"])
    assert info.value.code == 2
    assert "unknown benchmark(s) nope" in capsys.readouterr().err


def test_every_registered_benchmark_loads():
    for name in bench.REGISTRY:
        assert bench.load(name).name == name


@pytest.mark.parametrize("contender", bench_receive.CONTENDERS)
def test_receive_contender_gets_every_small_frame(contender):
    # measure_once raises unless the contender counted every frame and byte.
    wall, cpu = bench_receive.measure_once(contender, count=3000, size=100)
    assert wall > 0
    assert cpu > 0


@pytest.mark.parametrize("contender", ["framewire", "blocking"])
def test_receive_contender_gets_every_large_frame(contender):
    # 600 KiB: more than half the blocking loop's buffer, so its large-frame path runs.
    wall, cpu = bench_receive.measure_once(contender, count=5, size=600 * 1024)
    assert wall > 0
    assert cpu > 0
