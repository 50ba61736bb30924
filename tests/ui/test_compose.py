"""The compose box: Resend is only offered when it would send something."""

from ui.widgets.compose import ComposePanel


def test_resend_needs_a_target_and_a_selected_history_entry(qtbot):
    panel = ComposePanel()
    qtbot.addWidget(panel)
    panel.show()
    sent: list[bytes] = []
    panel.send_requested.connect(sent.append)
    panel.set_target("#1")
    assert panel.send_button.isEnabled()
    assert not panel.resend_button.isEnabled()  # empty history
    panel.editor.setText("first")
    panel.send_button.click()
    panel.editor.setText("second")
    panel.send_button.click()
    assert sent == [b"first", b"second"]
    assert panel.resend_button.isEnabled()  # the last frame sent is selected
    panel.resend_button.click()
    assert sent[-1] == b"second"
    panel.history.clearSelection()
    assert not panel.resend_button.isEnabled()  # nothing selected
    panel.history.setCurrentRow(1)
    assert panel.resend_button.isEnabled()
    panel.resend_button.click()
    assert sent[-1] == b"first"
    panel.set_target(None)
    assert not panel.resend_button.isEnabled()
