"""The framing benchmark measures every contender on the same frames (a smoke check; the
figures come from ``make bench``)."""

from __future__ import annotations

from tools.bench.framing import COMMON, EXTENDED, measure


def test_every_contender_decodes_every_frame_once() -> None:
    results = measure(count=300, size=16, runs=2)
    assert [(r.decoder, r.framing) for r in results] == [
        *[(decoder, name) for name in COMMON for decoder in ("before", "now")],
        *[("now", name) for name in EXTENDED],
    ]
    assert all(r.frames == 300 and r.frames_per_second > 0 for r in results)
