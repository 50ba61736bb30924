"""What the window remembers between runs (issue 17, item 12) and the sessions and Compose
panes' room, a new session in view, Reconnect (item 14)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from ipc import schema
from ui import window_settings
from ui.log_model import LogModel
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe

from .helpers import open_session


def idle_window(qtbot, settings: QSettings | None = None, **kwargs) -> MainWindow:
    """The window without an engine (closing it saves at once)."""
    win = MainWindow(
        EngineSupervisor(), log_model=LogModel(cap=1000), session_model=SessionModel(),
        probe=TickProbe(0.025), settings=settings, **kwargs,
    )  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    return win


def test_the_window_remembers_its_state_between_runs(qtbot, tmp_path):
    path = str(tmp_path / "framewire.conf")
    first = idle_window(qtbot, window_settings.open_settings(path))
    first.sessions.host.setText("10.1.2.3")
    first.sessions.port.setValue(7001)
    first.sessions.framing.setCurrentText("be16")
    first.compose.mode.setCurrentText("Hex")
    first.compose.set_history([b"\x00\x01", b"second"])
    first.compose.add_history(b"newest")
    first.resize(900, 610)
    qtbot.waitUntil(lambda: first.height() == 610, timeout=2000)
    first.splitter.setSizes([300, 100, 200])
    sizes = first.splitter.sizes()
    first.close()

    second = idle_window(qtbot, window_settings.open_settings(path))
    window_settings.restore(second, second.settings, server_given=False, framing_given=False)
    qtbot.waitUntil(lambda: second.height() == 610, timeout=2000)
    assert (second.sessions.host.text(), second.sessions.port.value()) == ("10.1.2.3", 7001)
    assert second.sessions.framing.currentText() == "be16"
    assert second.compose.mode.currentText() == "Hex"
    assert second.compose.history_payloads() == [b"newest", b"\x00\x01", b"second"]
    assert second.splitter.sizes() == sizes  # (the offscreen screen is too narrow for a width)

    # the command line wins over what was remembered
    third = idle_window(
        qtbot, window_settings.open_settings(path), server=("127.0.0.1", 9), framing="le32"
    )
    window_settings.restore(third, third.settings, server_given=True, framing_given=True)
    assert (third.sessions.host.text(), third.sessions.port.value()) == ("127.0.0.1", 9)
    assert third.sessions.framing.currentText() == "le32"


def test_settings_that_do_not_read_back_are_ignored(qtbot, tmp_path):
    path = tmp_path / "framewire.conf"
    path.write_text(
        "[General]\nversion=1\n[open]\nport=not a port\nframing=le99\n"
        "[window]\ngeometry=garbage\n[compose]\nhistory=zz, 6869\n"
    )
    win = idle_window(qtbot, window_settings.open_settings(str(path)))
    window_settings.restore(win, win.settings, server_given=False, framing_given=False)
    assert win.sessions.port.value() == 9000 and win.sessions.framing.currentText() == "le32"
    assert win.compose.history_payloads() == [b"hi"]


def test_three_history_entries_show_whole_and_a_new_session_is_in_view(qtbot):
    win = idle_window(qtbot)
    for payload in (b"one", b"two", b"three"):
        win.compose.add_history(payload)
    history = win.compose.history
    third = history.visualItemRect(history.item(2))
    assert history.viewport().rect().contains(third), (third, history.viewport().rect())

    events: list[schema.Event] = []
    for sid in range(1, 13):
        events.append(schema.Connecting(session_id=sid, host="127.0.0.1", port=9, framing={},
                                        label="", at=1.0))  # fmt: skip
    win.session_model.apply_events(1, events)
    table = win.sessions.table
    assert table.viewport().height() >= 4 * table.verticalHeader().defaultSectionSize()
    newest = win.session_model.session(1, 12)
    assert newest is not None
    win.sessions.select(newest)
    index = win.session_model.index(11, 0)
    qtbot.waitUntil(lambda: table.viewport().rect().contains(table.visualRect(index)), timeout=2000)


def test_reconnect_opens_the_same_server_with_the_same_framing(qtbot, window, demo_server):
    first = open_session(qtbot, window, *demo_server)
    assert not window.sessions.reconnect_button.isVisible()  # open: nothing to reconnect
    window.sessions.close_button.click()
    qtbot.waitUntil(lambda: first.state == "closed", timeout=5000)
    qtbot.waitUntil(window.sessions.reconnect_button.isVisible, timeout=2000)
    assert not window.sessions.close_button.isVisible()
    window.sessions.framing.setCurrentText("be32")  # the form's choice does not matter
    window.sessions.reconnect_button.click()

    def reconnected() -> bool:
        selected = window.sessions.selected()
        return selected is not None and selected is not first and selected.state == "connected"

    qtbot.waitUntil(reconnected, timeout=10_000)
    second = window.sessions.selected()
    assert second is not None
    assert (second.host, second.port, second.framing) == (first.host, first.port, "le32")


def test_a_window_with_nothing_remembered_fits_its_screen(qtbot, tmp_path):
    window = idle_window(qtbot, window_settings.open_settings(str(tmp_path / "new.conf")))
    free = window.screen().availableGeometry()
    assert free.width() < window.width()  # the offscreen screen is 800 px wide
    window_settings.restore(window, window.settings, server_given=False, framing_given=False)
    # As narrow as the screen lets it be: the window's own minimum width (the open form's
    # row, made to fit 1024 px) is the floor.
    narrowest = max(free.width(), window.minimumSizeHint().width())
    qtbot.waitUntil(lambda: window.width() == narrowest, timeout=2000)
    assert narrowest <= 1024 and window.height() <= free.height()
