"""The TLS receive benchmark's contenders on tiny workloads: each verifies the sender and
receives every frame (they measure nothing here; speed lives in ``make bench``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench import tls


@pytest.mark.parametrize(
    ("contender", "size"),
    [
        # 600 KiB: the engine's exact-size reads, the blocking loop's large-frame path.
        ("framewire", 600 * 1024),
        ("blocking", 600 * 1024),
        ("framewire-engine", 100),
    ],
)
def test_tls_contender_gets_every_frame(contender: str, size: int, tmp_path: Path) -> None:
    count = 3000 if size == 100 else 5
    frames, received, wall, cpu = tls.measure_once(
        contender, count=count, size=size, certs=tls.make_certs(tmp_path)
    )
    assert (frames, received) == (count, count * size)
    assert wall > 0 and cpu > 0
