"""What a controller that attaches is told: the engine as the events so far left it.

The long-lived engine (``--serve-ipc``) hands every event to the ``Journal`` right after
the event pump delivered it to the attached controllers (``pump.Observer``), in the same
step: at any moment the journal has seen exactly what those controllers were sent. An
``attach`` therefore gets a snapshot (``Journal.take``) that the live events following it
continue with no gap and no overlap, however busy the engine is.

The snapshot is a map of *parts*, one per kind of thing a controller shows. Each part
follows the events (``Part.observe``) and says what it holds (``Part.snapshot``); a new
kind (listeners, relay pairs) is a ``Part`` and one line in ``Journal.__init__``. The
frames each session received and sent recently come from ``history.History`` and are
replayed as ``history`` events after the snapshot.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from engine.rpc.history import Chunk, History
from ipc.schema import (
    Closed,
    Connected,
    ConnectFailed,
    Connecting,
    Direction,
    Event,
    Received,
    Sent,
    SessionError,
)

__all__ = ["ENDED_SESSIONS_KEPT", "Journal", "Part", "SessionsPart"]

#: Ended sessions listed in a snapshot (with their history), the most recent ones.
ENDED_SESSIONS_KEPT = 100


class Part:
    """One kind of thing in the snapshot: follows the events, lists what it holds."""

    def observe(self, event: Event) -> None:
        """A non-frame event was delivered."""

    def observe_frames(
        self, session_id: int, direction: Direction, frames: list[bytes], nbytes: int
    ) -> None:
        """A batch of frames (``nbytes`` of payload) was delivered."""

    def snapshot(self) -> list[dict[str, Any]]:
        raise NotImplementedError


class SessionsPart(Part):
    """The sessions: ``list_sessions`` maps, built from the events (not from the sessions
    themselves, which run a few events ahead of what was delivered).

    Ended sessions stay listed, with ``closed_by``, ``closed_at`` and ``error``, until
    ``ENDED_SESSIONS_KEPT`` newer ones have ended; ``on_forget(session_id)`` is called
    then (their history goes too).
    """

    def __init__(self, on_forget: Callable[[int], None] | None = None) -> None:
        self._live: dict[int, dict[str, Any]] = {}
        self._ended: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self._on_forget = on_forget

    def observe(self, event: Event) -> None:
        if isinstance(event, Connecting):
            self._live[event.session_id] = {
                "session_id": event.session_id,
                "label": event.label,
                "host": event.host,
                "port": event.port,
                "state": "connecting",
                "framing": event.framing,
                "frames_in": 0,
                "bytes_in": 0,
                "frames_out": 0,
                "bytes_out": 0,
                "opened_at": event.at,
                "local": "",
                "peer": "",
            }
            return
        info = self._live.get(getattr(event, "session_id", -1))
        if info is None:
            return
        if isinstance(event, Connected):
            info.update(state="connected", local=event.local, peer=event.peer)
        elif isinstance(event, SessionError):
            info["error"] = {"kind": event.kind, "message": event.message}
        elif isinstance(event, ConnectFailed):
            info.update(state="failed", closed_at=event.at)
            info["error"] = {"kind": event.reason, "message": event.message}
            self._end(event.session_id)
        elif isinstance(event, Closed):
            info.update(
                state="closed",
                closed_by=event.by,
                closed_at=event.at,
                frames_in=event.frames_in,
                bytes_in=event.bytes_in,
                frames_out=event.frames_out,
                bytes_out=event.bytes_out,
            )
            self._end(event.session_id)

    def observe_frames(
        self, session_id: int, direction: Direction, frames: list[bytes], nbytes: int
    ) -> None:
        info = self._live.get(session_id)
        if info is not None:
            suffix = "in" if direction == "in" else "out"
            info["frames_" + suffix] += len(frames)
            info["bytes_" + suffix] += nbytes

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(info) for info in (*self._ended.values(), *self._live.values())]

    def _end(self, session_id: int) -> None:
        self._ended[session_id] = self._live.pop(session_id)
        if len(self._ended) > ENDED_SESSIONS_KEPT:
            forgotten, _ = self._ended.popitem(last=False)
            if self._on_forget is not None:
                self._on_forget(forgotten)


class Journal:
    """The pump's observer on a long-lived engine: the snapshot parts and the history."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.parts: dict[str, Part] = {
            "sessions": SessionsPart(on_forget=history.forget),
        }

    def add_part(self, name: str, part: Part) -> None:
        """Another kind of thing in every snapshot (the transport adds ``controllers``)."""
        self.parts[name] = part

    def observe_event(self, event: Event) -> None:
        for part in self.parts.values():
            part.observe(event)

    def observe_frames(
        self,
        kind: type[Received | Sent],
        session_id: int,
        frames: list[bytes],
        times: list[list[float]],
        nbytes: int,
    ) -> None:
        direction: Direction = "in" if kind is Received else "out"
        for part in self.parts.values():
            part.observe_frames(session_id, direction, frames, nbytes)
        self.history.record(session_id, direction, frames, times, nbytes)

    def take(self, *, history: bool) -> tuple[dict[str, Any], list[Chunk]]:
        """The snapshot map and the frames to replay (none unless ``history``)."""
        snapshot: dict[str, Any] = {name: part.snapshot() for name, part in self.parts.items()}
        replay = self.history.replay() if history else []
        snapshot["history"] = {
            "frames": sum(len(c.frames) for c in replay),
            "bytes": sum(c.payload for c in replay),
            "sessions": len({c.session_id for c in replay}),
        }
        return snapshot, replay
