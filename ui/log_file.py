"""``--log-file``: the window's log rows, the GUI's own log lines and the engine's stderr,
appended to one file without ever making the window wait.

The log rows (frames, session events, errors, Do it! results) are *followed*: every
``FOLLOW_INTERVAL_MS`` the rows appended to the log model's store since the last look
are formatted in slices of at most ``SLICE_SECONDS`` (``ui.log_text``: full dates, text
escaped or hex) and handed to a ``BackgroundWriter``. If a flood outruns the file (the
writer's queue is full, or the cap drops rows before their turn), the rows skipped are
said in one line instead of holding memory. The GUI's ``logging`` lines and the engine's
stderr lines are written as they come, through the same writer (``write``: a file-like
sink for ``logging.StreamHandler`` and ``EngineSupervisor.stderr_sink``).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

from ipc.text import DEFAULT_ENCODING
from ui.background_writer import BackgroundWriter
from ui.log_model import LogModel
from ui.log_store import LogStore
from ui.log_text import RowFormatter, format_datetime

__all__ = ["CLOSE_TIMEOUT_S", "FOLLOW_INTERVAL_MS", "SLICE_SECONDS", "LogFile"]

#: How often new rows are looked for.
FOLLOW_INTERVAL_MS = 100
#: GUI-thread time per look, at most (more rows wait for the next look).
SLICE_SECONDS = 0.004
#: Rows formatted between two looks at the clock.
_ROWS_PER_CHECK = 256
#: How long ``close`` waits for the writer to finish the file.
CLOSE_TIMEOUT_S = 5.0


class LogFile(QObject):
    """Appends to ``path``; follows ``store`` once ``follow`` is called.

    Raises (from the constructor): ``OSError`` if the file cannot be opened.
    """

    def __init__(self, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._writer = BackgroundWriter(path, append=True)
        self._formatter = RowFormatter()
        self._store: LogStore | None = None
        self._model: LogModel | None = None
        self._next = 0  # the first row not written yet
        self.skipped = 0  # rows not written (dropped by the cap, or the disk too slow)
        self._timer = QTimer(self)
        self._timer.setInterval(FOLLOW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

    def follow(self, model: LogModel) -> None:
        """Write ``model``'s rows from now on (those it holds already included), each
        session's in its text encoding."""
        self._model = model
        self._store = model.store
        self._next = model.store.first_seq
        self._timer.start()

    # -- a text sink (logging.StreamHandler, the supervisor's engine stderr)

    def write(self, text: str) -> int:
        if text:
            self._writer.offer(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        """Nothing to do: the writer's thread writes as soon as it can."""

    # -- following the rows

    def _on_timer(self) -> None:
        self._write_rows(time.perf_counter() + SLICE_SECONDS)

    def _write_rows(self, deadline: float) -> None:
        store = self._store
        if store is None:
            return
        if self._next < store.first_seq:  # dropped by the cap before their turn
            self._skip(store.first_seq - self._next)
            self._next = store.first_seq
        lines: list[str] = []
        while self._next < store.end_seq and time.perf_counter() < deadline:
            if not self._writer.has_room():
                break  # the disk is behind: these rows wait (or are dropped) meanwhile
            hi = min(store.end_seq, self._next + _ROWS_PER_CHECK)
            for segment in store.segments(self._next, hi):
                encoding = self._model.context(segment.session).encoding if self._model else None
                lines += self._formatter.lines(
                    segment.session, segment.direction, segment.walls, segment.payloads,
                    encoding or DEFAULT_ENCODING,
                )  # fmt: skip
            self._next = hi
        if lines:
            self._writer.offer(("\n".join(lines) + "\n").encode())

    def _skip(self, rows: int) -> None:
        self.skipped += rows
        self.write(
            f"{format_datetime(time.time())}\t\tinfo\t\t{rows:,} log rows were dropped before "
            "they were written (the log's cap, or a disk slower than the traffic)\n"
        )

    def close(self) -> None:
        """Write the rows still due, then close the file (waits for the disk, boundedly:
        only when the window is closing)."""
        self._timer.stop()
        give_up = time.monotonic() + CLOSE_TIMEOUT_S
        store = self._store
        while store is not None and self._next < store.end_seq and time.monotonic() < give_up:
            self._write_rows(deadline=float("inf"))
            if not self._writer.has_room():
                time.sleep(0.005)  # the writer's thread is writing: its queue drains
        self._writer.finish()
        self._writer.wait(max(0.0, give_up - time.monotonic()))
