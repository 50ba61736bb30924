"""--log-file follows the log's rows (issue 17, item 3): frames, notes, errors, dated."""

from ui.log_file import LogFile
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.log_text import format_datetime


def test_rows_are_followed_into_the_file_with_dates(qtbot, tmp_path):
    path = tmp_path / "gui.log"
    model = LogModel(cap=1000)
    store = model.store
    log_file = LogFile(str(path))
    log_file.write("a line of the GUI's own\n")
    log_file.follow(model)
    store.append("#1", Direction.OUT, 100.5, [b"hello"])
    store.append("#1", Direction.IN, 100.75, [b"\xde\xad\xbe\xef", b"re:hello"])
    store.append("#1", Direction.ERROR, 101.0, [b"reset: connection reset by peer"])
    qtbot.waitUntil(lambda: path.read_text().count("\n") == 5, timeout=2000)
    log_file.close()
    assert path.read_text().splitlines() == [
        "a line of the GUI's own",
        f"{format_datetime(100.5)}\t#1\tout\t5\thello",
        f"{format_datetime(100.75)}\t#1\tin\t4\tde ad be ef",
        f"{format_datetime(100.75)}\t#1\tin\t8\tre:hello",
        f"{format_datetime(101.0)}\t#1\terror\t\treset: connection reset by peer",
    ]


def test_rows_the_cap_dropped_first_are_said_and_the_rest_written_at_close(tmp_path):
    path = tmp_path / "gui.log"
    model = LogModel(cap=10)
    store = model.store
    log_file = LogFile(str(path))
    log_file.follow(model)
    store.append("#1", Direction.IN, 1.0, [b"%d" % i for i in range(30)])
    store.trim()
    log_file.close()  # before the timer looked: close writes what is due
    lines = path.read_text().splitlines()
    assert "20 log rows were dropped before they were written" in lines[0]
    assert [line.rsplit("\t", 1)[1] for line in lines[1:]] == [b"%d".decode() % i for i in
                                                               range(20, 30)]  # fmt: skip
    assert log_file.skipped == 20
