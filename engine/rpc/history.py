"""The recent frames of every session, kept for controllers that attach later (sans-IO).

A long-lived engine (``--serve-ipc``) keeps, per session, the last ``frames_per_session``
frames or ``MAX_SESSION_PAYLOAD_BYTES`` of payload, whichever is less, in both directions;
across all sessions at most ``total_bytes`` of estimated memory (payload plus
``FRAME_OVERHEAD_BYTES`` per frame and ``CHUNK_OVERHEAD_BYTES`` per batch), the oldest
frames of any session going first. ``replay()`` lists what is kept, oldest first across
sessions, which is what a GUI's log wants.

Frames are recorded a batch (one ``received``/``sent`` notification) at a time and kept
as the lists they arrived in: nothing is copied, and a trimmed batch becomes a new, shorter
list, so a replay taken earlier keeps seeing what it was given.
"""

from __future__ import annotations

import bisect
import collections
import itertools
from dataclasses import dataclass

from ipc.schema import Direction

__all__ = [
    "CHUNK_OVERHEAD_BYTES",
    "DEFAULT_FRAMES_PER_SESSION",
    "DEFAULT_TOTAL_BYTES",
    "FRAME_OVERHEAD_BYTES",
    "MAX_SESSION_PAYLOAD_BYTES",
    "Chunk",
    "History",
]

#: Frames kept per session (both directions together), unless configured otherwise.
DEFAULT_FRAMES_PER_SESSION = 10_000
#: Payload kept per session at most.
MAX_SESSION_PAYLOAD_BYTES = 16 * 1024 * 1024
#: Estimated memory the whole history may hold, unless configured otherwise.
DEFAULT_TOTAL_BYTES = 256 * 1024 * 1024
#: What a kept frame costs beyond its payload (a bytes object's header, its list slot).
FRAME_OVERHEAD_BYTES = 64
#: What a kept batch costs beyond its frames (its record and the queues' slots).
CHUNK_OVERHEAD_BYTES = 160


@dataclass(slots=True)
class Chunk:
    """One batch of frames of one session and direction, as it was delivered: ``times``
    as in its notification (``[[at, count], ...]``, ``ipc.schema.Received.times``)."""

    session_id: int
    direction: Direction
    frames: list[bytes]
    times: list[list[float]]
    payload: int
    kept: bool = True

    @property
    def at(self) -> float:
        return self.times[0][0]

    @property
    def cost(self) -> int:
        return self.payload + FRAME_OVERHEAD_BYTES * len(self.frames) + CHUNK_OVERHEAD_BYTES


class _Session:
    __slots__ = ("chunks", "frames", "payload")

    def __init__(self) -> None:
        self.chunks: collections.deque[Chunk] = collections.deque()
        self.frames = 0
        self.payload = 0


class History:
    """Bounded per session and in total; see the module docstring."""

    def __init__(
        self,
        *,
        frames_per_session: int = DEFAULT_FRAMES_PER_SESSION,
        total_bytes: int = DEFAULT_TOTAL_BYTES,
    ) -> None:
        self._frames_per_session = frames_per_session
        self._total_limit = total_bytes
        self._sessions: dict[int, _Session] = {}
        # Every chunk in recording order. One its session dropped stays here (empty, its
        # record's overhead still counted in the total) until it reaches the front, so
        # the total bounds this queue too.
        self._order: collections.deque[Chunk] = collections.deque()
        self._total = 0

    def statistics(self) -> dict[str, int]:
        """Frames and payload bytes kept, the sessions they belong to, the memory estimate."""
        return {
            "frames": sum(s.frames for s in self._sessions.values()),
            "bytes": sum(s.payload for s in self._sessions.values()),
            "sessions": len(self._sessions),
            "memory": self._total,
        }

    def record(
        self,
        session_id: int,
        direction: Direction,
        frames: list[bytes],
        times: list[list[float]],
        payload: int | None = None,
    ) -> None:
        """Keep a delivered batch (the lists are kept as they are: do not change them);
        ``payload`` is its frames' total length, if the caller knows it already."""
        if self._frames_per_session <= 0 or not frames:
            return
        if payload is None:
            payload = sum(map(len, frames))
        chunk = Chunk(session_id, direction, frames, times, payload)
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = _Session()
        session.chunks.append(chunk)
        session.frames += len(frames)
        session.payload += chunk.payload
        self._order.append(chunk)
        self._total += chunk.cost
        self._trim_session(session)
        while self._total > self._total_limit and self._order:
            # The front is always kept (``_release`` clears dropped records from it), and
            # a session's chunks are in recording order: this is its owner's first.
            oldest = self._order[0]
            owner = self._sessions[oldest.session_id]
            owner.chunks.popleft()
            if not owner.chunks:
                del self._sessions[oldest.session_id]
            self._release(owner, oldest)

    def forget(self, session_id: int) -> None:
        """Drop a session's frames (it ended long ago)."""
        session = self._sessions.pop(session_id, None)
        while session is not None and session.chunks:
            self._release(session, session.chunks.popleft())

    def replay(self) -> list[Chunk]:
        """What is kept, oldest first across sessions: copies of the records, so recording
        more later changes nothing in this list."""
        return [
            Chunk(c.session_id, c.direction, c.frames, c.times, c.payload)
            for c in self._order
            if c.kept
        ]

    def _trim_session(self, session: _Session) -> None:
        """Drop the session's oldest frames until both of its bounds hold (its newest
        frame always stays, even when it alone is over the payload bound)."""
        limit = self._frames_per_session
        while True:
            over_frames = session.frames - limit
            over_payload = session.payload - MAX_SESSION_PAYLOAD_BYTES
            if over_frames <= 0 and over_payload <= 0:
                return
            oldest = session.chunks[0]
            if len(session.chunks) > 1 and (
                over_frames >= len(oldest.frames) or over_payload >= oldest.payload
            ):
                session.chunks.popleft()
                self._release(session, oldest)
                continue
            # Cut the oldest batch's head: as few frames as both bounds allow. Strategy: a
            # batch holds up to 8,192 frames, so the cut is found with C loops (running
            # byte totals and a bisect), not a Python loop per frame.
            last = len(oldest.frames) - (len(session.chunks) == 1)
            count = min(max(over_frames, 0), last)
            if over_payload > 0:
                totals = list(itertools.accumulate(map(len, oldest.frames[:last])))
                if count == 0 or totals[count - 1] < over_payload:
                    count = min(bisect.bisect_left(totals, over_payload) + 1, last)
                size = totals[count - 1] if count else 0
            else:
                size = sum(map(len, oldest.frames[:count]))
            if count == len(oldest.frames):
                session.chunks.popleft()
                self._release(session, oldest)
                continue
            before = oldest.cost
            oldest.frames = oldest.frames[count:]  # new lists: replays keep theirs
            oldest.times = _without_first(oldest.times, count)
            oldest.payload -= size
            session.frames -= count
            session.payload -= size
            self._total -= before - oldest.cost
            return

    def _release(self, session: _Session, chunk: Chunk) -> None:
        """``chunk`` left ``session``: free its frames; its record leaves the order
        queue when it reaches the front."""
        session.frames -= len(chunk.frames)
        session.payload -= chunk.payload
        self._total -= chunk.cost - CHUNK_OVERHEAD_BYTES
        chunk.kept = False
        chunk.frames = []
        chunk.payload = 0
        while self._order and not self._order[0].kept:
            self._order.popleft()
            self._total -= CHUNK_OVERHEAD_BYTES


def _without_first(times: list[list[float]], count: int) -> list[list[float]]:
    """``times`` runs for the frames after the first ``count``."""
    rest: list[list[float]] = []
    for at, run in times:
        skipped = min(count, int(run))
        count -= skipped
        if run > skipped:
            rest.append([at, run - skipped])
    return rest
