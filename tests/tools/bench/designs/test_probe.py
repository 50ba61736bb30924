"""The harness the in-process designs share, with a fake echo server on Qt timers."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QTimer

from tools.bench.designs.probe import ClassicWindow, Harness
from tools.bench.designs.scenario import (
    BLOCK_SECONDS,
    PLANS,
    DesignResult,
)


def test_deleting_a_classic_window_stops_its_animation_timer(qtbot) -> None:
    # A probe outliving its window ticked a deleted widget and broke later Qt tests.
    window = ClassicWindow("test")
    probe = window.probe
    shiboken6.delete(window)
    assert not shiboken6.isValid(probe)


def test_harness_blocks_in_the_handler_and_counts_the_flood(qtbot, tmp_path) -> None:
    """An in-process design's side of the harness, with a fake echo server on Qt timers."""
    window = ClassicWindow("test")
    qtbot.addWidget(window)
    out = tmp_path / "result.json"

    def send(payload: bytes) -> None:
        QTimer.singleShot(0, lambda: answer(payload))

    def answer(payload: bytes) -> None:
        if payload.startswith(b"!stream"):
            _, count, size = payload.split()
            for seq in range(int(count)):
                harness.on_frame(seq.to_bytes(8, "big") + b"x" * (int(size) - 8))
        else:
            harness.on_frame(payload)

    harness = Harness(
        design="fake",
        label="fake echo",
        plan_name="smoke",
        out=out,
        send=send,
        log=window.log,
        ticks=lambda: window.probe.ticks,
    )
    with qtbot.waitSignal(harness.finished, timeout=10_000):
        harness.start()

    result = DesignResult.read(out)
    assert [p.name for p in result.phases] == ["idle", "block", "flood"]
    # time.sleep(1) in the handler held the loop: one tick interval spans it.
    assert max(result.intervals_ms(result.phase("block"))) >= BLOCK_SECONDS * 1000
    assert result.flood is not None and result.flood.displayed == PLANS["smoke"].flood_frames
    assert window.log.document().blockCount() >= PLANS["smoke"].flood_frames
