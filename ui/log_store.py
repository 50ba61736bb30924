"""The log's rows, stored compactly: payload bytes in large chunks, the rest in arrays
(Qt-free).

Strategy (issue 17: a million 100-byte rows held 884 MB of the GUI's memory): a row is
never an object. Payload bytes lie back to back in *chunks*: a batch of frames of
``BIG_BATCH_BYTES`` or more (what a flood delivers) is joined into a chunk of its own, a
frame that big that came alone is kept as the object it came in, and smaller batches are
appended to one open chunk of up to ``CHUNK_BYTES``. The fixed-size facts of a row live
in arrays, in *pages* of ``PAGE_ROWS`` rows: its time (8 bytes), its chunk's number and
where its payload ends in it (4 each). A row's session and direction are stored once per
*run* of consecutive rows that share them. So a row costs 16 bytes plus its payload,
however the frames were batched (one per event or 8,192), and arrays and byte buffers
give Python's cyclic garbage collector nothing to traverse (a list of a million
``bytes`` made it pause the GUI thread for 10-30 ms). Strings are made only for rows a
view shows (``LogRow``, built on demand), and a row's payload is a slice of its chunk
(``payload(seq)``).

Rows have absolute sequence numbers that never change; the oldest rows are dropped to
keep at most ``cap`` (whole pages, chunks and runs are freed once no row held uses them),
and the number dropped is counted. Finding a row is two bisections over short lists.

Filtering scans a range of sequence numbers run by run, skipping runs whose session or
direction does not match; a text filter searches each chunk's bytes with ``find`` (C
speed) and maps each hit back to its row.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate
from typing import NamedTuple

__all__ = [
    "BIG_BATCH_BYTES",
    "CHUNK_BYTES",
    "DATA_DIRECTIONS",
    "DEFAULT_LOG_CAP",
    "PAGE_ROWS",
    "Direction",
    "LogFilter",
    "LogRow",
    "LogStore",
    "Segment",
]

#: Default bound on rows held: 1,000,000 100-byte frames take about 120 MB here.
DEFAULT_LOG_CAP = 1_000_000
#: Rows per page of the per-row arrays (a page is freed once all its rows are dropped).
PAGE_ROWS = 1 << 16
#: Bytes of payload per chunk (a chunk is freed once all its rows are dropped).
CHUNK_BYTES = 4 << 20
#: Batches of this many bytes or more are a chunk each (see ``LogStore._place``); a payload
#: this big that came alone is kept as the object it came in (no copy in, none out).
BIG_BATCH_BYTES = 64 * 1024


class Direction(Enum):
    IN = "in"  #: a frame received from the peer
    OUT = "out"  #: a frame written to the peer
    INFO = "info"  #: a session or engine event (connected, closed, engine restarted, ...)
    ERROR = "error"  #: something failed (connect refused, oversize frame, engine crashed)
    C2S = "c2s"  #: a relayed frame, from the client to the server
    S2C = "s2c"  #: a relayed frame, from the server to the client


#: The directions of rows that are frames (the others are notes).
DATA_DIRECTIONS = frozenset({Direction.IN, Direction.OUT, Direction.C2S, Direction.S2C})


_DIRECTIONS = list(Direction)
_DATA = DATA_DIRECTIONS
_DIRECTION_CODE = {d: i for i, d in enumerate(_DIRECTIONS)}


class LogRow(NamedTuple):
    """One row, made when asked for (the store keeps none of these)."""

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


class _Page:
    """The arrays of rows ``start .. start + len(walls) - 1``.

    A row's payload is ``chunk[begin:end]`` where ``end`` is its entry in ``ends`` and
    ``begin`` the previous row's end when that row is in the same chunk (payloads of a
    chunk lie back to back), else 0; the page's first row begins at ``first_begin``.
    """

    __slots__ = ("chunks", "ends", "first_begin", "start", "walls")

    def __init__(self, start: int) -> None:
        self.start = start
        self.first_begin = 0
        self.walls = array("d")
        self.chunks = array("I")  # absolute chunk number
        self.ends = array("I")  # where the payload ends in its chunk

    def __len__(self) -> int:
        return len(self.walls)

    def begin(self, k: int) -> int:
        """Where row ``k``'s payload begins in its chunk."""
        if k == 0:
            return self.first_begin
        return self.ends[k - 1] if self.chunks[k - 1] == self.chunks[k] else 0


class Segment(NamedTuple):
    """Consecutive rows from ``start`` on that share a session and direction."""

    start: int
    session: str
    direction: Direction
    walls: array[float]
    payloads: list[bytes]


class LogStore:
    """Append-only, front-trimmed storage of log rows (see the module docstring)."""

    def __init__(self, cap: int = DEFAULT_LOG_CAP) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self.first_seq = 0  # first row still held
        self.end_seq = 0  # one past the last row
        self.dropped = 0  # rows discarded to respect the cap
        self._pages: list[_Page] = []
        self._page_starts: list[int] = []
        # Chunk k (absolute) is self._chunks[k - self._chunk_base]; the last one may be the
        # open bytearray that small batches are appended to.
        self._chunks: list[bytes | bytearray] = []
        self._chunk_base = 0
        self._open: bytearray | None = None
        # Runs: rows from run_starts[i] on (to the next run) share a session and direction.
        self._run_starts = array("q")
        self._run_sessions = array("I")
        self._run_directions = array("B")
        self._run_head = 0  # first run that may hold a live row
        self._session_names: list[str] = []
        self._session_index: dict[str, int] = {}

    def __len__(self) -> int:
        return self.end_seq - self.first_seq

    # ------------------------------------------------------------------ appending

    def append(self, session: str, direction: Direction, wall: float, payloads: list[bytes]) -> int:
        """Add rows, one per payload, all with time ``wall``; return how many."""
        count = len(payloads)
        if not count:
            return 0
        self._start_run(session, direction)
        done = 0
        while done < count:
            page = self._writable_page()
            take = min(count - done, PAGE_ROWS - len(page))
            self._place(page, payloads[done : done + take] if done or take < count else payloads)
            page.walls.extend(array("d", [wall]) * take)
            done += take
            self.end_seq += take
        return count

    def _start_run(self, session: str, direction: Direction) -> None:
        index = self._session_index.get(session)
        if index is None:
            index = self._session_index[session] = len(self._session_names)
            self._session_names.append(session)
        code = _DIRECTION_CODE[direction]
        runs = len(self._run_starts)
        if (
            runs > self._run_head
            and self._run_sessions[-1] == index
            and self._run_directions[-1] == code
        ):
            return
        self._run_starts.append(self.end_seq)
        self._run_sessions.append(index)
        self._run_directions.append(code)

    def _writable_page(self) -> _Page:
        if not self._pages or len(self._pages[-1]) >= PAGE_ROWS:
            self._pages.append(_Page(self.end_seq))
            self._page_starts.append(self.end_seq)
        return self._pages[-1]

    def _place(self, page: _Page, payloads: list[bytes]) -> None:
        """Store ``payloads``' bytes in a chunk; record where in ``page``'s arrays.

        Strategy: the bytes are copied once. A batch of ``BIG_BATCH_BYTES`` or more (a
        flood's notification, a big frame) becomes a chunk of its own: its payloads
        joined, or the one payload as it came. Smaller batches are appended to the open
        chunk, which is closed (copied to ``bytes``, once) when full.
        """
        data = payloads[0] if len(payloads) == 1 else b"".join(payloads)
        size = len(data)
        begin = len(self._open) if self._open is not None else 0
        if size >= BIG_BATCH_BYTES or begin + size > CHUNK_BYTES:
            self._close_open()
            begin = 0
        if size >= BIG_BATCH_BYTES:
            self._chunks.append(data)
        else:
            if self._open is None:
                self._open = bytearray()
                self._chunks.append(self._open)
            self._open += data
        ends = array("I", accumulate(map(len, payloads), initial=begin))
        del ends[0]
        if not len(page):
            page.first_begin = begin
        page.chunks.extend(array("I", [self._chunk_base + len(self._chunks) - 1]) * len(ends))
        page.ends.extend(ends)

    def _close_open(self) -> None:
        """No more payloads go into the open chunk: keep its bytes as ``bytes`` (a read
        then slices them with no second copy, and no room is left over)."""
        if self._open is not None:
            self._chunks[-1] = bytes(self._open)
            self._open = None

    # ------------------------------------------------------------------ dropping

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
        self._free_before(self.first_seq)
        return excess

    def clear(self) -> int:
        """Forget every row (the user cleared the log; not counted as dropped)."""
        count = len(self)
        self.first_seq = self.end_seq
        self._pages.clear()
        self._page_starts.clear()
        self._chunk_base += len(self._chunks)
        self._chunks.clear()
        self._open = None
        self._run_head = len(self._run_starts)
        self._compact_runs()
        return count

    def _free_before(self, first: int) -> None:
        """Free pages, chunks and runs that hold no row from ``first`` on."""
        page_index = bisect.bisect_right(self._page_starts, first) - 1
        if page_index > 0:
            del self._pages[:page_index]
            del self._page_starts[:page_index]
        if first < self.end_seq:
            page = self._pages[0]
            oldest = page.chunks[first - page.start]
            if oldest > self._chunk_base:
                del self._chunks[: oldest - self._chunk_base]
                self._chunk_base = oldest
        self._run_head = max(
            self._run_head, bisect.bisect_right(self._run_starts, first, lo=self._run_head) - 1
        )
        self._compact_runs()

    def _compact_runs(self) -> None:
        if self._run_head > 4096 and self._run_head * 2 > len(self._run_starts):
            head = self._run_head
            del self._run_starts[:head]
            del self._run_sessions[:head]
            del self._run_directions[:head]
            self._run_head = 0

    # ------------------------------------------------------------------ reading

    def _check(self, seq: int) -> None:
        if not self.first_seq <= seq < self.end_seq:
            raise IndexError(f"row {seq} is not held (have {self.first_seq}..{self.end_seq})")

    def _locate(self, seq: int) -> tuple[_Page, int]:
        page = self._pages[bisect.bisect_right(self._page_starts, seq) - 1]
        return page, seq - page.start

    def _run(self, seq: int) -> int:
        return bisect.bisect_right(self._run_starts, seq, lo=self._run_head) - 1

    def _payload_at(self, page: _Page, k: int) -> bytes:
        chunk = self._chunks[page.chunks[k] - self._chunk_base]
        begin, end = page.begin(k), page.ends[k]
        if type(chunk) is bytes:
            if begin == 0 and end == len(chunk):
                return chunk  # a payload that came alone, as it came
            return chunk[begin:end]
        return bytes(chunk[begin:end])  # the open chunk

    def payload(self, seq: int) -> bytes:
        """The payload of row ``seq`` (cheap: a slice of its chunk).

        Raises:
            IndexError: the row was dropped or does not exist yet.
        """
        self._check(seq)
        return self._payload_at(*self._locate(seq))

    def row(self, seq: int) -> LogRow:
        """The row with sequence number ``seq``.

        Raises:
            IndexError: the row was dropped or does not exist yet.
        """
        self._check(seq)
        page, k = self._locate(seq)
        run = self._run(seq)
        return LogRow(
            seq,
            page.walls[k],
            self._session_names[self._run_sessions[run]],
            _DIRECTIONS[self._run_directions[run]],
            self._payload_at(page, k),
        )

    def rows(self, lo: int, hi: int) -> Iterator[LogRow]:
        """Rows with ``lo <= seq < hi`` (clamped to those held), in order."""
        for segment in self.segments(lo, hi):
            session, direction = segment.session, segment.direction
            for seq, wall, payload in zip(
                itertools.count(segment.start), segment.walls, segment.payloads, strict=False
            ):
                yield LogRow(seq, wall, session, direction, payload)

    def segments(self, lo: int, hi: int) -> Iterator[Segment]:
        """The rows with ``lo <= seq < hi`` (clamped to those held) as segments of rows
        that share a session and direction: what a loop over a million rows wants
        (saving the log), with the per-row work left to C where it can be."""
        lo, hi = max(lo, self.first_seq), min(hi, self.end_seq)
        seq = lo
        while seq < hi:
            run = self._run(seq)
            run_end = self._run_end(run, hi)
            session = self._session_names[self._run_sessions[run]]
            direction = _DIRECTIONS[self._run_directions[run]]
            while seq < run_end:
                page, k = self._locate(seq)
                stop = min(run_end, page.start + len(page)) - page.start
                yield Segment(
                    seq, session, direction, page.walls[k:stop], self._payloads(page, k, stop)
                )
                seq = page.start + stop

    def _payloads(self, page: _Page, k: int, stop: int) -> list[bytes]:
        """The payloads of rows ``k .. stop - 1`` of ``page``, sliced chunk by chunk."""
        chunks, ends = page.chunks, page.ends
        out: list[bytes] = []
        while k < stop:
            number = chunks[k]
            k_stop = bisect.bisect_right(chunks, number, k, stop)
            data = self._chunks[number - self._chunk_base]
            begins = array("I", [page.begin(k)])
            begins.extend(ends[k : k_stop - 1])
            if type(data) is bytes:
                out.extend(map(data.__getitem__, map(slice, begins, ends[k:k_stop])))
            else:  # the open chunk: its slices are bytearrays
                out.extend(bytes(data[b:e]) for b, e in zip(begins, ends[k:k_stop], strict=True))
            k = k_stop
        return out

    def _run_end(self, run: int, hi: int) -> int:
        if run + 1 < len(self._run_starts):
            return min(hi, self._run_starts[run + 1])
        return hi

    def match(self, flt: LogFilter, lo: int, hi: int) -> list[int]:
        """Sequence numbers in ``[lo, hi)`` whose row passes ``flt``, in order."""
        lo, hi = max(lo, self.first_seq), min(hi, self.end_seq)
        needle = flt.text.encode("utf-8") if flt.text else b""
        session = self._session_index.get(flt.session, -1) if flt.session is not None else None
        direction = _DIRECTION_CODE[flt.direction] if flt.direction is not None else None
        test = flt.payload_test
        out: list[int] = []
        seq = lo
        while seq < hi:
            run = self._run(seq)
            run_end = self._run_end(run, hi)
            code = self._run_directions[run]
            if (
                (session is None or self._run_sessions[run] == session)
                and (direction is None or code == direction)
                and (test is None or _DIRECTIONS[code] in _DATA)
            ):
                found: list[int] | range = range(seq, run_end)
                if needle:
                    found = []
                    self._find(needle, seq, run_end, found)
                if test is not None:
                    name = self._session_names[self._run_sessions[run]]
                    found = [q for q in found if test(name, self.payload(q))]
                out.extend(found)
            seq = run_end
        return out

    def _find(self, needle: bytes, lo: int, hi: int, out: list[int]) -> None:
        """Append the rows of ``[lo, hi)`` whose payload contains ``needle`` (a hit that
        spans two payloads of a chunk does not count)."""
        seq = lo
        while seq < hi:
            page, k = self._locate(seq)
            k_end = min(hi, page.start + len(page)) - page.start
            chunks, ends = page.chunks, page.ends
            while k < k_end:
                number = chunks[k]
                k_stop = bisect.bisect_right(chunks, number, k, k_end)  # rows in this chunk
                data = self._chunks[number - self._chunk_base]
                end = ends[k_stop - 1]
                pos = data.find(needle, page.begin(k), end)
                while pos != -1:
                    row = bisect.bisect_right(ends, pos, k, k_stop)  # the row holding pos
                    if pos + len(needle) <= ends[row]:
                        out.append(page.start + row)
                        pos = data.find(needle, ends[row], end)  # one hit per row is enough
                    else:
                        pos = data.find(needle, pos + 1, end)  # the hit spans two rows
                k = k_stop
            seq = page.start + k_end

    def sessions(self) -> list[str]:
        """Distinct session names ever logged (for the filter menu), in order first seen."""
        return list(self._session_names)
