"""Coalescing frame events into notifications (sans-IO: neither trio nor Qt).

Consecutive ``received`` (or ``sent``) events of one session become one notification of
at most ``MAX_FRAMES_PER_NOTIFICATION`` frames / ``MAX_NOTIFICATION_PAYLOAD_BYTES``
(Neovim batches redraws the same way), so a flood costs one message per batch, not one
per frame. The caller (``pump``) decides when a batch ends early: when the next event is
of another kind or session, or when no event is waiting.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator

from ipc.codec import encode_notification
from ipc.rpc import frames_credit
from ipc.schema import Event, Received, Sent

__all__ = [
    "MAX_FRAMES_PER_NOTIFICATION",
    "MAX_NOTIFICATION_PAYLOAD_BYTES",
    "FrameBatcher",
    "OnDelivered",
]

#: Hears of each batch delivered: ``(kind, session_id, frames, times, payload bytes)``,
#: ``times`` as in the notification (``[[at, count], ...]``, one run at least).
OnDelivered = Callable[[type[Received | Sent], int, list[bytes], list[list[float]], int], None]

#: Coalescing caps for one ``received``/``sent`` notification; both are far below the
#: codec's MAX_ARRAY_LEN / MAX_MESSAGE_BYTES.
MAX_FRAMES_PER_NOTIFICATION = 8192
MAX_NOTIFICATION_PAYLOAD_BYTES = 1024 * 1024


class _Batch:
    """Frames of one kind and session on their way into one notification."""

    __slots__ = ("direction", "frames", "kind", "nbytes", "pair_id", "session_id", "times")

    def __init__(self, event: Received | Sent) -> None:
        self.kind: type[Received | Sent] = type(event)
        self.session_id = event.session_id
        # A session's frames of one kind all share these (a relay leg's, or None).
        self.pair_id = event.pair_id
        self.direction = event.direction
        self.frames: list[bytes] = []
        self.nbytes = 0
        #: ``[time, count]`` per event whose frames the batch holds (each frame keeps the
        #: time its event gave it; see ``Received.times``).
        self.times: list[list[float]] = []

    def extend(self, frames: list[bytes], nbytes: int, at: float) -> None:
        self.frames += frames
        self.nbytes += nbytes
        times = self.times
        if times and times[-1][0] == at:
            times[-1][1] += len(frames)
        else:
            times.append([at, len(frames)])

    def accepts(self, event: Event) -> bool:
        return (
            isinstance(event, Received | Sent)
            and type(event) is self.kind
            and event.session_id == self.session_id
        )

    @property
    def full(self) -> bool:
        return (
            len(self.frames) >= MAX_FRAMES_PER_NOTIFICATION
            or self.nbytes >= MAX_NOTIFICATION_PAYLOAD_BYTES
        )

    def encode(self, on_delivered: OnDelivered | None) -> Iterator[tuple[bytes, int]]:
        """The notification and its credit cost; nothing if the batch is empty. Calls
        ``on_delivered`` when asked for what follows, i.e. once the consumer is done
        with this one."""
        if self.frames:
            times = self.times
            params: dict[str, object] = {
                "session_id": self.session_id,
                "frames": self.frames,
                "at": times[0][0],
            }
            if len(times) > 1:
                params["times"] = times
            if self.pair_id is not None:
                params.update(pair_id=self.pair_id, direction=self.direction)
            cost = frames_credit(self.nbytes, len(self.frames))
            yield encode_notification(self.kind.METHOD, params), cost
            if on_delivered is not None:
                on_delivered(self.kind, self.session_id, self.frames, times, self.nbytes)


class FrameBatcher:
    """Turns frame events into encoded notifications ``(bytes, credit cost)``.

    ``add`` yields the notifications an event completes and keeps the rest for the next
    event; ``flush`` yields what is kept. Consume each iterator before the next call.
    ``on_delivered(kind, session_id, frames, times, nbytes)``, if given, hears of each batch once
    the consumer asks for the next notification (or the iterator's end) after it: what
    the consumer did with it (the pump: handed it to every controller) is done then.
    """

    def __init__(self, on_delivered: OnDelivered | None = None) -> None:
        self._batch: _Batch | None = None
        self._on_delivered = on_delivered

    def add(self, event: Received | Sent) -> Iterator[tuple[bytes, int]]:
        """Append ``event``'s frames, yielding each batch as it fills up.

        Strategy: one socket read brings ~10,000 small frames, more than one notification
        holds, so the split must not cost Python work per frame: slices by count, and a
        bisect over the running byte total (both C loops) where the byte cap bites.
        """
        batch, self._batch = self._batch, None
        if batch is not None and not batch.accepts(event):
            yield from batch.encode(self._on_delivered)
            batch = None
        frames = event.frames
        start = 0
        while start < len(frames):
            if batch is None:
                batch = _Batch(event)
            piece = frames[start : start + MAX_FRAMES_PER_NOTIFICATION - len(batch.frames)]
            room = MAX_NOTIFICATION_PAYLOAD_BYTES - batch.nbytes
            nbytes = sum(map(len, piece))
            if nbytes > room:
                totals = list(itertools.accumulate(map(len, piece)))
                cut = bisect.bisect_right(totals, room)
                if cut == 0 and not batch.frames:
                    cut = 1  # one frame larger than the cap travels alone
                piece = piece[:cut]
                nbytes = totals[cut - 1] if cut else 0
            batch.extend(piece, nbytes, event.at)
            start += len(piece)
            if batch.full or start < len(frames):
                yield from batch.encode(self._on_delivered)
                batch = None
        self._batch = batch if batch is not None else _Batch(event)

    def flush(self) -> Iterator[tuple[bytes, int]]:
        """Yield the batch kept so far, if it holds frames, and start afresh."""
        batch, self._batch = self._batch, None
        if batch is not None:
            yield from batch.encode(self._on_delivered)
