"""The log benchmark's store measurement on a few rows: well-formed results, no timing."""

from __future__ import annotations

from tools.bench.log import measure_store


def test_the_store_measurement_reports_bytes_per_row_for_both_batchings() -> None:
    result = measure_store(20_000)
    assert result["rows"] == 20_000
    assert set(result) == {"rows", "bytes_per_row_batch_1", "bytes_per_row_batch_8192"}
    assert all(isinstance(v, float) for k, v in result.items() if k != "rows")
