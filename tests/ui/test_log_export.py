"""Saving the log (issue 17, items 1 and 15): progress with Cancel in the window, no
half-written file, rows the cap drops meanwhile counted, a text log with full dates."""

from __future__ import annotations

import time

import pytest

from ui.background_writer import BackgroundWriter
from ui.log_export import LogExporter
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.log_text import RowFormatter, format_datetime
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe


@pytest.fixture
def idle_window(qtbot):
    """The window without an engine (nothing here needs one)."""
    win = MainWindow(
        EngineSupervisor(), log_model=LogModel(cap=500_000), session_model=SessionModel(),
        probe=TickProbe(0.025),
    )  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    return win


def fill(model: LogModel, rows: int) -> None:
    payloads = [b"row %06d" % i for i in range(1000)]
    for _ in range(rows // 1000):
        model.append("#1", Direction.IN, 1_764_000_000.0, payloads)
    model.flush()


def test_a_save_shows_progress_and_cancel_leaves_no_file(qtbot, idle_window, tmp_path):
    fill(idle_window.log_model, 300_000)
    path = tmp_path / "log.txt"
    panel = idle_window.log_panel
    exporter = idle_window.save_log(str(path))
    assert exporter is not None
    assert panel.save_progress.isVisible() and panel.save_cancel.isVisible()
    assert not panel.save_button.isEnabled()  # one save at a time
    with qtbot.waitSignal(exporter.progressed, timeout=5000):
        pass
    assert 0 < panel.save_progress.value() < 300_000
    with qtbot.waitSignal(exporter.cancelled, timeout=2000):
        panel.save_cancel.click()
    assert not panel.save_progress.isVisible() and panel.save_button.isEnabled()
    assert panel.save_result.isVisible() and panel.save_result.text() == f"not saved: {path}"
    qtbot.waitUntil(lambda: not (tmp_path / "log.txt.part").exists(), timeout=5000)
    assert not path.exists()


def test_a_finished_save_replaces_the_file_and_says_so(qtbot, idle_window, tmp_path):
    fill(idle_window.log_model, 2000)
    path = tmp_path / "log.txt"
    path.write_text("an older file\n")
    exporter = idle_window.save_log(str(path))
    assert exporter is not None
    with qtbot.waitSignal(exporter.finished, timeout=5000):
        pass
    # Said in the log's footer, where the progress was (a status bar message would sit
    # under the engine status, which takes the bar's whole width, and never show).
    result = idle_window.log_panel.save_result
    assert result.isVisible() and result.text() == f"saved 2,000 rows to {path}"
    assert result.geometry().width() >= result.sizeHint().width()
    lines = path.read_text().splitlines()
    assert len(lines) == 2000
    assert lines[0] == f"{format_datetime(1_764_000_000.0)}\t#1\tin\t10\trow 000000"
    assert not idle_window.log_panel.save_progress.isVisible()


def test_rows_dropped_by_the_cap_during_a_save_are_skipped_and_counted(qtbot, tmp_path):
    model = LogModel(cap=200_000)
    fill(model, 200_000)
    exporter = LogExporter(model, str(tmp_path / "log.txt"))
    with qtbot.waitSignal(exporter.progressed, timeout=5000):
        exporter.start()
    fill(model, 200_000)  # a flood meanwhile: the cap drops every row not saved yet
    with qtbot.waitSignal(exporter.finished, timeout=10_000) as saved:
        pass
    written = saved.args[0]
    assert 0 < written < 200_000 and exporter.skipped == 200_000 - written
    assert len((tmp_path / "log.txt").read_text().splitlines()) == written


def test_the_text_log_has_dates_escapes_and_hex():
    formatter = RowFormatter()
    wall = time.mktime((2026, 11, 24, 18, 52, 1, 0, 0, -1)) + 0.25
    assert format_datetime(wall) == "2026-11-24 18:52:01.250000"
    payloads = [b"a\\b", b"ok\x00\r\n", b"\xde\xad\xbe\xef"]
    lines = formatter.lines("#2", Direction.IN, [wall] * 3, payloads)
    assert [line.split("\t", 1)[1] for line in lines] == [
        "#2\tin\t3\ta\\\\b",
        "#2\tin\t5\tok\\x00\\r\\n",  # mostly text: escaped, not hex (item 13)
        "#2\tin\t4\tde ad be ef",
    ]
    note = formatter.line(wall, "engine", Direction.ERROR, b"engine 1 crashed\nlast line")
    assert note == "2026-11-24 18:52:01.250000\tengine\terror\t\tengine 1 crashed\\nlast line"


def test_the_writer_thread_never_holds_more_than_its_bound(tmp_path):
    writer = BackgroundWriter(str(tmp_path / "out.bin"), max_pending_bytes=10)
    taken = [writer.offer(b"x" * 6) for _ in range(1000)]
    assert taken[0]
    writer.finish()
    assert writer.wait(5)
    assert writer.error is None
    assert (tmp_path / "out.bin").read_bytes() == b"x" * 6 * sum(taken)
    assert not writer.offer(b"late")  # after finish


def test_a_save_that_fails_says_why_in_the_footer_and_a_new_save_clears_it(
    qtbot, idle_window, tmp_path
):
    fill(idle_window.log_model, 1000)
    result = idle_window.log_panel.save_result
    exporter = idle_window.save_log(str(tmp_path / "missing" / "log.txt"))
    assert exporter is not None
    with qtbot.waitSignal(exporter.failed, timeout=5000):
        pass
    assert result.isVisible() and "missing" in result.text()
    assert "#b71c1c" in result.styleSheet()  # in red
    again = idle_window.save_log(str(tmp_path / "log.txt"))
    assert again is not None and not result.isVisible()  # the progress bar's turn
    with qtbot.waitSignal(again.finished, timeout=5000):
        pass
    assert result.text().startswith("saved 1,000 rows") and "#b71c1c" not in result.styleSheet()
