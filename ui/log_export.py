"""Save the log's visible rows to a file, in slices, so a million rows never freeze the GUI.

The format follows the file name: ``.jsonl``/``.json`` writes the recording format
(``ui.formatting.log_row_json``, docs/recording.md), ``.pcapng`` a pcapng file of the
frames with synthetic TCP/IP headers (``ipc.pcapng``), anything else tab-separated text
(``ui.formatting.log_row_text``). The rows saved are those the view shows when saving
starts (the filter applies); rows dropped past the cap meanwhile are skipped.
"""

from __future__ import annotations

from typing import IO, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ipc.pcapng import RecordingExporter
from ipc.recording import FrameRecord
from ui.formatting import log_row_json, log_row_text, parse_session_name
from ui.log_model import LogModel
from ui.log_store import Direction, LogRow

__all__ = ["ROWS_PER_SLICE", "LogExporter", "export_format"]

ROWS_PER_SLICE = 20_000


def export_format(path: str) -> str:
    """``"jsonl"``, ``"pcapng"`` or ``"text"``, from the file name."""
    lower = path.lower()
    if lower.endswith(".pcapng"):
        return "pcapng"
    return "jsonl" if lower.endswith((".jsonl", ".json")) else "text"


class LogExporter(QObject):
    """Writes ``model``'s visible rows to ``path``; ``finished(rows, path)`` or ``failed``."""

    progressed = Signal(int)
    finished = Signal(int, str)
    failed = Signal(str)

    def __init__(self, model: LogModel, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._path = path
        self._kind = export_format(path)
        self._seqs = list(model.visible_seqs())
        self._pos = 0
        self._written = 0
        self._file: IO[Any] | None = None
        self._pcapng: RecordingExporter | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_slice)

    def start(self) -> None:
        try:
            if self._kind == "pcapng":
                self._file = open(self._path, "wb")  # noqa: SIM115 (closed in _end)
                self._pcapng = RecordingExporter(self._file)
            else:
                self._file = open(self._path, "w", encoding="utf-8")  # noqa: SIM115 (closed in _end)
        except OSError as exc:
            message = f"cannot save: {exc}"
            QTimer.singleShot(0, self, lambda: self.failed.emit(message))
            return
        self._timer.start()

    def _on_slice(self) -> None:
        assert self._file is not None
        store = self._model.store
        end = min(len(self._seqs), self._pos + ROWS_PER_SLICE)
        rows = [store.row(seq) for seq in self._seqs[self._pos : end] if seq >= store.first_seq]
        try:
            if self._pcapng is not None:
                self._add_packets(rows)
            elif rows:
                self._file.write("\n".join(map(self._line, rows)) + "\n")
        except OSError as exc:
            self._end()
            self.failed.emit(f"cannot save: {exc}")
            return
        self._written += len(rows)
        self._pos = end
        self.progressed.emit(self._written)
        if self._pos >= len(self._seqs):
            self._end()
            self.finished.emit(self._written, self._path)

    def _line(self, row: LogRow) -> str:
        direction = row.direction.value
        if self._kind == "text":
            return log_row_text(row.wall, row.session, direction, row.payload)
        context = self._model.context(row.session)
        return log_row_json(
            row.wall, row.session, direction, row.payload,
            peer=context.peer, framing=context.framing, encoding=context.encoding,
        )  # fmt: skip

    def _add_packets(self, rows: list[LogRow]) -> None:
        assert self._pcapng is not None
        for row in rows:
            if row.direction in (Direction.IN, Direction.OUT):
                generation, number = parse_session_name(row.session)
                context = self._model.context(row.session)
                self._pcapng.add(
                    FrameRecord(
                        t=row.wall, session=number, dir=row.direction.value, payload=row.payload,
                        peer=context.peer, framing=context.framing, engine=generation,
                    )
                )  # fmt: skip

    def _end(self) -> None:
        self._timer.stop()
        if self._file is not None:
            self._file.close()
            self._file = None
