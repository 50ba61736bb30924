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


def test_json_is_checked_as_typed_and_sent_as_json_msgpack_or_cbor(qtbot):
    import cbor2
    import msgpack

    compose = ComposePanel()
    qtbot.addWidget(compose)
    compose.set_target("#1")
    compose.mode.setCurrentText("JSON")
    assert compose.encoding.isVisibleTo(compose)
    compose.editor.setText('{"op": "login", "seq": }')
    assert not compose.send_button.isEnabled()
    assert "not JSON: Expecting value at line 1 column 24" in compose.error.text()
    compose.editor.setText('{"op": "login", "blob": {"$hex": "00ff"}}')
    assert compose.send_button.isEnabled()
    sent = []
    compose.send_requested.connect(sent.append)
    for encoding in ("as JSON", "as MessagePack", "as CBOR"):
        compose.encoding.setCurrentText(encoding)
        compose.send_button.click()
    assert sent[0] == b'{"op": "login", "blob": {"$hex": "00ff"}}'
    assert msgpack.unpackb(sent[1]) == {"op": "login", "blob": b"\x00\xff"}
    assert cbor2.loads(sent[2]) == {"op": "login", "blob": b"\x00\xff"}
