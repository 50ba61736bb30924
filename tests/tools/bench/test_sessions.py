"""The idle-sessions benchmark on a few sessions: well-formed results, no timing."""

from __future__ import annotations

from tools.bench.sessions import SessionsResult, format_table, measure, targets


def test_idle_sessions_benchmark_measures_the_engine_process_and_asyncio() -> None:
    # Twisted is left out: it comes with the bench extra, which `make test` does not install.
    results = [measure(contender, 20, 1) for contender in ("framewire-process", "asyncio")]

    for result in results:
        assert result.sessions == 20
        assert result.setup_seconds > 0
        assert result.setup_cpu_seconds >= 0  # in clock ticks: 20 sessions may take none
        assert result.rss_total_mib > 0
    table = format_table(results)
    assert "| framewire-process | " in table and "| asyncio | " in table and "1.00x" in table
    assert targets(results) == ()  # neither framewire in-process nor Twisted ran


def _result(contender: str, seconds: float, kib: float) -> SessionsResult:
    return SessionsResult(
        contender=contender,
        sessions=10_000,
        setup_seconds=seconds,
        setup_cpu_seconds=seconds,
        rss_per_session_kib=kib,
        rss_total_mib=60.0,
        runs=1,
    )


def test_the_targets_are_framewire_over_twisted_lower_is_better() -> None:
    setup, memory = targets([_result("framewire", 1.5, 1.2), _result("twisted", 0.75, 2.4)])

    assert (setup.measured, setup.met) == (2.0, False)
    assert (memory.measured, memory.met) == (0.5, True)
