"""What a controller that attaches is told: the engine as the events so far left it.

The long-lived engine (``--serve-ipc``) hands every event to the ``Journal`` right after
the event pump delivered it to the attached controllers (``pump.Observer``), in the same
step: at any moment the journal has seen exactly what those controllers were sent. An
``attach`` therefore gets a snapshot (``Journal.take``) that the live events following it
continue with no gap and no overlap, however busy the engine is.

The snapshot is a map of *parts*, one per kind of thing a controller shows: the
sessions (accepted ones and relay legs with their role, listener and pair), the
listeners, the relay pairs. Each part follows the events (``Part.observe``) and says what
it holds (``Part.snapshot``); a new kind is a ``Part`` and one line in
``Journal.__init__``. The
frames each session received and sent recently come from ``history.History`` and are
replayed as ``history`` events after the snapshot.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from engine.rpc.history import Chunk, History
from ipc.schema import (
    Accepted,
    Closed,
    Connected,
    ConnectFailed,
    Connecting,
    Direction,
    Event,
    ListenerClosed,
    Listening,
    PairClosed,
    PairOpened,
    Received,
    Sent,
    SessionError,
)

__all__ = [
    "ENDED_PAIRS_KEPT",
    "ENDED_SESSIONS_KEPT",
    "Journal",
    "ListenersPart",
    "PairsPart",
    "Part",
    "SessionsPart",
]

#: Ended sessions listed in a snapshot (with their history), the most recent ones.
ENDED_SESSIONS_KEPT = 100
#: Ended relay pairs listed in a snapshot, the most recent ones.
ENDED_PAIRS_KEPT = 100


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
            started = self._start(event.session_id, event.label, event.host, event.port, event)
            if event.pair_id is not None:  # a relay's upstream leg
                started.update(role="relay", pair_id=event.pair_id, leg="upstream")
            return
        if isinstance(event, Accepted):
            host, _, port = event.peer.rpartition(":")
            started = self._start(
                event.session_id, event.label, host.strip("[]"), int(port or 0), event
            )
            started.update(
                state="connected",
                local=event.local,
                peer=event.peer,
                role="accept" if event.pair_id is None else "relay",
                listener_id=event.listener_id,
            )
            if event.pair_id is not None:
                started.update(pair_id=event.pair_id, leg="client")
            return
        if isinstance(event, PairOpened):
            upstream = self._live.get(event.upstream_session_id)
            if upstream is not None:
                upstream["listener_id"] = event.listener_id
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

    def _start(
        self, session_id: int, label: str, host: str, port: int, event: Connecting | Accepted
    ) -> dict[str, Any]:
        info = self._live[session_id] = {
            "session_id": session_id,
            "label": label,
            "host": host,
            "port": port,
            "state": "connecting",
            "framing": event.framing,
            "frames_in": 0,
            "bytes_in": 0,
            "frames_out": 0,
            "bytes_out": 0,
            "opened_at": event.at,
            "local": "",
            "peer": "",
            "role": "connect",
        }
        return info

    def _end(self, session_id: int) -> None:
        self._ended[session_id] = self._live.pop(session_id)
        if len(self._ended) > ENDED_SESSIONS_KEPT:
            forgotten, _ = self._ended.popitem(last=False)
            if self._on_forget is not None:
                self._on_forget(forgotten)


class ListenersPart(Part):
    """The live listeners: their ``listening`` event's fields (but ``at``, as
    ``opened_at``) and the clients they accepted and still hold (``list_listeners``)."""

    def __init__(self) -> None:
        self._live: dict[int, dict[str, Any]] = {}
        #: Which listener each live accepted session (or relay client leg) came from.
        self._clients: dict[int, int] = {}

    def observe(self, event: Event) -> None:
        if isinstance(event, Listening):
            info = event.to_params()
            info["opened_at"] = info.pop("at")
            info.update(clients=0, accepted=0)
            self._live[event.listener_id] = info
        elif isinstance(event, ListenerClosed):
            self._live.pop(event.listener_id, None)
        elif isinstance(event, Accepted):
            self._clients[event.session_id] = event.listener_id
            listener = self._live.get(event.listener_id)
            if listener is not None:
                listener["clients"] += 1
                listener["accepted"] += 1
        elif isinstance(event, Closed):
            listener = self._live.get(self._clients.pop(event.session_id, -1))
            if listener is not None:
                listener["clients"] -= 1

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(info) for info in self._live.values()]


class PairsPart(Part):
    """The relay pairs: both legs, the frames relayed each way; ended ones stay listed
    (with their ``reason``) until ``ENDED_PAIRS_KEPT`` newer ones have ended."""

    def __init__(self) -> None:
        self._live: dict[int, dict[str, Any]] = {}
        self._ended: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        #: The pair and direction of the frames each live leg reads.
        self._legs: dict[int, tuple[dict[str, Any], str]] = {}

    def observe(self, event: Event) -> None:
        if isinstance(event, Accepted) and event.pair_id is not None:
            pair = self._live[event.pair_id] = {
                "pair_id": event.pair_id,
                "listener_id": event.listener_id,
                "client_session_id": event.session_id,
                "upstream_session_id": None,
                "client": event.peer,
                "upstream": "",
                "state": "connecting",
                "frames_c2s": 0,
                "bytes_c2s": 0,
                "frames_s2c": 0,
                "bytes_s2c": 0,
                "opened_at": event.at,
            }
            self._legs[event.session_id] = (pair, "c2s")
        elif isinstance(event, PairOpened):
            opened = self._live.get(event.pair_id)
            if opened is not None:
                opened.update(
                    upstream_session_id=event.upstream_session_id,
                    upstream=event.upstream,
                    state="open",
                )
                self._legs[event.upstream_session_id] = (opened, "s2c")
        elif isinstance(event, PairClosed):
            closed = self._live.pop(event.pair_id, None)
            if closed is not None:
                closed.update(event.to_params())
                closed["state"] = "closed"
                closed["closed_at"] = closed.pop("at")
                for leg in (closed["client_session_id"], closed["upstream_session_id"]):
                    self._legs.pop(leg, None)
                self._ended[event.pair_id] = closed
                if len(self._ended) > ENDED_PAIRS_KEPT:
                    self._ended.popitem(last=False)

    def observe_frames(
        self, session_id: int, direction: Direction, frames: list[bytes], nbytes: int
    ) -> None:
        leg = self._legs.get(session_id)
        if leg is not None and direction == "in":  # a leg's own sends are injected frames
            pair, way = leg
            pair["frames_" + way] += len(frames)
            pair["bytes_" + way] += nbytes

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(info) for info in (*self._ended.values(), *self._live.values())]


class Journal:
    """The pump's observer on a long-lived engine: the snapshot parts and the history."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.parts: dict[str, Part] = {
            "sessions": SessionsPart(on_forget=history.forget),
            "listeners": ListenersPart(),
            "pairs": PairsPart(),
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
