"""The idle-sessions benchmark on a few sessions: well-formed results, no timing."""

from __future__ import annotations

from tools.bench.sessions import format_table, measure


def test_idle_sessions_benchmark_measures_the_engine_process_and_asyncio() -> None:
    # Twisted is left out: it comes with the bench extra, which `make test` does not install.
    results = [measure(contender, 20, 1) for contender in ("framewire-process", "asyncio")]

    for result in results:
        assert result.sessions == 20
        assert result.setup_seconds > 0
        assert result.rss_total_mib > 0
    table = format_table(results)
    assert "| framewire-process | " in table and "| asyncio | " in table and "1.00x" in table
