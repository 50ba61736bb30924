"""Save the log's visible rows to a file while the window keeps animating.

The format follows the file name: ``.jsonl``/``.json`` writes the recording format
(``ui.formatting.log_row_json``, docs/recording.md), ``.pcapng`` a pcapng file of the
frames with synthetic TCP/IP headers (``ipc.pcapng``), anything else tab-separated text
with full dates (``ui.log_text``), each session's payloads in its text encoding. The rows
saved are those the view shows when saving starts (the filter applies); rows the cap
drops before their turn are skipped and counted.

Strategy (issue 17: saving a million rows turned the animation red, 156 ms late): the
GUI thread formats rows in slices of about ``SLICE_SECONDS`` with idle gaps between them,
so a due animation tick waits for one slice at most; a ``BackgroundWriter`` thread does
the writing, so a slow disk holds up the save, never the window (while its queue is
full, slices pause). The file is written as ``PATH.part`` and renamed when complete:
Cancel, or a failure, leaves no half-written file. Progress is reported as rows done of
rows to save.
"""

from __future__ import annotations

import io
import itertools
import time
from array import array
from collections.abc import Iterator

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ipc.pcapng import RecordingExporter
from ipc.recording import FrameRecord
from ui.background_writer import BackgroundWriter
from ui.formatting import log_row_json, parse_session_name
from ui.log_model import LogModel
from ui.log_store import DATA_DIRECTIONS
from ui.log_text import RowFormatter

__all__ = ["SLICE_SECONDS", "LogExporter", "export_format"]

#: GUI-thread time per slice of formatting: a due tick waits for one slice at most.
SLICE_SECONDS = 0.002
#: Rows formatted between two looks at the clock.
_ROWS_PER_CHECK = 128
#: How often the progress signal fires, at most.
_PROGRESS_INTERVAL_S = 0.1
#: The pause between slices: an idle gap in which the event loop runs due timers and
#: paints (as ``ipc.qt_channel``'s turns do), and the GUI thread looks idle to the OS's
#: scheduler, which then serves it promptly on a loaded machine.
_YIELD_MS = 4
#: The timer's pause while the writer's queue is full, or while it finishes the file.
_WAIT_MS = 5


def export_format(path: str) -> str:
    """``"jsonl"``, ``"pcapng"`` or ``"text"``, from the file name."""
    lower = path.lower()
    if lower.endswith(".pcapng"):
        return "pcapng"
    return "jsonl" if lower.endswith((".jsonl", ".json")) else "text"


class LogExporter(QObject):
    """Writes ``model``'s visible rows to ``path``; call ``start``, maybe ``cancel``.

    Signals: ``progressed(done, total)`` (rows), then one of ``finished(rows, path)``,
    ``failed(message)`` or ``cancelled()``. ``skipped`` counts rows the cap dropped
    before they were saved.
    """

    progressed = Signal(int, int)
    finished = Signal(int, str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, model: LogModel, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.path = path
        self._kind = export_format(path)
        # pcapng packets go to this buffer, emptied into the writer after each slice.
        self._packets = io.BytesIO()
        self._pcapng = RecordingExporter(self._packets) if self._kind == "pcapng" else None
        seqs = model.visible_seqs()
        # A snapshot: a range is one already; the filtered view's array is copied (a C
        # copy of 8 bytes a row, not a list of a million ints).
        self._seqs: range | array[int] = seqs if isinstance(seqs, range) else array("q", seqs)
        self.total = len(self._seqs)
        self._pos = 0
        self.written = 0
        self.skipped = 0
        self._formatter = RowFormatter()
        self._pending = b""  # formatted, not yet taken by the writer
        self._writer: BackgroundWriter | None = None
        self._closing = False
        self._last_progress = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_turn)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        try:
            self._writer = BackgroundWriter(self.path, replace=True)
        except OSError as exc:
            message = f"cannot save to {self.path}: {exc.strerror or exc}"
            QTimer.singleShot(0, self, lambda: self.failed.emit(message))
            return
        self._timer.start(_YIELD_MS)

    def cancel(self) -> None:
        """Stop now; the partial file is removed (by the writer's thread)."""
        if not self._timer.isActive():
            return
        self._timer.stop()
        if self._writer is not None:
            self._writer.cancel()
        self.cancelled.emit()

    def _on_turn(self) -> None:
        writer = self._writer
        assert writer is not None
        if self._closing:
            if writer.done:
                self._timer.stop()
                self._report(writer)
            return
        if writer.error is not None:
            self._timer.stop()
            writer.cancel()
            self.failed.emit(f"cannot save to {self.path}: {writer.error.strerror}")
            return
        if self._pending and not self._hand_over(writer):
            self._timer.setInterval(_WAIT_MS)  # the disk is behind: let it catch up
            return
        self._timer.setInterval(_YIELD_MS)
        self._pending = self._format_slice()
        self._hand_over(writer)
        now = time.monotonic()
        done = self._pos >= self.total
        if done or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.progressed.emit(self._pos, self.total)
        if done and not self._pending:
            self._closing = True
            writer.finish()
            self._timer.setInterval(_WAIT_MS)

    def _hand_over(self, writer: BackgroundWriter) -> bool:
        if self._pending and writer.offer(self._pending):
            self._pending = b""
        return not self._pending

    def _format_slice(self) -> bytes:
        """Rows formatted for about ``SLICE_SECONDS``, as bytes (may be empty)."""
        deadline = time.perf_counter() + SLICE_SECONDS
        lines: list[str] = []
        store = self._model.store
        while self._pos < self.total and time.perf_counter() < deadline:
            stop = min(self.total, self._pos + _ROWS_PER_CHECK)
            seqs = self._seqs[self._pos : stop]
            self._pos = stop
            for lo, hi in _contiguous(seqs):
                held = max(lo, store.first_seq)
                self.skipped += min(held, hi) - lo
                self.written += max(0, hi - held)
                lines.extend(self._lines(held, hi))
        if self._pcapng is not None:
            data = self._packets.getvalue()
            self._packets.seek(0)
            self._packets.truncate()
            return data
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def _lines(self, lo: int, hi: int) -> list[str]:
        """The rows ``[lo, hi)`` as lines (for pcapng, as packets into the buffer)."""
        lines: list[str] = []
        for segment in self._model.store.segments(lo, hi):
            context = self._model.context(segment.session)
            rows = zip(segment.walls, segment.payloads, strict=True)
            if self._kind == "text":
                lines += self._formatter.lines(
                    segment.session, segment.direction, segment.walls, segment.payloads,
                    context.encoding,
                )  # fmt: skip
            elif self._kind == "jsonl":
                value = segment.direction.value
                peer, framing, encoding = context.peer, context.framing, context.encoding
                lines.extend(
                    log_row_json(
                        wall,
                        segment.session,
                        value,
                        payload,
                        peer=peer,
                        framing=framing,
                        encoding=encoding,
                    )
                    for wall, payload in rows
                )
            elif self._pcapng is not None and segment.direction in DATA_DIRECTIONS:
                generation, number = parse_session_name(segment.session)
                for wall, payload in rows:
                    self._pcapng.add(
                        FrameRecord(
                            t=wall, session=number, dir=segment.direction.value,
                            payload=payload, peer=context.peer, framing=context.framing,
                            engine=generation,
                        )
                    )  # fmt: skip
        return lines

    def _report(self, writer: BackgroundWriter) -> None:
        if writer.error is not None:
            self.failed.emit(f"cannot save to {self.path}: {writer.error.strerror}")
        else:
            self.finished.emit(self.written, self.path)


def _contiguous(seqs: range | array[int]) -> Iterator[tuple[int, int]]:
    """``[lo, hi)`` ranges covering the ascending ``seqs``, merged where they touch."""
    if isinstance(seqs, range) or not seqs or seqs[-1] - seqs[0] == len(seqs) - 1:
        if len(seqs):
            yield seqs[0], seqs[-1] + 1
        return
    for _, group in itertools.groupby(enumerate(seqs), lambda item: item[1] - item[0]):
        members = list(group)
        yield members[0][1], members[-1][1] + 1
