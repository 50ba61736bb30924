"""LogModel: the log as a Qt table model over a ``LogStore``, appended in batches.

Theory of operation: ``append`` stores rows at once (O(1) per batch) but views learn about
them only at the next *flush*, at most every ``FLUSH_INTERVAL_MS``: one ``beginInsertRows``
for everything that arrived since, and one ``beginRemoveRows`` for rows trimmed to respect
the cap. So a flood costs the view a few updates per second, not one per frame, and the
store's trim happens only at a flush (rows a view may still ask for stay held until then).

Filtering (by session, direction, text) does not use a ``QSortFilterProxyModel``, whose
per-row bookkeeping is too slow for millions of rows. The model itself keeps an array of
the sequence numbers that match. Changing the filter resets the model and rescans the
store in slices of ``SCAN_ROWS_PER_STEP`` rows from a zero-delay timer, so the window keeps
animating while a million rows are searched; rows arriving later are matched at flush.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
from array import array
from collections.abc import Iterator
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from ipc.payload_text import escape_text
from ipc.text import DEFAULT_ENCODING
from ui.formatting import format_time, to_hex
from ui.log_store import (
    DATA_DIRECTIONS,
    DEFAULT_LOG_CAP,
    Direction,
    LogFilter,
    LogRow,
    LogStore,
)
from ui.payload_decoding import PayloadDecoding
from ui.tls_text import UNVERIFIED_MARK

__all__ = ["FLUSH_INTERVAL_MS", "LogModel", "SessionContext"]

#: Views are told about new rows at most this often (about 12 updates a second).
FLUSH_INTERVAL_MS = 80
#: Rows matched per step of a filter rescan (about 10 ms for a text filter).
SCAN_ROWS_PER_STEP = 100_000
#: ...and of a rescan that decodes every row (a field expression: ~20 µs a row).
SCAN_DECODED_ROWS_PER_STEP = 500

COLUMNS = ("Time", "Session", "Dir", "Length", "Data")
COL_TIME, COL_SESSION, COL_DIR, COL_LENGTH, COL_DATA = range(len(COLUMNS))

_DIRECTION_TEXT = {
    Direction.IN: "in",
    Direction.OUT: "out",
    Direction.INFO: "info",
    Direction.ERROR: "error",
    Direction.C2S: "c→s",
    Direction.S2C: "c←s",
}
_DIRECTION_COLOR = {
    Direction.IN: QColor("#1b5e20"),
    Direction.OUT: QColor("#0d47a1"),
    Direction.INFO: QColor("#555555"),
    Direction.ERROR: QColor("#b71c1c"),
    Direction.C2S: QColor("#0d47a1"),
    Direction.S2C: QColor("#1b5e20"),
}
#: The Session cell of an unverified TLS session's rows.
_UNVERIFIED_COLOR = QColor("#b71c1c")
_Index = QModelIndex | QPersistentModelIndex


#: Sessions whose context the model remembers (the oldest are forgotten first).
MAX_CONTEXTS = 100_000
#: Bytes of a payload shown as text in the Data column (the view elides the rest).
_TEXT_BYTES = 800


class SessionContext(NamedTuple):
    """How a session's rows are shown and saved: its text encoding (``ipc.text``; other
    than UTF-8, the Data column shows the payload as text in it), peer and framing (for
    the saved JSON lines and pcapng), and whether its TLS went unverified (its rows'
    Session cell then carries the mark, in red)."""

    encoding: str = DEFAULT_ENCODING
    peer: str = ""
    framing: str = ""
    unverified: bool = False


_NO_CONTEXT = SessionContext()


class LogModel(QAbstractTableModel):
    """Columns: time, session, direction, length, data (the payload decoded, one line).

    ``Qt.UserRole`` gives the row.
    """

    #: The number of rows dropped past the cap changed (the new total).
    dropped_changed = Signal(int)
    #: A filter rescan progressed (0..100); 100 when done.
    filter_progress = Signal(int)

    def __init__(self, cap: int = DEFAULT_LOG_CAP, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = LogStore(cap)
        #: Each session's decoder, and the Data column's summaries (decoded when shown).
        self.decoding = PayloadDecoding()
        #: Per session name (``#3``): its text encoding, peer and framing (``context``).
        self._contexts: dict[str, SessionContext] = {}
        self._filter = LogFilter()
        # Unfiltered view: rows [vis_first, vis_end) of the store are visible.
        self._vis_first = 0
        self._vis_end = 0
        # Filtered view: the matching sequence numbers shown, and how far the scan got.
        self._matches = array("q")
        self._scan_pos = 0
        self._last_row: LogRow | None = None
        self._hex = False
        #: True while rows are being removed from the front (cap or filter trim).
        self.dropping_rows = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)
        self._scan_timer = QTimer(self)
        self._scan_timer.setSingleShot(True)
        self._scan_timer.setInterval(0)
        self._scan_timer.timeout.connect(self._on_scan_step)

    # ------------------------------------------------------------------ appending

    def append(
        self, session: str, direction: Direction, wall: float, payloads: list[bytes]
    ) -> None:
        """Store a batch of rows; views see it at the next flush."""
        added = self.store.append(session, direction, wall, payloads)
        if added and not self._flush_timer.isActive():
            self._flush_timer.start()

    def append_note(self, session: str, direction: Direction, wall: float, text: str) -> None:
        """Store one informational or error row whose payload is ``text``."""
        self.append(session, direction, wall, [text.encode("utf-8")])

    def flush_if_due(self, within_ms: int) -> None:
        """Flush now if the next flush is due within ``within_ms``.

        For a caller with a frame clock (the window's animation): a flush scrolls and
        repaints the views (a few ms for a full table). Done just after a frame, that work
        cannot delay the next one; done when the timer happens to fire, it can.
        """
        if self._flush_timer.isActive() and self._flush_timer.remainingTime() <= within_ms:
            self.flush()

    def flush(self) -> None:
        """Tell views about rows appended and trimmed since the last flush."""
        self._flush_timer.stop()
        trimmed = self.store.trim()
        first, end = self.store.first_seq, self.store.end_seq
        if self._filter.is_empty:
            if self._vis_first < first:
                gone = min(first, self._vis_end) - self._vis_first
                if gone > 0:
                    with self._removing_front(gone):
                        self._vis_first = first
                        self._vis_end = max(self._vis_end, first)
                else:
                    self._vis_first = self._vis_end = first
            if self._vis_end < end:
                rows = self._vis_end - self._vis_first
                self.beginInsertRows(QModelIndex(), rows, rows + end - self._vis_end - 1)
                self._vis_end = end
                self.endInsertRows()
        else:
            self._drop_matches_before(first)
            if not self._scan_timer.isActive():
                self._scan_pos = max(self._scan_pos, first)
                decodes = self._filter.payload_test is not None
                if not decodes or end - self._scan_pos <= SCAN_DECODED_ROWS_PER_STEP:
                    self._scan_to(end)
                else:  # a flood under a field filter: matched in steps, not all at once
                    self._scan_timer.start()
        if trimmed:
            self.dropped_changed.emit(self.store.dropped)

    def clear(self) -> None:
        """Forget every row (the user's "Clear"); not counted as dropped."""
        self.beginResetModel()
        self.store.clear()
        self.decoding.clear()
        self._vis_first = self._vis_end = self.store.end_seq
        self._matches = array("q")
        self._scan_pos = self.store.end_seq
        self.endResetModel()

    # ------------------------------------------------------------------ filtering

    def set_filter(self, flt: LogFilter) -> None:
        """Show only rows passing ``flt``; rescans held rows in budgeted steps."""
        if flt == self._filter:
            return
        self.flush()
        self.beginResetModel()
        self._filter = flt
        self._matches = array("q")
        self._scan_pos = self.store.first_seq
        self._vis_first, self._vis_end = self.store.first_seq, self.store.end_seq
        self._scan_timer.stop()
        self.endResetModel()
        if not flt.is_empty:
            self._scan_timer.start()
        self.filter_progress.emit(100 if flt.is_empty else 0)

    @property
    def scanning(self) -> bool:
        return self._scan_timer.isActive()

    def _on_scan_step(self) -> None:
        end = self.store.end_seq
        decodes = self._filter.payload_test is not None
        step = SCAN_DECODED_ROWS_PER_STEP if decodes else SCAN_ROWS_PER_STEP
        self._scan_to(min(end, self._scan_pos + step))
        if self._scan_pos < end:
            self._scan_timer.start()
            total = max(1, end - self.store.first_seq)
            self.filter_progress.emit(int(100 * (self._scan_pos - self.store.first_seq) / total))
        else:
            self.filter_progress.emit(100)

    def _scan_to(self, hi: int) -> None:
        lo = max(self._scan_pos, self.store.first_seq)
        found = self.store.match(self._filter, lo, hi)
        self._scan_pos = max(self._scan_pos, hi)
        if found:
            n = len(self._matches)
            self.beginInsertRows(QModelIndex(), n, n + len(found) - 1)
            self._matches.extend(found)
            self.endInsertRows()

    def _drop_matches_before(self, first: int) -> None:
        gone = bisect.bisect_left(self._matches, first)
        if gone:
            with self._removing_front(gone):
                del self._matches[:gone]

    @contextlib.contextmanager
    def _removing_front(self, rows: int) -> Iterator[None]:
        """Remove the first ``rows`` rows (the body updates the indexes)."""
        self.dropping_rows = True
        self.beginRemoveRows(QModelIndex(), 0, rows - 1)
        try:
            yield
        finally:
            self.endRemoveRows()
            self.dropping_rows = False

    # ------------------------------------------------------------------ access

    @property
    def data_as_hex(self) -> bool:
        """Whether the Data column shows frames as hex (else as text when they read as
        text, ``ui.formatting.preview``)."""
        return self._hex

    def set_data_as_hex(self, on: bool) -> None:
        if on != self._hex:
            self._hex = on
            if self.rowCount():
                last = self.index(self.rowCount() - 1, COL_DATA)
                self.dataChanged.emit(self.index(0, COL_DATA), last)

    def seq_at(self, row: int) -> int:
        """The store sequence number shown at view row ``row``."""
        if self._filter.is_empty:
            return self._vis_first + row
        return self._matches[row]

    def row_at(self, row: int) -> LogRow:
        # A repaint asks for each cell's roles in turn: about ten calls per row in a row.
        # Sequence numbers are never reused, so the last row looked up is never stale.
        seq = self.seq_at(row)
        last = self._last_row
        if last is None or last.seq != seq:
            last = self._last_row = self.store.row(seq)
        return last

    def context(self, session: str) -> SessionContext:
        """How rows of ``session`` are shown and saved (UTF-8, no peer, if nothing was said)."""
        return self._contexts.get(session, _NO_CONTEXT)

    def set_context(self, session: str, context: SessionContext) -> None:
        """Say how rows of ``session`` are shown and saved (its rows are repainted)."""
        marked = context.unverified != self.context(session).unverified
        self._contexts[session] = context
        if len(self._contexts) > MAX_CONTEXTS:
            del self._contexts[next(iter(self._contexts))]
        self.refresh_data()
        if marked and self.rowCount():
            last = self.index(self.rowCount() - 1, COL_SESSION)
            self.dataChanged.emit(self.index(0, COL_SESSION), last)

    def refresh_data(self) -> None:
        """Repaint the Data column (a session's decoder changed)."""
        if self.rowCount():
            last = self.index(self.rowCount() - 1, COL_DATA)
            self.dataChanged.emit(self.index(0, COL_DATA), last, [Qt.ItemDataRole.DisplayRole])

    def visible_seqs(self) -> range | array[int]:
        """Sequence numbers of every row views currently show, in order."""
        if self._filter.is_empty:
            return range(self._vis_first, self._vis_end)
        return self._matches

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        if parent.isValid():
            return 0
        if self._filter.is_empty:
            return self._vis_end - self._vis_first
        return len(self._matches)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = 0) -> Any:
        # Called for every role of every visible cell on each repaint (hundreds of times
        # while a flood scrolls the view): unhandled roles return at the first test, and
        # roles are compared as plain ints, not through PySide's enum objects.
        if role not in _HANDLED_ROLES or not index.isValid():
            return None
        if role == _DISPLAY:
            row = self.row_at(index.row())
            col = index.column()
            if col == COL_DATA:
                if row.direction in _DATA_DIRECTIONS:
                    if self._hex:
                        return to_hex(row.payload, _HEX_LIMIT)
                    encoding = self._contexts.get(row.session, _NO_CONTEXT).encoding
                    if encoding != DEFAULT_ENCODING:  # the session reads as text in it
                        return escape_text(row.payload[:_TEXT_BYTES], encoding)
                    return self.decoding.summary(row.seq, row.session, row.payload)
                return row.payload.decode("utf-8", "replace")
            if col == COL_TIME:
                return _time_text(row.wall)
            if col == COL_SESSION:
                if self._contexts.get(row.session, _NO_CONTEXT).unverified:
                    return f"{row.session} {UNVERIFIED_MARK}"
                return row.session
            if col == COL_DIR:
                return _DIRECTION_TEXT[row.direction]
            return len(row.payload) if row.direction in _DATA_DIRECTIONS else ""
        if role == _FOREGROUND:
            row = self.row_at(index.row())
            if (
                index.column() == COL_SESSION
                and self._contexts.get(row.session, _NO_CONTEXT).unverified
            ):
                return _UNVERIFIED_COLOR
            return _DIRECTION_COLOR[row.direction]
        if role == _USER:
            return self.row_at(index.row())
        if role == _ALIGNMENT and index.column() == COL_LENGTH:
            return _RIGHT
        if role == _TOOLTIP and index.column() == COL_SESSION:
            row = self.row_at(index.row())
            if self._contexts.get(row.session, _NO_CONTEXT).unverified:
                return f"{row.session}: TLS NOT VERIFIED (Insecure): the peer may be anyone"
        if role == _TOOLTIP and index.column() == COL_DATA:
            row = self.row_at(index.row())
            if row.direction not in _DATA_DIRECTIONS:  # a note: the column may cut it
                return row.payload.decode("utf-8", "replace")
        return None


_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_USER = int(Qt.ItemDataRole.UserRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_HANDLED_ROLES = frozenset({_DISPLAY, _FOREGROUND, _USER, _ALIGNMENT, _TOOLTIP})
_DATA_DIRECTIONS = DATA_DIRECTIONS
#: Bytes the Data column shows in hex (the detail pane dumps the whole payload).
_HEX_LIMIT = 32


@functools.lru_cache(maxsize=4096)
def _time_text(wall: float) -> str:
    """``format_time``, cached: the rows of one batch share one timestamp."""
    return format_time(wall)
