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


def test_each_mode_keeps_its_address_and_says_when_it_is_reachable(qtbot):
    panel = SessionPanel(SessionModel())
    qtbot.addWidget(panel)
    panel.show()
    panel.host.setText("server.example.com")
    panel.port.setValue(9000)
    panel.mode.setCurrentText("Relay")  # relay to the server just typed, listen on loopback
    assert (panel.upstream_host.text(), panel.upstream_port.value()) == ("server.example.com", 9000)
    assert (panel.host.text(), panel.port.value(), panel.open_button.text()) == (
        "127.0.0.1",
        0,
        "Relay",
    )
    assert panel.reachable.text() == ""
    panel.host.setText("0.0.0.0")  # the form says it before anything listens
    assert panel.reachable.text() == "0.0.0.0 is reachable from the network"
    command = panel.serve_command()
    assert isinstance(command, schema.Relay)
    assert (command.host, command.port, command.upstream_host) == (
        "0.0.0.0",
        0,
        "server.example.com",
    )
    panel.idle_timeout.setValue(0)  # "never"
    assert panel.serve_command().idle_timeout == 0.0
    panel.mode.setCurrentText("Connect")
    assert (panel.host.text(), panel.port.value()) == ("server.example.com", 9000)
    assert not panel.reachable.isVisible() and panel.port.minimum() == 1
    panel.mode.setCurrentText("Listen")
    assert panel.echo.isVisible() and not panel.upstream_host.isVisible()
    assert isinstance(panel.serve_command(), schema.Listen)


def test_the_last_mode_s_note_goes_when_the_mode_changes(qtbot):
    panel = SessionPanel(SessionModel())
    qtbot.addWidget(panel)
    panel.show()
    panel.mode.setCurrentText("Relay")
    panel.show_note("listening on 127.0.0.1:41615")
    assert panel.error.isVisible()
    panel.mode.setCurrentText("Connect")
    assert not panel.error.isVisible() and panel.error.text() == ""
