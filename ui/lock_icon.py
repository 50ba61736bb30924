"""The lock a TLS session carries in the sessions table, drawn rather than typed: the
lock emoji (U+1F512) is missing from many desktops' fonts, where it shows as a box.

A closed lock for TLS (a verified server, or a listener's side); an open red one for a
client side that skipped verification (Insecure).
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

__all__ = ["lock_icon"]

#: Drawn at 32 px (a 16 px cell shows it halved: sharp on high-density screens too).
_SIZE = 32
_CLOSED_COLOR = "#2e7d32"
_OPEN_COLOR = "#b71c1c"


@functools.cache
def lock_icon(verified: bool) -> QIcon:
    """A closed lock (``verified``) or an open red one. Needs a ``QGuiApplication``."""
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    color = QColor(_CLOSED_COLOR if verified else _OPEN_COLOR)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 3.5)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    shackle = QPainterPath()
    shackle.moveTo(10, 16)
    if verified:  # both legs down into the body
        shackle.lineTo(10, 11)
        shackle.arcTo(QRectF(10, 5, 12, 12), 180, -180)
        shackle.lineTo(22, 16)
    else:  # lifted: the right leg out of the body
        shackle.lineTo(10, 8)
        shackle.arcTo(QRectF(10, 2, 12, 12), 180, -180)
        shackle.lineTo(22, 10)
    painter.drawPath(shackle)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(6, 15, 20, 14), 3, 3)
    painter.end()
    return QIcon(pixmap)
