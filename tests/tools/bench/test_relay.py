"""The relay benchmark's contenders on tiny workloads: each passes every byte in order
(they measure nothing here; speed lives in ``make bench``)."""

from __future__ import annotations

import shutil

import pytest

from tools.bench import relay


# framewire's relay process runs in the integrity test below (one engine start is enough).
@pytest.mark.parametrize("kind", ["socat", "asyncio"])
def test_each_relay_passes_every_frame(kind: str) -> None:
    if kind == "socat":
        assert shutil.which("socat"), relay.SOCAT_MISSING
    # measure_throughput raises unless the sink got every byte, the last ones as sent.
    result = relay.measure_throughput(kind, 2000, 100)
    assert result["frames_per_s"] > 0 and result["rss_mib"] > 0


def test_the_integrity_run_compares_every_byte_both_ways() -> None:
    result = relay.measure_integrity(2000)
    assert result["megabytes"] == pytest.approx(2 * 2000 * 104 / 1e6)


def test_a_relay_that_reorders_is_caught() -> None:
    wire = relay.encode_sequence(3, 100)
    assert wire[4:12] == bytes(8) and wire[108:116] == (1).to_bytes(8, "little")
    swapped = wire[104:208] + wire[:104] + wire[208:]

    class Conn:
        def __init__(self) -> None:
            self.data = swapped

        def recv_into(self, view: memoryview, size: int) -> int:
            n = min(size, len(self.data))
            view[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    error = relay._receive_all(Conn(), wire, 64)  # type: ignore[arg-type]
    assert error is not None and "lost or reordered" in error
