"""The window's keyboard shortcuts (docs/gui.md): each reaches its control, and a
disabled control's key does nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ui.log_store import Direction

from .helpers import payloads


def _press(window, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.focusWidget() or window, key, modifier)


def test_keys_focus_the_form_compose_and_the_filter_and_f5_does_it(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    ctrl = Qt.KeyboardModifier.ControlModifier
    for key, field in (
        (Qt.Key.Key_N, window.sessions.host),
        (Qt.Key.Key_L, window.compose.editor),
        (Qt.Key.Key_F, window.log_panel.text_filter),
    ):
        _press(window, key, ctrl)
        qtbot.waitUntil(field.hasFocus)
    window.sessions.host.setText("127.0.0.1")
    _press(window, Qt.Key.Key_N, ctrl)
    assert window.sessions.host.selectedText() == "127.0.0.1"  # typed over
    assert "(F5)" in window.do_it_button.toolTip()
    assert "(Ctrl+S)" in window.log_panel.save_button.toolTip()

    _press(window, Qt.Key.Key_F5)
    assert window.do_it.running  # a key's slot runs as the key is handled
    qtbot.waitUntil(lambda: "reply:" in window.do_it_result.text(), timeout=10_000)
    assert any(b"Do it!" in note for note in payloads(window, "#1", Direction.INFO))
    window.do_it_button.setEnabled(False)  # as while the engine is starting
    _press(window, Qt.Key.Key_F5)
    assert not window.do_it.running
