"""Save the log's visible rows to a file, in slices, so a million rows never freeze the GUI.

The format follows the file name: ``.jsonl``/``.json`` writes JSON lines
(``ui.formatting.log_row_json``), anything else tab-separated text
(``ui.formatting.log_row_text``). The rows saved are those the view shows when saving
starts (the filter applies); rows dropped past the cap meanwhile are skipped.
"""

from __future__ import annotations

from typing import TextIO

from PySide6.QtCore import QObject, QTimer, Signal

from ui.formatting import log_row_json, log_row_text
from ui.log_model import LogModel

__all__ = ["ROWS_PER_SLICE", "LogExporter", "export_format"]

ROWS_PER_SLICE = 20_000


def export_format(path: str) -> str:
    """``"jsonl"`` or ``"text"``, from the file name."""
    return "jsonl" if path.lower().endswith((".jsonl", ".json")) else "text"


class LogExporter(QObject):
    """Writes ``model``'s visible rows to ``path``; ``finished(rows, path)`` or ``failed``."""

    progressed = Signal(int)
    finished = Signal(int, str)
    failed = Signal(str)

    def __init__(self, model: LogModel, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._path = path
        self._format = log_row_json if export_format(path) == "jsonl" else log_row_text
        self._seqs = list(model.visible_seqs())
        self._pos = 0
        self._written = 0
        self._file: TextIO | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_slice)

    def start(self) -> None:
        try:
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
        fmt = self._format
        lines = []
        for seq in self._seqs[self._pos : end]:
            if seq >= store.first_seq:
                row = store.row(seq)
                lines.append(fmt(row.wall, row.session, row.direction.value, row.payload))
        try:
            if lines:
                self._file.write("\n".join(lines) + "\n")
        except OSError as exc:
            self._end()
            self.failed.emit(f"cannot save: {exc}")
            return
        self._written += len(lines)
        self._pos = end
        self.progressed.emit(self._written)
        if self._pos >= len(self._seqs):
            self._end()
            self.finished.emit(self._written, self._path)

    def _end(self) -> None:
        self._timer.stop()
        if self._file is not None:
            self._file.close()
            self._file = None
