"""The classic sample's circle animation, driven by a 25 ms timer, with a lateness readout.

The animation is the proof that the GUI thread never blocks: each tick is timed by a
``TickProbe``; a stalled event loop shows up as a long interval, both on screen (the
readout under the circle) and in the tick log file when one is configured.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.tick_probe import TickProbe

__all__ = ["TICK_INTERVAL_MS", "WIDEST_READOUT", "PulseWidget"]

TICK_INTERVAL_MS = 25
#: Seconds for one revolution of the circle.
_PERIOD_SECONDS = 2.0
#: Ticks summarised by the readout (about 2 s).
_READOUT_TICKS = 80
#: Circle plus readout: short, so that the window fits small screens.
_HEIGHT = 76
_READOUT_HEIGHT = 18
#: The widest readout the widget makes room for (in its current font).
WIDEST_READOUT = "late 9999 ms"


class PulseWidget(QWidget):
    """A circle orbiting the centre, advanced on every timer tick (never by wall time
    alone, so a missed tick is visible as a jump).

    ``ticked`` is emitted after each tick: the window's frame clock. View work done right
    after it (see ``MainWindow._on_frame``) has a whole interval before the next tick.
    """

    ticked = Signal()

    def __init__(self, probe: TickProbe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probe = probe
        self._phase = 0.0
        self._late_ms = 0.0
        self._fit_readout()
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "Animation ticks every 25 ms on the GUI thread.\n"
            "late: the worst tick delay over the last 2 s (a percentile of 80 ticks\n"
            "would only repeat it: the benchmarks report p99 over whole runs)."
        )
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_INTERVAL_MS)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    def _fit_readout(self) -> None:
        """Wide enough for the readout at its worst, when it matters most."""
        width = self.fontMetrics().horizontalAdvance(WIDEST_READOUT) + 8
        self.setFixedSize(max(width, _HEIGHT), _HEIGHT)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fit_readout()
        super().changeEvent(event)

    def _on_tick(self) -> None:
        interval = self.probe.tick(time.monotonic())
        if interval is not None:
            self._phase = (self._phase + interval / _PERIOD_SECONDS) % 1.0
        self._late_ms = self.probe.lateness(_READOUT_TICKS) * 1000
        self.update()
        self.ticked.emit()

    def stop(self) -> None:
        self._timer.stop()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height() - _READOUT_HEIGHT
        dot = max(4.0, min(w, h) / 10)
        cx, cy, r = w / 2, h / 2, min(w, h) / 2 - dot - 2
        painter.setPen(QColor("#cfd8dc"))
        painter.drawEllipse(QPointF(cx, cy), r, r)
        angle = 2 * math.pi * self._phase
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        late = self._late_ms > 2 * TICK_INTERVAL_MS
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#e53935" if late else "#43a047"))
        painter.drawEllipse(QPointF(x, y), dot, dot)
        painter.setPen(QColor("#b71c1c" if late else "#37474f"))
        painter.drawText(
            QRectF(0, h, w, _READOUT_HEIGHT),
            Qt.AlignmentFlag.AlignCenter,
            f"late {self._late_ms:.0f} ms",
        )
        painter.end()
