"""The log: filter bar, table, detail pane for the selected row, follow/clear/save.

The detail pane shows the selected payload's fields (``FieldTree``) above its text and
hex dump, linked both ways: selecting a field highlights its bytes in the dump, clicking
a byte of the dump selects its field. The filter bar also takes a field expression
(``op == "login"``, see ``decoders.expression``), checked as you type.

The table is a plain ``QTableView`` over ``LogModel`` tuned for millions of rows: fixed
row height, no vertical header, fixed column widths (never ``ResizeToContents``, which
would measure every row). "Follow newest rows" (a check box: checked means
following) scrolls to the bottom after each batched insert; scrolling up by hand or
selecting a row unchecks it, scrolling back to the bottom checks it again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCharFormat, QTextCursor, QTextOption
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
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from decoders import ExpressionError, compile_expression
from ipc.payload_text import escape_text
from ipc.text import DEFAULT_ENCODING, ENCODINGS, decode_counting
from ui.dump_layout import DumpLayout
from ui.formatting import hex_dump
from ui.log_model import COL_DIR, COL_LENGTH, COL_SESSION, COL_TIME, LogModel
from ui.log_store import DATA_DIRECTIONS, Direction, LogFilter, LogRow
from ui.log_text import format_datetime
from ui.widgets.field_tree import FieldTree

__all__ = ["DETAIL_MAX_BYTES", "LogPanel"]

#: The detail pane dumps at most this much of a payload.
DETAIL_MAX_BYTES = 64 * 1024
_FILTER_DEBOUNCE_MS = 250
#: Per cent of the width the table gets beside the detail pane (the user can drag it).
_TABLE_SHARE = 65
_DETAIL_MIN_WIDTH = 240
_DUMP_WIDTHS = (16, 8, 4)
_ALL = "all"
#: How the direction filter names the relayed directions (the others by their value).
_DIRECTION_CHOICES = {Direction.C2S: "c→s", Direction.S2C: "c←s"}
_BAD_INPUT_STYLE = "QLineEdit { border: 1px solid #c62828; background: #ffebee; }"
_HIGHLIGHT = QColor("#ffe082")


class LogPanel(QWidget):
    """``save_requested(path)`` when the user picked a file to save the visible rows to;
    ``save_cancel_requested()`` when they cancel the save in progress."""

    save_requested = Signal(str)
    save_cancel_requested = Signal()

    def __init__(self, model: LogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.session_filter = QComboBox()
        self.session_filter.addItem(_ALL)
        self.direction_filter = QComboBox()
        self.direction_filter.addItem(_ALL, None)
        for direction in Direction:
            self.direction_filter.addItem(
                _DIRECTION_CHOICES.get(direction, direction.value), direction
            )
        self.direction_filter.setToolTip(
            "in/out: frames of a session; c→s / c←s: frames a relay passed from the "
            "client to the server, and back"
        )
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter: payload contains…")
        self.text_filter.setClearButtonEnabled(True)
        self.field_filter = QLineEdit()
        self.field_filter.setPlaceholderText('fields: op == "login" and seq > 100')
        self.field_filter.setClearButtonEnabled(True)
        self.field_filter.setToolTip(
            "a field expression over each payload's decoded value: == != < <= > >= ~ "
            "(contains), and, or, not, ( ); user.name, tags[0]; len = payload bytes"
        )
        self.field_error = QLabel()
        self.field_error.setStyleSheet("color: #b71c1c;")
        self.field_error.hide()
        self._payload_test: Any = None
        self.hex = QCheckBox("Hex")
        self.hex.setToolTip(
            "Show frames in hex in the Data column (else as text when they read as text,\n"
            "non-printable bytes escaped). The detail pane shows both."
        )
        self.hex.toggled.connect(model.set_data_as_hex)
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
        # Shown while a save runs (it never blocks the window: ui.log_export).
        self.save_progress = QProgressBar()
        self.save_progress.setMinimumWidth(150)
        self.save_progress.setMaximumWidth(220)
        self.save_progress.setFormat("saving… %p%")
        self.save_cancel = QPushButton("Cancel")
        self.save_cancel.setToolTip("stop saving; no partial file is left")
        self.save_cancel.clicked.connect(self.save_cancel_requested)
        self.save_progress.hide()
        self.save_cancel.hide()
        #: How the last save ended, beside the counter line where its progress was.
        self.save_result = QLabel()
        self.save_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_result.hide()

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
        self.fields = FieldTree()
        # The fields above the dump may each shrink to two lines (their scroll areas would
        # ask for 70 px each), so the window's minimum height stays under 640 px with the
        # banner and the relay form shown (the splitter still starts them taller).
        lines = 2 * self.detail.fontMetrics().height() + 10
        self.detail.setMinimumHeight(lines)
        self.fields.setMinimumHeight(lines)
        self._dump: DumpLayout | None = None
        self._moving_cursor = False

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Session"))
        bar.addWidget(self.session_filter)
        bar.addWidget(QLabel("Dir"))
        bar.addWidget(self.direction_filter)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.field_filter, 1)
        bar.addWidget(self.hex)
        bar.addWidget(self.follow)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.save_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        detail = QSplitter(Qt.Orientation.Vertical)
        detail.addWidget(self.fields)
        detail.addWidget(self.detail)
        detail.setSizes([300, 400])
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
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
        layout.addWidget(self.field_error)
        layout.addWidget(splitter, 1)
        footer = QHBoxLayout()
        footer.addWidget(self.counts, 1)
        footer.addWidget(self.save_result)
        footer.addWidget(self.save_progress)
        footer.addWidget(self.save_cancel)
        layout.addLayout(footer)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(_FILTER_DEBOUNCE_MS)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.text_filter.textChanged.connect(self._filter_timer.start)
        self.field_filter.textChanged.connect(self._on_field_filter_edited)
        self.fields.field_selected.connect(self._highlight_bytes)
        self.detail.cursorPositionChanged.connect(self._on_dump_clicked)
        self.session_filter.currentTextChanged.connect(self._apply_filter)
        self.direction_filter.currentTextChanged.connect(self._apply_filter)
        self.follow.toggled.connect(self._on_follow_toggled)
        self.clear_button.clicked.connect(self._on_clear)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.table.verticalScrollBar().actionTriggered.connect(self._on_user_scroll)
        self.table.selectionModel().selectionChanged.connect(self._on_row_selected)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.rowsRemoved.connect(self._on_rows_removed)
        model.modelReset.connect(self._on_model_reset)
        model.dropped_changed.connect(self._update_counts)
        #: The row the detail pane shows (its sequence number), if any.
        self._detail_seq: int | None = None
        model.filter_progress.connect(self._on_filter_progress)
        self._filter_progress = 100
        self._update_counts()

    # ------------------------------------------------------------------ filter

    def current_filter(self) -> LogFilter:
        session = self.session_filter.currentText()
        return LogFilter(
            session=None if session == _ALL else session,
            direction=self.direction_filter.currentData(),
            text=self.text_filter.text(),
            payload_test=self._payload_test,
        )

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        self.model.set_filter(self.current_filter())

    def _on_field_filter_edited(self, text: str) -> None:
        """Check the expression as it is typed; a good one is applied (debounced)."""
        problem = ""
        test = None
        if text.strip():
            try:
                expression = compile_expression(text)
            except ExpressionError as exc:
                problem = f"field expression: {exc}"
            else:
                decoding = self.model.decoding

                def test(session: str, payload: bytes) -> bool:
                    return decoding.matches(expression, session, payload)

        self.field_filter.setStyleSheet(_BAD_INPUT_STYLE if problem else "")
        self.field_error.setText(problem)
        self.field_error.setVisible(bool(problem))
        self._payload_test = test
        self._filter_timer.start()

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

    def _on_rows_removed(self, *_args: Any) -> None:
        self._update_counts()
        self._check_detail_row()

    def _on_model_reset(self) -> None:
        """A new filter, or Clear: following means showing the newest rows, whatever the
        filter was (without this, the view sat on the oldest rows after a reset)."""
        self._update_counts()
        self._check_detail_row()
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def _check_detail_row(self) -> None:
        """The detail pane must not keep showing a row the cap dropped from the log."""
        seq = self._detail_seq
        if seq is not None and seq < self.model.store.first_seq:
            self._detail_seq = None
            self.detail.setPlainText(
                f"(row {seq + 1:,} is no longer in the log: the cap of "
                f"{self.model.store.cap:,} rows dropped it)"
            )
            self.fields.show_decoded(None)
            self._dump = None

    def _on_clear(self) -> None:
        self._detail_seq = None
        self.model.clear()
        self.detail.clear()
        self.fields.show_decoded(None)
        self._dump = None

    # ------------------------------------------------------------------ detail, save

    def _on_row_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        # While the cap drops the oldest rows, Qt moves a selection off a dropped row by
        # itself: that is not the user picking a row (no detail change, no pause).
        indexes = selected.indexes()
        if not indexes or self.model.dropping_rows:
            return
        row: LogRow = self.model.data(indexes[0], Qt.ItemDataRole.UserRole)
        self._detail_seq = row.seq
        self.show_row(row)
        # Looking at a row pauses the tail, or the next batch would scroll it out of view.
        self.follow.setChecked(False)

    def show_row(self, row: LogRow) -> None:
        """Fill the detail pane: the payload's fields, its text and hex dump."""
        width = self._dump_width()
        self._moving_cursor = True
        encoding = self.model.context(row.session).encoding
        self.detail.setPlainText(describe_row(row, width, encoding))
        self._moving_cursor = False
        self.detail.setExtraSelections([])
        if row.direction not in DATA_DIRECTIONS:
            self.fields.show_decoded(None)
            self._dump = None
            return
        self.fields.show_decoded(self.model.decoding.decode(row.session, row.payload))
        # The dump follows the last line that is just "hex:" (the text above may hold one).
        block = self.detail.document().lastBlock()
        while block.isValid() and block.text() != "hex:":
            block = block.previous()
        shown = min(len(row.payload), DETAIL_MAX_BYTES)
        self._dump = DumpLayout(width, shown, block.blockNumber() + 1)

    def refresh_detail(self) -> None:
        """Decode the selected row again (its session's decoder changed)."""
        indexes = self.table.selectionModel().selectedRows()
        if indexes:
            self.show_row(self.model.data(indexes[0], Qt.ItemDataRole.UserRole))

    def _highlight_bytes(self, offset: int, length: int) -> None:
        """Mark bytes ``offset..offset+length`` in the dump (both columns) and show them."""
        selections = []
        document = self.detail.document()
        if self._dump is not None and length > 0:
            fmt = QTextCharFormat()
            fmt.setBackground(_HIGHLIGHT)
            for line, column, count in self._dump.ranges(offset, length):
                cursor = QTextCursor(document.findBlockByNumber(line))
                cursor.movePosition(QTextCursor.MoveOperation.Right, n=column)
                cursor.movePosition(
                    QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor, count
                )
                selection = QTextEdit.ExtraSelection()
                selection.cursor = cursor
                selection.format = fmt
                selections.append(selection)
        self.detail.setExtraSelections(selections)
        if selections:
            first: QTextCursor = selections[0].cursor
            if not self.detail.viewport().rect().contains(self.detail.cursorRect(first)):
                self.detail.verticalScrollBar().setValue(first.block().firstLineNumber())

    def _on_dump_clicked(self) -> None:
        """A click in the dump selects the field holding the byte under it."""
        if self._moving_cursor or self._dump is None:
            return
        cursor = self.detail.textCursor()
        offset = self._dump.offset_at(cursor.blockNumber(), cursor.positionInBlock())
        if offset is not None:
            self.fields.select_offset(offset)

    def _dump_width(self) -> int:
        """Bytes per hex dump line: the most (of 16, 8, 4) whose line fits the pane."""
        room = self.detail.viewport().width() - 2 * int(self.detail.document().documentMargin())
        metrics = self.detail.fontMetrics()
        for width in _DUMP_WIDTHS:
            if metrics.horizontalAdvance(hex_dump(bytes(width), width)) <= room:
                return width
        return _DUMP_WIDTHS[-1]

    def show_saving(self, done: int, total: int) -> None:
        """A save is under way: ``done`` of ``total`` rows (Save… waits until it ends)."""
        self.save_progress.setRange(0, max(total, 1))
        self.save_progress.setValue(done)
        self.save_result.hide()
        self.save_progress.show()
        self.save_cancel.show()
        self.save_button.setEnabled(False)

    def saving_over(self, outcome: str, *, failed: bool = False) -> None:
        """The save ended: ``outcome`` says how, in the footer, until the next save."""
        self.save_progress.hide()
        self.save_cancel.hide()
        self.save_button.setEnabled(True)
        self.save_result.setStyleSheet(f"color: {'#b71c1c' if failed else '#555'};")
        self.save_result.setText(outcome)
        self.save_result.show()

    def _on_save_clicked(self) -> None:
        # A non-modal dialog: the window (and its animation) keeps running meanwhile.
        dialog = QFileDialog(self, "Save log", "framewire-log.txt")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(
            ["Text (*.txt *.log)", "JSON lines (*.jsonl)", "pcapng (*.pcapng)", "All files (*)"]
        )
        dialog.fileSelected.connect(self.save_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()


def describe_row(row: LogRow, dump_width: int = 16, encoding: str = DEFAULT_ENCODING) -> str:
    """The detail pane's text for one row: header (with the full date), text in the
    session's ``encoding`` (when at least three quarters of it decodes; the bytes that do
    not are shown as \\xNN), hex dump (``dump_width`` bytes a line)."""
    payload = row.payload
    head = f"{format_datetime(row.wall)}  session {row.session}  {row.direction.value}"
    if row.direction in (Direction.INFO, Direction.ERROR):
        return f"{head} note\n\n{payload.decode('utf-8', 'replace')}"
    shown = payload[:DETAIL_MAX_BYTES]
    parts = [f"{head}  {len(payload):,} bytes"]
    text, bad = decode_counting(shown, encoding)
    if shown and bad * 4 <= len(shown):
        label = "text" if encoding == DEFAULT_ENCODING else f"text ({ENCODINGS[encoding]})"
        if bad:  # not text as a whole: escaped, so binary never reads as letters
            text = escape_text(shown, encoding)
        parts.append(f"{label}:\n{text}")
    parts.append("hex:\n" + hex_dump(shown, dump_width))
    if len(payload) > DETAIL_MAX_BYTES:
        parts.append(f"(first {DETAIL_MAX_BYTES:,} of {len(payload):,} bytes shown)")
    return "\n\n".join(parts)
