"""The log benchmark's store measurement on a few rows: well-formed results, no timing."""

from __future__ import annotations

from tools.bench.log import measure_store


def test_the_store_measurement_reports_bytes_per_row() -> None:
    result = measure_store(20_000, 8192)
    assert (result["rows"], result["batch"]) == (20_000, 8192)
    assert isinstance(result["bytes_per_row"], float)
