"""The log: filter bar, table, detail pane for the selected row, follow/clear/save.

The table is a plain ``QTableView`` over ``LogModel`` tuned for millions of rows: fixed
row height, no vertical header, fixed column widths (never ``ResizeToContents``, which
would measure every row). "Follow newest rows" (a check box: checked means
following) scrolls to the bottom after each batched insert; scrolling up by hand or
selecting a row unchecks it, scrolling back to the bottom checks it again.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QTextOption
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.formatting import format_time, hex_dump
from ui.log_model import COL_DIR, COL_LENGTH, COL_SESSION, COL_TIME, LogModel
from ui.log_store import Direction, LogFilter, LogRow

__all__ = ["DETAIL_MAX_BYTES", "LogPanel"]

#: The detail pane dumps at most this much of a payload.
DETAIL_MAX_BYTES = 64 * 1024
_FILTER_DEBOUNCE_MS = 250
#: Per cent of the width the table gets beside the detail pane (the user can drag it).
_TABLE_SHARE = 65
_DETAIL_MIN_WIDTH = 240
_DUMP_WIDTHS = (16, 8, 4)
_ALL = "all"


class LogPanel(QWidget):
    """``save_requested(path)`` when the user picked a file to save the visible rows to."""

    save_requested = Signal(str)

    def __init__(self, model: LogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.session_filter = QComboBox()
        self.session_filter.addItem(_ALL)
        self.direction_filter = QComboBox()
        self.direction_filter.addItems([_ALL, *(d.value for d in Direction)])
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter: payload contains…")
        self.text_filter.setClearButtonEnabled(True)
        self.follow = QCheckBox("Follow newest rows")
        self.follow.setChecked(True)
        self.follow.setToolTip(
            "Checked: the table scrolls to each new row.\n"
            "Unchecked: it stays where you are. Scrolling up or selecting a row unchecks it;\n"
            "scrolling to the bottom checks it again."
        )
        self.clear_button = QPushButton("Clear")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("save the rows shown: .jsonl for JSON lines, else text")
        self.counts = QLabel()
        self.counts.setStyleSheet("color: #555;")

        self.table = QTableView()
        self.table.setModel(model)
        self.table.setFont(mono)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vheader = self.table.verticalHeader()
        vheader.hide()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(20)
        hheader = self.table.horizontalHeader()
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hheader.setStretchLastSection(True)
        for col, width in ((COL_TIME, 100), (COL_SESSION, 70), (COL_DIR, 44), (COL_LENGTH, 64)):
            self.table.setColumnWidth(col, width)

        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setFont(mono)
        self.detail.setPlaceholderText("select a row to see its whole payload")
        # Text wraps to be read whole (long error notes above all); a hex dump has as many
        # bytes a line as fit (``_dump_width``), so it keeps its columns.
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.detail.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.detail.setMinimumWidth(_DETAIL_MIN_WIDTH)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Session"))
        bar.addWidget(self.session_filter)
        bar.addWidget(QLabel("Dir"))
        bar.addWidget(self.direction_filter)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.follow)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.save_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        # The table gets most of the width (its Data column shows the payloads); the
        # detail pane enough for a text payload or most of a dump line.
        splitter.setStretchFactor(0, _TABLE_SHARE)
        splitter.setStretchFactor(1, 100 - _TABLE_SHARE)
        splitter.setCollapsible(0, False)
        splitter.setSizes([10 * _TABLE_SHARE, 10 * (100 - _TABLE_SHARE)])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.counts)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(_FILTER_DEBOUNCE_MS)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.text_filter.textChanged.connect(self._filter_timer.start)
        self.session_filter.currentTextChanged.connect(self._apply_filter)
        self.direction_filter.currentTextChanged.connect(self._apply_filter)
        self.follow.toggled.connect(self._on_follow_toggled)
        self.clear_button.clicked.connect(self._on_clear)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.table.verticalScrollBar().actionTriggered.connect(self._on_user_scroll)
        self.table.selectionModel().selectionChanged.connect(self._on_row_selected)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.rowsRemoved.connect(self._update_counts)
        model.modelReset.connect(self._update_counts)
        model.dropped_changed.connect(self._update_counts)
        model.filter_progress.connect(self._on_filter_progress)
        self._filter_progress = 100
        self._update_counts()

    # ------------------------------------------------------------------ filter

    def current_filter(self) -> LogFilter:
        session = self.session_filter.currentText()
        direction = self.direction_filter.currentText()
        return LogFilter(
            session=None if session == _ALL else session,
            direction=None if direction == _ALL else Direction(direction),
            text=self.text_filter.text(),
        )

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        self.model.set_filter(self.current_filter())

    def _on_filter_progress(self, percent: int) -> None:
        self._filter_progress = percent
        self._update_counts()

    def _refresh_sessions(self) -> None:
        names = self.model.store.sessions()
        if len(names) + 1 != self.session_filter.count():
            known = {self.session_filter.itemText(i) for i in range(self.session_filter.count())}
            for name in names:
                if name not in known:
                    self.session_filter.addItem(name)

    # ------------------------------------------------------------------ follow, counts

    def _on_rows_inserted(self, *_args: Any) -> None:
        self._refresh_sessions()
        self._update_counts()
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def _on_user_scroll(self, _action: int) -> None:
        bar = self.table.verticalScrollBar()
        # actionTriggered fires before the move: look at the slider position it will take.
        at_bottom = bar.sliderPosition() >= bar.maximum()
        if self.follow.isChecked() != at_bottom:
            self.follow.setChecked(at_bottom)

    def _on_follow_toggled(self, on: bool) -> None:
        self._update_counts()
        if on:
            self.table.scrollToBottom()

    def _update_counts(self, *_args: Any) -> None:
        store = self.model.store
        shown = self.model.rowCount()
        parts = [
            f"{shown:,} row{'' if shown == 1 else 's'} shown",
            f"{len(store):,} held (cap {store.cap:,})",
        ]
        if store.dropped:
            parts.append(f"{store.dropped:,} oldest dropped")
        if self._filter_progress < 100:
            parts.append(f"filtering… {self._filter_progress}%")
        if not self.follow.isChecked():
            parts.append("not following: new rows are added below")
        self.counts.setText(" · ".join(parts))

    def _on_clear(self) -> None:
        self.model.clear()
        self.detail.clear()

    # ------------------------------------------------------------------ detail, save

    def _on_row_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        # While the cap drops the oldest rows, Qt moves a selection off a dropped row by
        # itself: that is not the user picking a row (no detail change, no pause).
        indexes = selected.indexes()
        if not indexes or self.model.dropping_rows:
            return
        row: LogRow = self.model.data(indexes[0], Qt.ItemDataRole.UserRole)
        self.detail.setPlainText(describe_row(row, self._dump_width()))
        # Looking at a row pauses the tail, or the next batch would scroll it out of view.
        self.follow.setChecked(False)

    def _dump_width(self) -> int:
        """Bytes per hex dump line: the most (of 16, 8, 4) whose line fits the pane."""
        room = self.detail.viewport().width() - 2 * int(self.detail.document().documentMargin())
        metrics = self.detail.fontMetrics()
        for width in _DUMP_WIDTHS:
            if metrics.horizontalAdvance(hex_dump(bytes(width), width)) <= room:
                return width
        return _DUMP_WIDTHS[-1]

    def _on_save_clicked(self) -> None:
        # A non-modal dialog: the window (and its animation) keeps running meanwhile.
        dialog = QFileDialog(self, "Save log", "framewire-log.txt")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Text (*.txt *.log)", "JSON lines (*.jsonl)", "All files (*)"])
        dialog.fileSelected.connect(self.save_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()


def describe_row(row: LogRow, dump_width: int = 16) -> str:
    """The detail pane's text for one row: header, text (if UTF-8), hex dump
    (``dump_width`` bytes a line)."""
    payload = row.payload
    head = f"{format_time(row.wall)}  session {row.session}  {row.direction.value}"
    if row.direction in (Direction.INFO, Direction.ERROR):
        return f"{head} note\n\n{payload.decode('utf-8', 'replace')}"
    shown = payload[:DETAIL_MAX_BYTES]
    parts = [f"{head}  {len(payload):,} bytes"]
    with contextlib.suppress(UnicodeDecodeError):
        parts.append("text:\n" + shown.decode("utf-8"))
    parts.append("hex:\n" + hex_dump(shown, dump_width))
    if len(payload) > DETAIL_MAX_BYTES:
        parts.append(f"(first {DETAIL_MAX_BYTES:,} of {len(payload):,} bytes shown)")
    return "\n\n".join(parts)
