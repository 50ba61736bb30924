"""The receive benchmark's contenders on tiny workloads: each receives every frame (they
measure nothing here; speed lives in ``make bench``)."""

from __future__ import annotations

import pytest

from tools.bench import receive


@pytest.mark.parametrize("contender", receive.CONTENDERS)
def test_receive_contender_gets_every_small_frame(contender):
    # measure_once raises unless the contender counted every frame and byte.
    wall, cpu = receive.measure_once(contender, count=3000, size=100)
    assert wall > 0
    assert cpu > 0


@pytest.mark.parametrize("contender", ["framewire", "blocking"])
def test_receive_contender_gets_every_large_frame(contender):
    # 600 KiB: more than half the blocking loop's buffer, so its large-frame path runs.
    wall, cpu = receive.measure_once(contender, count=5, size=600 * 1024)
    assert wall > 0
    assert cpu > 0
