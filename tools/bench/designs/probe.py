"""The Qt half every comparison app shares: the classic window, its tick probe, the script.

``ClassicWindow`` is the classic sample's window: a circle moved by a 25 ms ``QTimer``
(``TickProbe`` records when each tick fired) above a ``QTextEdit`` that gets one
``append`` per received frame. ``Harness`` runs the ``scenario.Plan`` timeline on Qt
timers and writes the ``DesignResult``; a design only supplies ``send`` and calls
``on_frame`` from its network handler, so the apps differ in nothing but the way their
network code shares Qt's event loop.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QTextEdit, QVBoxLayout, QWidget

from tools.bench.designs.scenario import (
    BLOCK_REQUEST,
    BLOCK_SECONDS,
    FLOOD_FRAME_SIZE,
    PLANS,
    TICK_MS,
    DesignResult,
    FloodResult,
    Phase,
    Plan,
)

#: How often ``Until`` re-checks its condition.
POLL_MS = 20


def parse_args(description: str) -> argparse.Namespace:
    """The command line every comparison app takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--server", required=True, help="demo server as 127.0.0.1:PORT")
    parser.add_argument("--plan", choices=sorted(PLANS), default="quick")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON result")
    args = parser.parse_args()
    host, _, port = args.server.rpartition(":")
    if host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("--server must be a loopback address")
    args.host, args.port = host, int(port)
    return args


def precise_single_shot(parent: QObject, seconds: float, callback: Callable[[], None]) -> QTimer:
    """Call ``callback`` once, ``seconds`` from now, to the millisecond.

    ``QTimer.singleShot`` is coarse (it may fire 5% early or late): the designs' phases
    would not line up on the chart, nor would a 1 s SIGSTOP last 1 s.
    """
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(callback)
    timer.timeout.connect(timer.deleteLater)
    timer.start(round(seconds * 1000))
    return timer


class CircleWidget(QWidget):
    """A dot going round a circle: the classic sample's proof that the loop is alive."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(120, 120)
        self._angle = 0.0

    def advance(self) -> None:
        self._angle = (self._angle + 0.15) % (2 * math.pi)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        radius = min(self.width(), self.height()) / 2 - 12
        centre = QPointF(self.width() / 2, self.height() / 2)
        dot = centre + QPointF(radius * math.cos(self._angle), radius * math.sin(self._angle))
        painter.setBrush(QBrush(QColor("#2a7ab0")))
        painter.drawEllipse(dot, 10, 10)
        painter.end()


class TickProbe(QObject):
    """The 25 ms animation timer; keeps the monotonic time of every tick."""

    def __init__(self, circle: CircleWidget) -> None:
        # A child of the circle: deleting the window stops the timer with it, so a window
        # closed (by a test, say) never leaves a timer ticking a deleted widget.
        super().__init__(circle)
        self.ticks: list[float] = []
        self._circle = circle
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_timeout)
        self._timer.start()

    def _on_timeout(self) -> None:
        self.ticks.append(time.monotonic())
        self._circle.advance()


class ClassicWindow(QWidget):
    """Circle above a text log, as in the classic sample."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.circle = CircleWidget()
        self.log = QTextEdit()
        self.log.setReadOnly(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.circle)
        layout.addWidget(self.log)
        self.resize(480, 480)
        self.probe = TickProbe(self.circle)


@dataclass(frozen=True, slots=True)
class Sleep:
    """Script step: wait this long on a Qt timer."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Until:
    """Script step: poll ``done`` every ``POLL_MS`` until true or ``timeout`` seconds pass."""

    done: Callable[[], bool]
    timeout: float


Step = Sleep | Until


class Harness(QObject):
    """Runs the timeline for one design and writes its result.

    Subclasses (the framewire driver) override ``script`` and the triggers; the
    in-process designs only give ``send`` and call ``on_frame`` for each frame.
    """

    finished = Signal()

    def __init__(
        self,
        *,
        design: str,
        label: str,
        plan_name: str,
        out: Path,
        send: Callable[[bytes], None] | None = None,
        log: QTextEdit | None = None,
        ticks: Callable[[], list[float]],
    ) -> None:
        super().__init__()
        self.plan: Plan = PLANS[plan_name]
        self.result = DesignResult(design=design, label=label, plan=plan_name)
        self.result.flood = FloodResult(requested=self.plan.flood_frames)
        self._out = out
        self._send = send
        self._log = log
        self._ticks = ticks
        self._t0 = 0.0
        self._phase: tuple[str, float] | None = None
        self._steps: Iterator[Step] | None = None
        self._flooding = False
        self._next_seq = 0
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll)
        self._until: tuple[Until, float] | None = None

    # -- the clock and the phases -------------------------------------------------

    def now(self) -> float:
        """Seconds since t0."""
        return time.monotonic() - self._t0

    def mark(self, name: str) -> None:
        self.result.marks[name] = self.now()

    def begin_phase(self, name: str) -> None:
        self.end_phase()
        self._phase = (name, self.now())

    def end_phase(self) -> None:
        if self._phase is not None:
            name, start = self._phase
            self.result.phases.append(Phase(name=name, start=start, end=self.now()))
            self._phase = None

    # -- the script ---------------------------------------------------------------

    def start(self) -> None:
        """Call once the connection is up: t0 is now."""
        self._t0 = time.monotonic()
        self._steps = self.script()
        self._advance()

    def script(self) -> Iterator[Step]:
        plan = self.plan
        self.begin_phase("idle")
        yield Sleep(plan.idle_seconds)
        self.begin_phase("block")
        self.trigger_block()
        yield Sleep(BLOCK_SECONDS + plan.settle_seconds)
        self.begin_phase("flood")
        self.trigger_flood()
        flood_start = self.now()
        flood = self.result.flood
        assert flood is not None
        yield Until(lambda: flood.completed, plan.flood_timeout_seconds)
        elapsed = self.now() - flood_start
        yield Sleep(max(plan.tail_seconds, plan.flood_min_seconds - elapsed))
        self.end_phase()

    def trigger_block(self) -> None:
        """In-process designs: the echo of this frame reaches a handler that sleeps 1 s."""
        self.mark("block_start")
        self._send_frame(BLOCK_REQUEST)

    def trigger_flood(self) -> None:
        self.mark("flood_start")
        self._flooding = True
        self._send_frame(b"!stream %d %d" % (self.plan.flood_frames, FLOOD_FRAME_SIZE))

    def _send_frame(self, payload: bytes) -> None:
        assert self._send is not None, "a design without send must override the triggers"
        self._send(payload)

    def _advance(self) -> None:
        assert self._steps is not None
        step = next(self._steps, None)
        if step is None:
            self._finish()
        elif isinstance(step, Sleep):
            precise_single_shot(self, step.seconds, self._advance)
        else:
            self._until = (step, self.now() + step.timeout)
            self._poll.start()

    def _on_poll(self) -> None:
        assert self._until is not None
        step, deadline = self._until
        timed_out = self.now() >= deadline
        if step.done() or timed_out:
            if timed_out:
                self.result.notes.append(f"gave up waiting after {step.timeout:g} s")
            self._poll.stop()
            self._until = None
            self._advance()

    def _finish(self) -> None:
        self.result.duration = self.now()
        self.result.ticks = [t - self._t0 for t in self._ticks() if t >= self._t0]
        self.result.write(self._out)
        self.finished.emit()

    # -- the network handler's side -----------------------------------------------

    def on_frame(self, payload: bytes) -> None:
        """What the classic sample's handler does with a frame: one log line in the QTextEdit."""
        stamp = f"{datetime.now():%H:%M:%S.%f}"
        if self._flooding:
            seq = int.from_bytes(payload[:8], "big")
            self._count_flood(seq, 1)
            self._append(f"{stamp} #{seq} {len(payload)} bytes")
        elif payload == BLOCK_REQUEST:
            self.mark("block_handler")
            self._append(f"{stamp} {payload!r}: handling it takes {BLOCK_SECONDS:g} s")
            time.sleep(BLOCK_SECONDS)  # the slow callback that freezes an in-process design
        else:
            self._append(f"{stamp} {payload!r}")

    def _append(self, line: str) -> None:
        assert self._log is not None
        self._log.append(line)

    def _count_flood(self, first_seq: int, count: int) -> None:
        """Account ``count`` consecutive flood frames starting at ``first_seq`` as displayed."""
        flood = self.result.flood
        assert flood is not None
        if first_seq > self._next_seq:
            flood.lost += first_seq - self._next_seq
        elif first_seq < self._next_seq:
            flood.out_of_order += 1
        self._next_seq = max(self._next_seq, first_seq + count)
        now = self.now()
        if flood.first_at is None:
            flood.first_at = now
        flood.last_at = now
        flood.displayed += count
