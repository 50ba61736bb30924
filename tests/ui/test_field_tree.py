"""The decoded payload in the log: summaries in the Data column, the field tree linked both
ways with the hex dump, the field-expression filter, a decoder per session."""

import msgpack
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from decoders import decoder_for
from ui.log_model import COL_DATA, LogModel
from ui.log_store import Direction
from ui.widgets.log_view import LogPanel

PAYLOAD = msgpack.packb({"op": "login", "user": "ana", "seq": 7})
# 83 a2 6f 70 a5 6c 6f 67 69 6e a4 75 73 65 72 a3 61 6e 61 a3 73 65 71 07
#    [op    ]  [login         ]  [user        ]  [ana     ]  [seq     ] 7


def make_panel(qtbot):
    model = LogModel(cap=10_000)
    panel = LogPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    return model, panel


def highlighted(panel):
    """The text of each highlighted range in the dump."""
    return [s.cursor.selectedText() for s in panel.detail.extraSelections()]


def test_the_data_column_shows_each_payloads_one_line_summary(qtbot):
    model, _ = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [PAYLOAD, b"hello", b"\x00\x01"])
    model.flush()
    shown = [model.data(model.index(r, COL_DATA), Qt.ItemDataRole.DisplayRole) for r in range(3)]
    assert shown == ['{op: "login", user: "ana", seq: 7}', "hello", "<00 01>"]


def test_selecting_a_field_highlights_its_bytes_in_the_dump(qtbot):
    model, panel = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [PAYLOAD])
    model.flush()
    panel.table.selectRow(0)
    tree = panel.fields
    root = tree.fields.index(0, 0)
    assert tree.fields.data(root, Qt.ItemDataRole.DisplayRole) == "payload (msgpack)"
    user = tree.fields.index(1, 0, root)
    assert tree.fields.data(user, Qt.ItemDataRole.DisplayRole) == "user"
    tree.setCurrentIndex(user)
    # "ana" is bytes 15..18 (a3 61 6e 61), across the end of a 16-byte dump line: the hex
    # column and the ASCII column of each line
    assert highlighted(panel) == ["a3", ".", "61 6e 61", "ana"]
    tree.setCurrentIndex(tree.fields.index(2, 0, root))  # seq: one byte, 07
    assert highlighted(panel) == ["07", "."]


def test_clicking_a_byte_in_the_dump_selects_its_field(qtbot):
    model, panel = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [PAYLOAD])
    model.flush()
    panel.table.selectRow(0)
    dump_line = next(
        b for b in _blocks(panel.detail.document()) if b.text().startswith("00000000  83")
    )
    # click on the hex digits of byte 6 ("o" of "login")
    cursor = QTextCursor(dump_line)
    cursor.movePosition(QTextCursor.MoveOperation.Right, n=10 + 3 * 6)
    rect = panel.detail.cursorRect(cursor)
    qtbot.mouseClick(
        panel.detail.viewport(), Qt.MouseButton.LeftButton, pos=rect.center() + QPoint(2, 0)
    )
    assert panel.fields.selected_node().name == "op"  # the value "login" of key op
    assert " ".join(highlighted(panel)[0::2]) == "a5 6c 6f 67 69 6e"  # hex ranges, per line
    # the ASCII column works too: byte 12 is "s" of the key "user"
    width = panel._dump.width
    line = dump_line
    for _ in range(12 // width):
        line = line.next()
    cursor = QTextCursor(line)
    cursor.movePosition(QTextCursor.MoveOperation.Right, n=10 + 3 * width + 1 + 12 % width)
    panel.detail.setTextCursor(cursor)
    assert panel.fields.selected_node().name == "user"


def _blocks(document):
    block = document.begin()
    while block.isValid():
        yield block
        block = block.next()


def test_a_field_expression_filters_rows_and_a_bad_one_says_why(qtbot):
    model, panel = make_panel(qtbot)
    model.append(
        "#1", Direction.IN, 1.0, [msgpack.packb({"op": "login", "seq": i}) for i in range(300)]
    )
    model.append("#1", Direction.IN, 2.0, [b"not structured"])
    model.flush()
    panel.field_filter.setText("seq >= 290 and op == 'login'")
    qtbot.waitUntil(lambda: not model.scanning and model.rowCount() == 10, timeout=3000)
    panel.field_filter.setText("seq >>")
    assert "field expression: column 6 ('>'): expected a field" in panel.field_error.text()
    assert panel.field_error.isVisibleTo(panel)
    qtbot.waitUntil(lambda: not model.scanning and model.rowCount() == 301, timeout=3000)
    panel.field_filter.setText("")
    assert not panel.field_error.isVisibleTo(panel)


def test_a_sessions_decoder_changes_its_summaries_and_its_tree(qtbot):
    model, panel = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [b"[1, 2]"])
    model.append("#2", Direction.IN, 1.0, [b"[1, 2]"])
    model.flush()
    index = model.index(0, COL_DATA)
    assert model.data(index, Qt.ItemDataRole.DisplayRole) == "[1, 2]"
    model.decoding.set_decoder("#1", decoder_for("hex"))
    model.refresh_data()
    assert model.data(index, Qt.ItemDataRole.DisplayRole) == "<5b 31 2c 20 32 5d>"
    assert model.data(model.index(1, COL_DATA), Qt.ItemDataRole.DisplayRole) == "[1, 2]"
    panel.table.selectRow(0)
    assert panel.fields.fields.root.type == "bytes"


def test_the_root_field_s_name_is_shown_whole(qtbot):
    model, panel = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [PAYLOAD])
    model.flush()
    panel.table.selectRow(0)
    tree = panel.fields
    root = tree.fields.index(0, 0)
    name = tree.fields.data(root, Qt.ItemDataRole.DisplayRole)
    assert name == "payload (msgpack)"
    room = tree.visualRect(root).width()  # the cell, less the tree's indentation
    assert tree.fontMetrics().horizontalAdvance(name) + 8 <= room
