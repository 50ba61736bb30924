"""tools/bench/memory.py: the peak RSS starts afresh, so a later benchmark's growth is its own."""

import pytest

from tools.bench.memory import reset_peak, status_kib


def test_reset_peak_forgets_an_earlier_peak() -> None:
    block = b"x" * (64 * 1024 * 1024)  # written: resident
    del block
    assert status_kib("VmHWM") - status_kib("VmRSS") > 32 * 1024  # the old peak stays
    now = reset_peak()
    assert status_kib("VmHWM") - now < 8 * 1024  # the peak is now about the RSS


def test_an_unknown_field_is_an_error() -> None:
    with pytest.raises(LookupError, match="VmNothing"):
        status_kib("VmNothing")
