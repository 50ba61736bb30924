"""The animation widget makes room for its readout."""

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ui.tick_probe import TickProbe
from ui.widgets.pulse import WIDEST_READOUT, PulseWidget


def test_the_readout_fits_four_digit_values_in_the_current_font(qtbot):
    row = QWidget()  # laid out as in the window: a stretch takes the rest of the row
    qtbot.addWidget(row)
    layout = QHBoxLayout(row)
    layout.addStretch(1)
    pulse = PulseWidget(TickProbe(0.025))
    layout.addWidget(pulse)
    row.resize(1000, 100)
    row.show()

    def fits() -> bool:
        return pulse.width() >= pulse.fontMetrics().horizontalAdvance(WIDEST_READOUT)

    qtbot.waitUntil(fits, timeout=2000)
    bigger = QFont(pulse.font())
    bigger.setPointSizeF(bigger.pointSizeF() * 1.5)
    pulse.setFont(bigger)
    qtbot.waitUntil(fits, timeout=2000)
    pulse.stop()
