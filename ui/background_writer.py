"""Writing a file from a thread of its own, so the GUI thread never waits on a disk
(Qt-free).

The GUI thread formats text in slices of bounded time and hands the bytes over with
``offer``, which never blocks: when ``MAX_PENDING_BYTES`` are already waiting, it says no
and the caller offers again on a later turn (a slow disk slows the save down, it never
stalls the window). The thread only writes; a write error is kept in ``error`` and ends
the thread. ``finish`` asks the thread to write what is queued and close the file;
``done`` tells when it has. With ``replace``, the bytes go to ``PATH.part`` and replace
``PATH`` only once all of them are written (a cancelled or failed save leaves no
half-written file, and an older file of that name intact).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import BinaryIO

__all__ = ["MAX_PENDING_BYTES", "BackgroundWriter"]

#: Bytes handed over and not yet written, at most (about 0.1 s of a disk's worth).
MAX_PENDING_BYTES = 8 << 20


class BackgroundWriter:
    """Writes what it is offered to ``path``, in order, from a daemon thread.

    Raises (from the constructor): ``OSError`` if the file cannot be opened.
    """

    def __init__(
        self,
        path: str,
        *,
        append: bool = False,
        replace: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.path = path
        self._target = path + ".part" if replace else path
        self._replace = replace
        # Unbuffered: each chunk handed over is on disk once written (tail -f sees it).
        self._file: BinaryIO = open(self._target, "ab" if append else "wb", buffering=0)  # noqa: SIM115
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._max_pending = max_pending_bytes
        self._finishing = False
        self._cancelled = False
        #: The error that ended the writing, if any (the rest is not written).
        self.error: OSError | None = None
        #: Bytes written so far.
        self.written = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background-writer", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """The thread is over: everything written and the file closed (or an error, or a
        cancel)."""
        return self._done.is_set()

    def has_room(self) -> bool:
        with self._lock:
            return self._pending < self._max_pending

    def offer(self, data: bytes) -> bool:
        """Queue ``data`` unless ``MAX_PENDING_BYTES`` are already waiting (then False:
        offer it again later). Never blocks."""
        if self._finishing or self.error is not None:
            return False
        with self._lock:
            if self._pending >= self._max_pending:
                return False
            self._pending += len(data)
        self._queue.put(data)
        return True

    def finish(self) -> None:
        """Write what is queued, close the file (and with ``replace``, put it in place)."""
        if not self._finishing:
            self._finishing = True
            self._queue.put(None)

    def cancel(self) -> None:
        """Stop soon, dropping what is queued; with ``replace``, nothing is left behind."""
        self._cancelled = True
        self.finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread (tests and shutdown only: the GUI polls ``done``)."""
        return self._done.wait(timeout)

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                if self._cancelled or self.error is not None:
                    continue
                try:
                    self._write_all(data)
                except OSError as exc:
                    self.error = exc
                self.written += len(data)
                with self._lock:
                    self._pending -= len(data)
            self._close()
        finally:
            self._done.set()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # an unbuffered write may take only part of it
            written = self._file.write(view)
            if not written:
                raise OSError(f"the write to {self._target} made no progress")
            view = view[written:]

    def _close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc
        if not self._replace:
            return
        if self._cancelled or self.error is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._target)
            return
        try:
            os.replace(self._target, self.path)
        except OSError as exc:
            self.error = exc
