"""The log panel's wiring: filter controls, follow tail, detail pane, save (text, JSON lines)."""

import json

from PySide6.QtCore import Qt

from ui.log_export import LogExporter, export_format
from ui.log_model import LogModel, SessionContext
from ui.log_store import Direction
from ui.log_text import format_datetime
from ui.widgets.log_view import LogPanel


def make_panel(qtbot, cap=10_000):
    model = LogModel(cap=cap)
    panel = LogPanel(model)
    qtbot.addWidget(panel)
    panel.resize(800, 300)
    panel.show()
    return model, panel


def fill(model):
    model.append("#1", Direction.IN, 1.0, [f"alpha {i}".encode() for i in range(50)])
    model.append("#2", Direction.OUT, 2.0, [b"beta", b"\x00\xff"])
    model.append_note("#2", Direction.ERROR, 3.0, "frame_too_large: 9 > 8")
    model.flush()


def test_filter_controls_narrow_the_rows(qtbot):
    model, panel = make_panel(qtbot)
    fill(model)
    assert [panel.session_filter.itemText(i) for i in range(3)] == ["all", "#1", "#2"]
    panel.session_filter.setCurrentText("#2")
    qtbot.waitUntil(lambda: not model.scanning and model.rowCount() == 3, timeout=2000)
    panel.direction_filter.setCurrentText("error")
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=2000)
    panel.session_filter.setCurrentText("all")
    panel.direction_filter.setCurrentText("all")
    panel.text_filter.setText("alpha 4")  # debounced
    qtbot.waitUntil(lambda: model.rowCount() == 11, timeout=2000)  # "alpha 4", "alpha 40".."49"
    assert "11 rows shown" in panel.counts.text()


def test_follow_tail_detail_pane_and_dropped_count(qtbot):
    model, panel = make_panel(qtbot, cap=100)
    fill(model)
    bar = panel.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() and bar.maximum() > 0, timeout=2000)
    panel.table.selectRow(50)
    assert not panel.follow.isChecked()  # looking at a row pauses the tail
    assert (
        "beta" in panel.detail.toPlainText()
        and "00000000  62 65 74 61" in panel.detail.toPlainText()
    )
    panel.table.selectRow(51)
    assert "00000000  00 ff" in panel.detail.toPlainText()
    model.append("#1", Direction.IN, 4.0, [b"x"] * 200)
    model.flush()
    assert "153 oldest dropped" in panel.counts.text()
    assert model.rowCount() == 100
    assert "not following" in panel.counts.text()
    panel.follow.setChecked(True)
    assert bar.value() == bar.maximum()
    panel.clear_button.click()
    assert model.rowCount() == 0 and panel.detail.toPlainText() == ""


def test_dropping_a_selected_row_does_not_pause_following(qtbot):
    model, panel = make_panel(qtbot, cap=100)
    fill(model)
    panel.table.selectRow(0)
    shown = panel.detail.toPlainText()
    panel.follow.setChecked(True)  # the user resumes following, the old row stays selected
    model.append("#1", Direction.IN, 4.0, [b"y"] * 60)
    model.flush()  # the cap drops the selected row; Qt selects another one by itself
    assert model.store.dropped > 0
    assert panel.follow.isChecked()
    # the pane does not go on showing a row the log dropped (issue 17, item 15)
    assert "alpha 0" in shown
    assert panel.detail.toPlainText() == (
        "(row 1 is no longer in the log: the cap of 100 rows dropped it)"
    )
    assert "not following" not in panel.counts.text()


def test_clearing_the_filter_while_following_shows_the_newest_rows(qtbot):
    """Issue 17, item 15: it jumped to the oldest rows."""
    model, panel = make_panel(qtbot, cap=100_000)
    model.append("#1", Direction.IN, 1.0, [b"row %d" % i for i in range(5000)])
    model.flush()
    panel.text_filter.setText("row 4")
    qtbot.waitUntil(lambda: not model.scanning and model.rowCount() == 1111, timeout=3000)
    assert panel.follow.isChecked()
    panel.text_filter.clear()
    qtbot.waitUntil(lambda: model.rowCount() == 5000, timeout=3000)
    bar = panel.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=2000)


def test_save_text_and_json_lines(qtbot, tmp_path):
    model, _panel = make_panel(qtbot)
    fill(model)
    model.set_context("#1", SessionContext(peer="127.0.0.1:9000", framing="be32"))
    for name in ("log.txt", "log.jsonl"):
        path = tmp_path / name
        exporter = LogExporter(model, str(path))
        with qtbot.waitSignal(exporter.finished, timeout=5000) as blocker:
            exporter.start()
        assert blocker.args == [53, str(path)]
        lines = path.read_text().splitlines()
        assert len(lines) == 53
    # JSON lines are the recording format (docs/recording.md), with each session's context.
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert records[0]["text"] == "alpha 0" and records[0]["session"] == 1
    assert records[0]["peer"] == "127.0.0.1:9000" and records[0]["framing"] == "be32"
    assert records[51] == {
        "v": 1,
        "t": 2.0,
        "session": 2,
        "dir": "out",
        "len": 2,
        "hex": "00ff",
    }
    assert records[52] == {
        "v": 1, "t": 3.0, "session": 2, "event": "error", "detail": "frame_too_large: 9 > 8"
    }  # fmt: skip
    assert (tmp_path / "log.txt").read_text().splitlines()[50].endswith("\t#2\tout\t4\tbeta")
    assert export_format("x.JSONL") == "jsonl" and export_format("x.log") == "text"
    assert export_format("x.pcapng") == "pcapng"


def test_save_as_pcapng_writes_the_frames_as_tcp_segments(qtbot, tmp_path):
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    model, _panel = make_panel(qtbot)
    fill(model)
    model.set_context("#2", SessionContext(peer="127.0.0.1:9000", framing="be16"))
    path = tmp_path / "log.pcapng"
    exporter = LogExporter(model, str(path))
    with qtbot.waitSignal(exporter.finished, timeout=5000):
        exporter.start()
    data = [bytes(p[TCP].payload) for p in rdpcap(str(path)) if len(p[TCP].payload)]
    assert data[-2:] == [b"\x00\x04beta", b"\x00\x02\x00\xff"]  # #2's frames, be16
    assert len(data) == 52


def test_save_to_an_unwritable_path_reports_failure(qtbot, tmp_path):
    model, _panel = make_panel(qtbot)
    fill(model)
    exporter = LogExporter(model, str(tmp_path / "missing" / "log.txt"))
    with qtbot.waitSignal(exporter.failed, timeout=2000) as blocker:
        exporter.start()
    assert "cannot save" in blocker.args[0]
    assert model.data(model.index(0, 4), Qt.ItemDataRole.DisplayRole) == "alpha 0"


def test_a_long_note_wraps_in_the_detail_pane_and_is_called_a_note(qtbot):
    model, panel = make_panel(qtbot)
    note = (
        "connect failed (refused): connection to 127.0.0.1:9 refused (is the server "
        "running, and on this port?) " * 3
    )
    model.append_note("#1", Direction.ERROR, 5.0, note)
    model.flush()
    panel.table.selectRow(0)
    text = panel.detail.toPlainText()
    head = text.splitlines()[0]
    assert head.endswith("session #1  error note") and "bytes" not in head
    assert note in text
    # Readable without scrolling sideways: the note wraps to the pane's width.
    qtbot.waitUntil(lambda: panel.detail.horizontalScrollBar().maximum() == 0, timeout=2000)
    tooltip = model.data(model.index(0, 4), Qt.ItemDataRole.ToolTipRole)
    assert tooltip == note  # the Data column cuts it; hovering shows all of it


def test_a_hex_dump_fits_the_detail_pane_without_scrolling(qtbot):
    model, panel = make_panel(qtbot)
    panel.resize(1200, 600)  # the field tree sits above the dump
    model.append("#1", Direction.IN, 1.0, [bytes(range(40))])
    model.flush()
    widths = set()
    for table_width in (400, 700, 900):
        panel.splitter.setSizes([table_width, 1200 - table_width])
        panel.table.clearSelection()
        panel.table.selectRow(0)
        assert "00000000  00 01 02 03" in panel.detail.toPlainText()
        # Each dump line fits: the pane shows fewer bytes a line rather than wrap or cut
        # the ASCII column.
        dump = panel.detail.toPlainText().split("hex:\n")[1].splitlines()
        widths.add(len(dump[0].split("  ")[1].split()))  # hex bytes on the first line
        block = panel.detail.document().findBlockByLineNumber(0)
        while block.isValid():
            if block.text() in dump:
                assert block.layout().lineCount() == 1, block.text()
            block = block.next()
    assert widths == {16, 8, 4}


def test_the_data_column_shows_mostly_text_as_text_and_hex_on_demand(qtbot):
    """Issue 17, item 13."""
    model, panel = make_panel(qtbot)
    model.append("#1", Direction.IN, 1.0, [b"status: ok\x00\x01"])
    model.flush()
    data = model.index(0, 4)
    assert model.data(data, Qt.ItemDataRole.DisplayRole) == "status: ok\\x00\\x01"
    panel.hex.setChecked(True)
    assert model.data(data, Qt.ItemDataRole.DisplayRole) == "73 74 61 74 75 73 3a 20 6f 6b 00 01"


def test_the_detail_pane_shows_mostly_text_escaped_and_a_full_date(qtbot):
    model, panel = make_panel(qtbot)
    model.append(
        "#1", Direction.IN, 1_764_000_000.5, [b"hello, client! you said: \xde\xad\xbe\xef"]
    )
    model.flush()
    panel.table.selectRow(0)
    text = panel.detail.toPlainText()
    assert text.startswith(format_datetime(1_764_000_000.5))
    assert "you said: \\xde\\xad\\xbe\\xef" in text and "00000000  68 65 6c" in text
