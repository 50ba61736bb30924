"""The sessions panel: what the empty table tells a new user."""

from PySide6.QtGui import QColor

from ipc import schema
from ui.session_model import SessionModel
from ui.widgets.session_panel import EMPTY_HINT, SessionPanel


def ink_in_the_middle(panel: SessionPanel) -> int:
    """Pixels of the middle band of the table's viewport that are not its background
    (where the hint is drawn, below the first rows)."""
    viewport = panel.table.viewport()
    image = viewport.grab().toImage()
    base = viewport.palette().color(viewport.backgroundRole()).rgb()
    top, bottom = image.height() * 2 // 5, image.height() * 3 // 5
    return sum(
        1
        for y in range(top, bottom)
        for x in range(0, image.width(), 2)
        if QColor(image.pixel(x, y)).rgb() != base
    )


def test_the_empty_table_says_how_to_start(qtbot):
    model = SessionModel()
    panel = SessionPanel(model)
    qtbot.addWidget(panel)
    panel.resize(900, 240)
    panel.show()
    qtbot.waitExposed(panel)
    assert "Do it!" in EMPTY_HINT and panel.table.placeholder == EMPTY_HINT
    assert ink_in_the_middle(panel) > 0  # the hint is drawn
    model.apply_events(
        1, [schema.Connecting(session_id=1, host="127.0.0.1", port=9, framing={}, at=1.0)]
    )
    assert ink_in_the_middle(panel) == 0  # one row, at the top: the hint is gone
