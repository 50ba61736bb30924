"""Continuous capture: every frame and session event of an engine, to a recording file.

``Capture`` turns the engine's events into recording lines (``ipc.recording``: one JSON
object per frame, both directions, every session, plus ``open``/``close``/``error`` lines)
and appends them to a file, rotating it by size: at ``max_bytes`` ``capture.jsonl`` becomes
``capture.1.jsonl``, ``.1`` becomes ``.2`` and so on, and the oldest beyond ``keep`` goes.
The first line of each capture run is an ``engine`` event (session ids restart with each
engine run).

The engine hands each event to ``record`` before its consumer sees it. Lines are formatted
and written by a task of the engine's nursery, the file writes in a worker thread, in
batches of whatever has queued up; the queue is bounded, so a disk slower than the network
slows the sessions' reads (TCP back-pressure) and nothing is dropped. In the GUI's case all
of this happens in the engine process: the window never waits on a capture.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import trio

from ipc import schema
from ipc.errors import SchemaError
from ipc.framing import FramingSpec, describe
from ipc.recording import event_line, frame_line

__all__ = ["DEFAULT_CAPTURE_BYTES", "DEFAULT_CAPTURE_KEEP", "Capture", "rotated_name"]

#: Size at which a capture file is rotated, and how many rotated files are kept: at most
#: (keep + 1) x max_bytes of disk.
DEFAULT_CAPTURE_BYTES = 100 * 1024 * 1024
DEFAULT_CAPTURE_KEEP = 5

#: Events queued for the writer; the bound is what pushes back on the sessions.
_QUEUE = 256
#: Events formatted and written per trip to the worker thread, at most.
_BATCH = 1024


@dataclass(slots=True)
class _Meta:
    """What every line of a session repeats."""

    peer: str = ""
    local: str = ""
    framing: str = ""


def rotated_name(path: Path, number: int) -> Path:
    """``capture.jsonl`` -> ``capture.1.jsonl`` (the extension stays last)."""
    return path.with_name(f"{path.stem}.{number}{path.suffix}")


class Capture:
    """Writes an engine's events to ``path`` (see the module docstring).

    Raises:
        OSError: on construction, if ``path`` cannot be opened for appending.
        ValueError: ``max_bytes`` or ``keep`` out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_CAPTURE_BYTES,
        keep: int = DEFAULT_CAPTURE_KEEP,
        clock_offset: float | None = None,
    ) -> None:
        if max_bytes < 1024:
            raise ValueError(f"a capture's max_bytes must be at least 1024, not {max_bytes}")
        if not 0 <= keep <= 1000:
            raise ValueError(f"a capture keeps 0 to 1000 rotated files, not {keep}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self._file: TextIO | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._size = self._file.tell()
        self._offset = time.time() - trio.current_time() if clock_offset is None else clock_offset
        self._send, self._receive = trio.open_memory_channel[schema.Event](_QUEUE)
        #: Per live session: peer, local, framing (from connecting/connected).
        self._sessions: dict[int, _Meta] = {}
        self.lines = 0
        #: Why writing stopped (a full disk), or None.
        self.error: OSError | None = None
        self._done = trio.Event()
        self._pending = [
            event_line(
                time.time(), 0, "engine", detail=f"framewire engine pid {os.getpid()} capture"
            )
        ]

    async def record(self, event: schema.Event) -> None:
        """Queue ``event``; waits while the writer is a full queue behind."""
        if self.error is None:
            await self._send.send(event)

    async def run(self) -> None:
        """The writer task: format queued events, write them, rotate; until ``aclose``."""
        try:
            async for event in self._receive:
                batch = [event]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                lines, self._pending = self._pending, []
                for item in batch:
                    lines.extend(self._lines(item))
                if lines and self.error is None:
                    await trio.to_thread.run_sync(self._write, lines)
            if self._pending and self.error is None:
                await trio.to_thread.run_sync(self._write, self._pending)
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._done.set()

    async def aclose(self) -> None:
        """Stop taking events, write what is queued, close the file."""
        self._send.close()
        await self._done.wait()

    def _lines(self, event: schema.Event) -> list[str]:
        sid = getattr(event, "session_id", 0)
        t = getattr(event, "at", 0.0) + self._offset
        if isinstance(event, schema.Received | schema.Sent):
            m = self._sessions.get(sid) or _Meta()
            direction = "in" if isinstance(event, schema.Received) else "out"
            pair = None
            if event.pair_id is not None and event.direction is not None:
                # A relay leg's frame: the way it went (c2s, s2c) and its pair.
                direction, pair = event.direction, {"pair": event.pair_id}
            return [
                frame_line(
                    t, sid, direction, frame, peer=m.peer, local=m.local, framing=m.framing,
                    extra=pair,
                )
                for frame in event.frames
            ]  # fmt: skip
        if isinstance(event, schema.Connecting):
            try:
                framing = describe(FramingSpec.from_wire(event.framing))
            except SchemaError:
                framing = ""
            self._sessions[sid] = _Meta(peer=f"{event.host}:{event.port}", framing=framing)
            return []
        if isinstance(event, schema.Connected | schema.Accepted):
            m = self._sessions.setdefault(sid, _Meta())
            m.peer, m.local = event.peer, event.local
            if isinstance(event, schema.Accepted):  # an accepted client: no Connecting
                with contextlib.suppress(SchemaError):
                    m.framing = describe(FramingSpec.from_wire(event.framing))
            return [self._event(t, sid, "open", "", m)]
        if isinstance(event, schema.SessionError):
            return [self._event(t, sid, "error", event.message, self._sessions.get(sid))]
        if isinstance(event, schema.Closed):
            return [self._event(t, sid, "close", event.by, self._sessions.pop(sid, None))]
        if isinstance(event, schema.ConnectFailed):
            return [self._event(t, sid, "error", event.message, self._sessions.pop(sid, None))]
        return []

    @staticmethod
    def _event(t: float, sid: int, kind: str, detail: str, m: _Meta | None) -> str:
        m = m or _Meta()
        return event_line(
            t, sid, kind, detail=detail, peer=m.peer, local=m.local, framing=m.framing
        )

    def _write(self, lines: list[str]) -> None:
        """In the worker thread: append ``lines``, rotating before a line that would not fit.

        A file holds whole lines and at most ``max_bytes`` (a single longer line gets a
        file of its own).
        """
        assert self._file is not None
        chunk: list[str] = []
        try:
            for line in lines:
                size = len(line.encode("utf-8")) + 1 if not line.isascii() else len(line) + 1
                if self._size and self._size + size > self.max_bytes:
                    self._flush(chunk)
                    chunk = []
                    self._rotate()
                chunk.append(line)
                self._size += size
            self._flush(chunk)
        except OSError as exc:
            self.error = exc

    def _flush(self, chunk: list[str]) -> None:
        assert self._file is not None
        if chunk:
            self._file.write("\n".join(chunk) + "\n")
            self._file.flush()
            self.lines += len(chunk)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        if self.keep:
            oldest = rotated_name(self.path, self.keep)
            if oldest.exists():
                oldest.unlink()
            for number in range(self.keep - 1, 0, -1):
                older = rotated_name(self.path, number)
                if older.exists():
                    older.rename(rotated_name(self.path, number + 1))
            self.path.rename(rotated_name(self.path, 1))
        else:
            self.path.unlink()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._size = 0
