from PySide6.QtCore import QModelIndex, Qt

from ui.log_model import COL_DATA, COL_LENGTH, LogModel
from ui.log_store import Direction, LogFilter


def texts(model, col=COL_DATA):
    return [
        model.data(model.index(r, col), Qt.ItemDataRole.DisplayRole)
        for r in range(model.rowCount())
    ]


def test_appends_reach_views_in_one_batched_insert(qtbot):
    model = LogModel(cap=1000)
    inserts = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    for i in range(10):
        model.append("#1", Direction.IN, 1.0, [f"f{i}a".encode(), f"f{i}b".encode()])
    assert model.rowCount() == 0  # not flushed yet
    with qtbot.waitSignal(model.rowsInserted, timeout=2000):
        pass
    assert inserts == [(0, 19)]
    assert texts(model)[:3] == ["f0a", "f0b", "f1a"]
    assert model.data(model.index(0, COL_LENGTH), Qt.ItemDataRole.DisplayRole) == 3
    assert model.data(model.index(0, COL_DATA), Qt.ItemDataRole.UserRole).payload == b"f0a"
    assert model.data(model.index(0, COL_DATA), Qt.ItemDataRole.DecorationRole) is None
    assert model.rowCount(model.index(0, 0)) == 0


def test_cap_removes_front_rows_and_reports_drops(qtbot):
    model = LogModel(cap=5)
    model.append("#1", Direction.IN, 1.0, [b"0", b"1", b"2"])
    model.flush()
    removed = []
    model.rowsAboutToBeRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    with qtbot.waitSignal(model.dropped_changed, timeout=1000) as blocker:
        model.append("#1", Direction.IN, 1.0, [b"3", b"4", b"5", b"6"])
        model.flush()
    assert blocker.args == [2]
    assert removed == [(0, 1)]
    assert texts(model) == ["2", "3", "4", "5", "6"]
    model.append("#1", Direction.IN, 1.0, [str(i).encode() for i in range(7, 30)])
    model.flush()
    assert texts(model) == ["25", "26", "27", "28", "29"]
    assert model.store.dropped == 25


def test_filter_rescans_in_steps_then_follows_new_rows(qtbot, monkeypatch):
    monkeypatch.setattr("ui.log_model.SCAN_ROWS_PER_STEP", 100)
    model = LogModel(cap=10_000)
    for i in range(1000):
        model.append(f"#{i % 2 + 1}", Direction.IN, 1.0, [f"row {i}".encode()])
    model.flush()
    progress = []
    model.filter_progress.connect(progress.append)
    model.set_filter(LogFilter(session="#2", text="row 9"))
    assert model.rowCount() == 0 and model.scanning
    qtbot.waitUntil(lambda: not model.scanning, timeout=2000)
    assert progress[0] == 0 and progress[-1] == 100 and len(progress) >= 10
    expected = [f"row {i}" for i in range(1000) if i % 2 == 1 and f"row {i}".startswith("row 9")]
    assert texts(model) == expected
    model.append("#2", Direction.IN, 1.0, [b"row 9999", b"other"])
    model.append("#1", Direction.IN, 1.0, [b"row 9"])
    model.flush()
    assert texts(model)[-1] == "row 9999"
    model.set_filter(LogFilter())
    assert model.rowCount() == 1003


def test_notes_and_clear(qtbot):
    model = LogModel()
    model.append_note("#1", Direction.ERROR, 1.0, "connect refused")
    model.flush()
    assert texts(model) == ["connect refused"]
    assert model.data(model.index(0, COL_LENGTH), Qt.ItemDataRole.DisplayRole) == ""
    model.clear()
    assert model.rowCount() == 0 and model.store.dropped == 0
    assert (
        model.headerData(COL_DATA, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == "Data"
    )
    assert not model.data(QModelIndex(), Qt.ItemDataRole.DisplayRole)
