"""The log's rows, stored as the batches they arrived in (Qt-free).

Strategy: a ``received`` event carries many frames; the store keeps them as one *batch*
instead of building a row object per frame. A batch of many small frames is *packed*:
their bytes joined into one ``bytes`` object plus an ``array`` of offsets, so it costs
no per-frame object and, above all, nothing to Python's cyclic garbage collector. A list
of 8,192 ``bytes`` is a container the collector must traverse item by item at every
collection of its generation; with a million rows held, such traversals took 10-30 ms
pauses of the GUI thread (measured: tools/bench/gui.py), where the packed form takes
none. Small batches, and batches of big frames (which a slice would copy on every read),
keep their payloads in a tuple, which the collector stops tracking after one look.

Rows have absolute sequence numbers that never change; the oldest batches are dropped
(whole or in part) to keep at most ``cap`` rows, and the number of rows dropped is
counted. A row is found by bisecting the batches' start numbers.

Filtering is a scan over a range of sequence numbers that skips whole batches whose
session or direction does not match; a text filter searches a packed batch's joined
bytes with ``bytes.find`` and maps each hit back to its row.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate

__all__ = ["DEFAULT_LOG_CAP", "Direction", "LogFilter", "LogRow", "LogStore"]

#: Default bound on rows held: 1,000,000 100-byte frames is about 110 MB (packed).
DEFAULT_LOG_CAP = 1_000_000
#: A batch is packed when it has at least this many frames...
PACK_MIN_FRAMES = 8
#: ...of at most this many bytes on average (a read slices a packed payload out: cheap
#: for small frames, a copy of the whole payload for big ones).
PACK_MAX_AVERAGE_BYTES = 4096


class Direction(Enum):
    IN = "in"  #: a frame received from the peer
    OUT = "out"  #: a frame written to the peer
    INFO = "info"  #: a session or engine event (connected, closed, engine restarted, ...)
    ERROR = "error"  #: something failed (connect refused, oversize frame, engine crashed)


@dataclass(frozen=True, slots=True)
class LogRow:
    seq: int
    wall: float
    session: str
    direction: Direction
    payload: bytes


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which rows to show; ``None``/empty fields match everything."""

    session: str | None = None
    direction: Direction | None = None
    text: str = ""
    #: A test of a frame's session and payload (the log's field expression); it decodes,
    #: so a scan with one runs in small steps (``LogModel``). Notes never pass it.
    payload_test: Callable[[str, bytes], bool] | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.session is None
            and self.direction is None
            and not self.text
            and self.payload_test is None
        )


_NO_OFFSETS = array("Q")


class _Batch:
    """Rows ``start .. start + count - 1``: a list of payloads, or packed (``blob`` holds
    payload k at ``blob[offsets[k]:offsets[k + 1]]``)."""

    __slots__ = ("blob", "count", "direction", "offsets", "payloads", "session", "start", "wall")

    def __init__(
        self, start: int, session: str, direction: Direction, wall: float, payloads: list[bytes]
    ) -> None:
        self.start = start
        self.session = session
        self.direction = direction
        self.wall = wall
        self.count = len(payloads)
        self.payloads: tuple[bytes, ...] | None = None
        self.blob = b""
        self.offsets = _NO_OFFSETS
        if self.count >= PACK_MIN_FRAMES:
            offsets = array("Q", accumulate(map(len, payloads), initial=0))
            if offsets[-1] <= PACK_MAX_AVERAGE_BYTES * self.count:
                self.blob = b"".join(payloads)
                self.offsets = offsets
                return
        # A tuple of bytes, unlike a list, is untracked by the collector once it has seen it.
        self.payloads = tuple(payloads)

    def payload(self, k: int) -> bytes:
        if self.payloads is not None:
            return self.payloads[k]
        return self.blob[self.offsets[k] : self.offsets[k + 1]]

    def find(self, needle: bytes, k0: int, k1: int) -> list[int]:
        """Indexes ``k0 <= k < k1`` of the payloads that contain ``needle`` (non-empty)."""
        if self.payloads is not None:
            payloads = self.payloads
            return [k for k in range(k0, k1) if needle in payloads[k]]
        blob, offsets, found = self.blob, self.offsets, []
        end = offsets[k1]
        pos = blob.find(needle, offsets[k0], end)
        while pos != -1:
            k = bisect.bisect_right(offsets, pos, k0, k1 + 1) - 1
            if pos + len(needle) <= offsets[k + 1]:
                found.append(k)
                pos = blob.find(needle, offsets[k + 1], end)  # one hit per row is enough
            else:
                pos = blob.find(needle, pos + 1, end)  # the hit spans two rows
        return found


class LogStore:
    """Append-only, front-trimmed storage of log rows in batches."""

    def __init__(self, cap: int = DEFAULT_LOG_CAP) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self._batches: list[_Batch] = []
        self._starts: list[int] = []
        self._head = 0  # index of the first live batch; earlier entries await compaction
        self.first_seq = 0  # first row still held
        self.end_seq = 0  # one past the last row
        self.dropped = 0  # rows discarded to respect the cap
        self._sessions: dict[str, None] = {}

    def __len__(self) -> int:
        return self.end_seq - self.first_seq

    def append(self, session: str, direction: Direction, wall: float, payloads: list[bytes]) -> int:
        """Add one batch of rows (kept as the list or packed); return how many rows."""
        if not payloads:
            return 0
        if session not in self._sessions:
            self._sessions[session] = None
        self._batches.append(_Batch(self.end_seq, session, direction, wall, payloads))
        self._starts.append(self.end_seq)
        self.end_seq += len(payloads)
        return len(payloads)

    def excess(self) -> int:
        """Rows beyond the cap, which ``trim`` would drop."""
        return max(0, len(self) - self.cap)

    def trim(self) -> int:
        """Drop the oldest rows beyond the cap; return how many were dropped."""
        excess = self.excess()
        if not excess:
            return 0
        self.first_seq += excess
        self.dropped += excess
        head = bisect.bisect_right(self._starts, self.first_seq, lo=self._head) - 1
        self._head = max(head, self._head)
        if self._head > 1024 and self._head * 2 > len(self._batches):
            del self._batches[: self._head]
            del self._starts[: self._head]
            self._head = 0
        return excess

    def clear(self) -> int:
        """Forget every row (the user cleared the log; not counted as dropped)."""
        count = len(self)
        self._batches.clear()
        self._starts.clear()
        self._head = 0
        self.first_seq = self.end_seq
        return count

    def _batch_index(self, seq: int) -> int:
        if not self.first_seq <= seq < self.end_seq:
            raise IndexError(f"row {seq} is not held (have {self.first_seq}..{self.end_seq})")
        return bisect.bisect_right(self._starts, seq, lo=self._head) - 1

    def row(self, seq: int) -> LogRow:
        """The row with sequence number ``seq``.

        Raises:
            IndexError: the row was dropped or does not exist yet.
        """
        batch = self._batches[self._batch_index(seq)]
        payload = batch.payload(seq - batch.start)
        return LogRow(seq, batch.wall, batch.session, batch.direction, payload)

    def rows(self, lo: int, hi: int) -> Iterator[LogRow]:
        """Rows with ``lo <= seq < hi`` (clamped to those held), in order."""
        lo, hi = max(lo, self.first_seq), min(hi, self.end_seq)
        if lo >= hi:
            return
        i = self._batch_index(lo)
        while i < len(self._batches):
            b = self._batches[i]
            if b.start >= hi:
                return
            for k in range(max(lo, b.start) - b.start, min(hi - b.start, b.count)):
                yield LogRow(b.start + k, b.wall, b.session, b.direction, b.payload(k))
            i += 1

    def match(self, flt: LogFilter, lo: int, hi: int) -> list[int]:
        """Sequence numbers in ``[lo, hi)`` whose row passes ``flt``, in order."""
        lo, hi = max(lo, self.first_seq), min(hi, self.end_seq)
        if lo >= hi:
            return []
        needle = flt.text.encode("utf-8") if flt.text else b""
        out: list[int] = []
        i = self._batch_index(lo)
        while i < len(self._batches):
            b = self._batches[i]
            i += 1
            if b.start >= hi:
                break
            if (flt.session is not None and b.session != flt.session) or (
                flt.direction is not None and b.direction != flt.direction
            ):
                continue
            k0, k1 = max(lo, b.start) - b.start, min(hi - b.start, b.count)
            found = b.find(needle, k0, k1) if needle else range(k0, k1)
            test = flt.payload_test
            if test is not None:
                if b.direction not in (Direction.IN, Direction.OUT):
                    continue
                found = [k for k in found if test(b.session, b.payload(k))]
            out.extend(b.start + k for k in found)
        return out

    def sessions(self) -> list[str]:
        """Distinct session names ever logged (for the filter menu), in order first seen."""
        return list(self._sessions)
