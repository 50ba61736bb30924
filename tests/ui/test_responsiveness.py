"""The animation stays smooth while the engine hangs or floods the window (issue 4), and
while the log is saved (issue 17).

The ticks are measured with ``QuietTickProbe``: each interval without the time the GUI
thread waited for a CPU, so a neighbour's load cannot make a smooth window look late,
while work or a blocking call on the GUI thread still shows in full. The figures under a
flood, side by side with other designs, are ``make bench``'s (tools/bench/gui.py).
"""

import os
import signal
import struct

import pytest
from PySide6.QtCore import QTimer

from ui.log_export import LogExporter
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.log_text import format_datetime
from ui.supervisor import EngineState
from ui.tick_probe import TickProbe, percentile
from ui.widgets.pulse import PulseWidget

from .helpers import open_session, payloads, send_text
from .quiet_ticks import QuietTickProbe

#: Heavy (a flood, a quarter of a million rows) and about time: run alone (tests/README.md).
pytestmark = pytest.mark.serial

#: The animation ticks every 25 ms. A p99 interval over 60 ms (ticks missed in a row,
#: with the CPU waits already taken off) is a stall the window caused. The bound is
#: generous: one odd wakeup on a busy machine must not fail the suite, and the stalls it
#: guards against (a flood or a save done in one turn) last far longer. The target (p99
#: at or under 30 ms on a quiet machine) is `make bench`'s (tools/bench/gui.py, log.py).
P99_LIMIT_S = 0.060
#: Long enough (about 1 s) that the p99 covers dozens of tick intervals, not a handful.
FLOOD_FRAMES = 500_000
FLOOD_FRAME_SIZE = 100
SAVED_ROWS = 250_000


@pytest.fixture
def probe() -> TickProbe:
    """The ``window`` fixture's probe (tests/ui/conftest.py): intervals as if unloaded."""
    return QuietTickProbe(0.025)


def test_stopped_engine_shows_not_responding_and_recovers(qtbot, window, demo_server):
    supervisor = window.supervisor
    info = open_session(qtbot, window, *demo_server)
    probe = window.pulse.probe
    mark = probe.mark()
    pid = supervisor.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        with qtbot.waitSignal(supervisor.engine_unresponsive, timeout=6000):
            pass
        assert supervisor.status.state is EngineState.NOT_RESPONDING
        assert "not responding" in window.status_label.text()
        assert window.banner.isVisible() and window.banner.wait_button.isVisible()
        # "Wait" hides the banner; the status stays visible.
        window.banner.wait_button.click()
        assert not window.banner.isVisible()
        # the stop lasts 2 s; meanwhile the window keeps working (compose, log, timers)
        qtbot.waitUntil(lambda: supervisor.status.silent_for >= 2.0, timeout=5000)
        send_text(window, "queued while stopped")
    finally:
        os.kill(pid, signal.SIGCONT)
    with qtbot.waitSignal(supervisor.engine_responsive, timeout=5000):
        pass
    intervals = probe.intervals_since(mark)
    # the stop alone lasts 2 s (80 ticks when quiet); with fewer than 100 the p99 is the max
    assert len(intervals) > 20
    assert percentile(intervals, 99) <= P99_LIMIT_S, sorted(intervals)[-5:]
    assert supervisor.status.state is EngineState.READY and supervisor.pid == pid
    qtbot.waitUntil(lambda: info.frames_in == 1, timeout=5000)
    assert not window.banner.isVisible()


def test_flood_lands_in_order_and_animation_stays_smooth(qtbot, window, demo_server):
    info = open_session(qtbot, window, *demo_server)
    probe = window.pulse.probe
    mark = probe.mark()
    send_text(window, f"!stream {FLOOD_FRAMES} {FLOOD_FRAME_SIZE}")
    qtbot.waitUntil(lambda: info.frames_in >= FLOOD_FRAMES, timeout=30_000)
    intervals = probe.intervals_since(mark)
    # keep ticking a little after the flood so the last slice is measured too
    with qtbot.waitSignal(window.log_model.rowsInserted, timeout=2000, raising=False):
        QTimer.singleShot(0, window.log_model.flush)
    frames = payloads(window, info.name, Direction.IN)
    assert len(frames) == FLOOD_FRAMES
    assert all(len(f) == FLOOD_FRAME_SIZE for f in frames)
    sequence = [struct.unpack_from(">Q", f)[0] for f in frames]
    assert sequence == list(range(FLOOD_FRAMES))
    assert window.log_model.rowCount() == len(window.log_model.store)
    assert percentile(intervals, 99) <= P99_LIMIT_S, sorted(intervals)[-5:]


def test_saving_the_log_keeps_the_animation_smooth(qtbot, tmp_path):
    """Issue 17, item 1: saving the log as text leaves the animation on time (a million
    rows made it 156 ms late). No engine needed: the rows go into the model directly,
    and the circle ticks on the same GUI thread as the save. A quarter of a million rows
    keeps the suite quick: the save goes in slices, so how late a tick can be does not
    depend on the count (tools/bench/log.py saves the full million)."""
    model = LogModel(cap=SAVED_ROWS)
    payloads = [b"frame %07d " % i + b"x" * 20 for i in range(8192)]
    while len(model.store) < SAVED_ROWS:
        model.append("#1", Direction.IN, 1_764_000_000.0 + len(model.store) / 1e5, payloads)
    model.store.trim()
    model.flush()
    pulse = PulseWidget(QuietTickProbe(0.025))
    qtbot.addWidget(pulse)
    pulse.show()
    qtbot.waitUntil(lambda: len(pulse.probe.intervals_since(0)) > 0, timeout=2000)  # ticking
    path = tmp_path / "log.txt"
    exporter = LogExporter(model, str(path))
    mark = pulse.probe.mark()
    with qtbot.waitSignal(exporter.finished, timeout=60_000) as saved:
        exporter.start()
    intervals = pulse.probe.intervals_since(mark)
    assert saved.args == [SAVED_ROWS, str(path)]
    assert len(intervals) >= 10
    assert percentile(intervals, 99) <= P99_LIMIT_S, sorted(intervals)[-5:]
    with path.open() as f:
        first = f.readline()
        count = 1 + sum(1 for _ in f)
    assert count == SAVED_ROWS
    row = model.store.row(model.store.first_seq)
    assert first.rstrip("\n").split("\t") == [
        format_datetime(row.wall),
        "#1",
        "in",
        str(len(row.payload)),
        row.payload.decode(),
    ]
