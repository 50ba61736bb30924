"""Which log rows an engine event becomes (Qt-free).

Data events become one batch of rows each (the event's list of frames is kept as is), or
one per run of frames with the same time when the event carries ``times``;
state events become one informational or error row with a readable text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from ipc import schema
from ipc.closed_text import closed_text
from ipc.diagnosis import Diagnosis
from ipc.tls import TlsInfo
from ui.formatting import listener_name, pair_name, plural, session_name
from ui.log_store import Direction
from ui.tls_text import is_unverified, note_text

__all__ = ["ENGINE_SESSION", "LogEntry", "RelayLeg", "diagnosis_text", "log_entries"]

#: The session column for rows about the engine itself.
ENGINE_SESSION = "engine"


class LogEntry(NamedTuple):
    session: str
    direction: Direction
    wall: float
    payloads: list[bytes]


class RelayLeg(NamedTuple):
    """A session that is one leg of a relay pair: the pair, and whether it is the client's
    leg (else the upstream's)."""

    pair_id: int
    client: bool


def _note(session: str, direction: Direction, wall: float, text: str) -> LogEntry:
    return LogEntry(session, direction, wall, [text.encode("utf-8")])


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """A diagnosis as the window says it: what the bytes look like, and the framing to
    pick (in the Framing box, or with Guess framing)."""
    if diagnosis.suggestion is None:
        return diagnosis.summary
    return f"{diagnosis.summary}: choose framing {diagnosis.suggestion}"


def log_entries(
    generation: int,
    clock_offset: float,
    events: list[schema.Event],
    legs: Mapping[int, RelayLeg] | None = None,
    pair_of: Callable[[int], int | None] | None = None,
) -> Iterator[LogEntry]:
    """Log rows for ``events`` of engine ``generation``; ``at + clock_offset`` is wall time.

    ``legs`` names the relay legs among the sessions (by session id) of an engine attached
    to: their ``history`` events carry no pair, and are logged as the pair's frames, as
    its live ones are. ``pair_of(session_id)``: the relay pair a session is a leg of, if
    any (its TLS notes are the pair's rows, as its frames are).
    """
    for ev in events:
        wall = ev.at + clock_offset if hasattr(ev, "at") else 0.0
        sid = getattr(ev, "session_id", None)
        name = session_name(generation, sid) if sid is not None else ENGINE_SESSION
        if isinstance(ev, schema.Received | schema.Sent | schema.History):
            incoming = isinstance(ev, schema.Received) or (
                isinstance(ev, schema.History) and ev.direction == "in"
            )
            direction = Direction.IN if incoming else Direction.OUT
            if not isinstance(ev, schema.History) and ev.pair_id is not None:
                # A relay leg's frames are the pair's, with the way they went.
                name = pair_name(generation, ev.pair_id)
                direction = Direction.C2S if ev.direction == "c2s" else Direction.S2C
            elif isinstance(ev, schema.History) and legs and ev.session_id in legs:
                # Read from the client or written to the upstream: client to server.
                leg = legs[ev.session_id]
                name = pair_name(generation, leg.pair_id)
                direction = Direction.C2S if incoming == leg.client else Direction.S2C
            if not ev.times:
                yield LogEntry(name, direction, wall, ev.frames)
                continue
            start = 0  # frames of several reads: each run keeps its own time
            for at, count in ev.spans():
                frames = ev.frames[start : start + count]
                start += count
                yield LogEntry(name, direction, at + clock_offset, frames)
        elif isinstance(ev, schema.Connecting):
            label = f" ({ev.label})" if ev.label else ""
            if ev.pair_id is not None:
                text = f"{name} connecting to the upstream {ev.host}:{ev.port}"
                yield _note(pair_name(generation, ev.pair_id), Direction.INFO, wall, text)
            else:
                text = f"connecting to {ev.host}:{ev.port}{label}"
                yield _note(name, Direction.INFO, wall, text)
        elif isinstance(ev, schema.Accepted):
            listener = listener_name(generation, ev.listener_id)
            if ev.pair_id is not None:
                text = f"client {ev.peer} connected to {listener} ({ev.local}), as {name}"
                yield _note(pair_name(generation, ev.pair_id), Direction.INFO, wall, text)
            else:
                text = f"accepted {ev.peer} on {listener} ({ev.local})"
                yield _note(name, Direction.INFO, wall, text)
        elif isinstance(ev, schema.Listening | schema.ListenerClosed | schema.PairOpened):
            yield from _role_notes(generation, wall, ev)
        elif isinstance(ev, schema.PairClosed):
            text = (
                f"pair closed: {ev.reason} (→ {plural(ev.frames_c2s, 'frame')} / "
                f"{ev.bytes_c2s} B, ← {plural(ev.frames_s2c, 'frame')} / {ev.bytes_s2c} B)"
            )
            yield _note(pair_name(generation, ev.pair_id), Direction.INFO, wall, text)
        elif isinstance(ev, schema.Connected):
            yield _note(name, Direction.INFO, wall, f"connected {ev.local} → {ev.peer}")
        elif isinstance(ev, schema.TlsEstablished):
            info = TlsInfo.from_wire(ev.tls)
            if info is not None:
                direction = Direction.ERROR if is_unverified(info) else Direction.INFO
                text = note_text(info)
                pair = pair_of(ev.session_id) if pair_of is not None else None
                if pair is not None:  # a relay leg: which side of the pair
                    side = "with the client" if info.side == "server" else "with the upstream"
                    name, text = pair_name(generation, pair), f"TLS {side}: {text[5:]}"
                yield _note(name, direction, wall, text)
        elif isinstance(ev, schema.ConnectFailed):
            yield _note(name, Direction.ERROR, wall, f"connect failed ({ev.reason}): {ev.message}")
        elif isinstance(ev, schema.SessionError):
            yield _note(name, Direction.ERROR, wall, f"{ev.kind}: {ev.message}")
        elif isinstance(ev, schema.Closed):
            reason = ev.details.get("reason")
            why = f": {reason}" if isinstance(reason, str) and reason else ""
            yield _note(
                name, Direction.INFO, wall,
                f"{closed_text(ev.by)}{why} (in {plural(ev.frames_in, 'frame')} / {ev.bytes_in} B, "
                f"out {plural(ev.frames_out, 'frame')} / {ev.bytes_out} B)",
            )  # fmt: skip
            diagnosis = Diagnosis.from_wire(ev.details.get("diagnosis"))
            if diagnosis is not None:
                yield _note(name, Direction.ERROR, wall, diagnosis_text(diagnosis))
        elif isinstance(ev, schema.HistoryEnd):
            text = (
                f"{plural(ev.frames, 'frame')} from before this window attached are above; "
                "live traffic from here"
            )
            yield _note(ENGINE_SESSION, Direction.INFO, wall, text)
        elif isinstance(ev, schema.ChannelClosed):
            text = f"the engine closed this window's connection ({ev.reason}): {ev.message}"
            yield _note(ENGINE_SESSION, Direction.ERROR, wall, text)
        elif isinstance(ev, schema.LogLine):
            level = ev.level.lower()
            direction = Direction.ERROR if level in ("error", "critical") else Direction.INFO
            yield _note(ENGINE_SESSION, direction, wall, f"{level}: {ev.message}")


def _role_notes(
    generation: int, wall: float, ev: schema.Listening | schema.ListenerClosed | schema.PairOpened
) -> Iterator[LogEntry]:
    """The notes of a listener starting and stopping, and of a relay pair opening."""
    if isinstance(ev, schema.PairOpened):
        legs = f"{session_name(generation, ev.client_session_id)} and " + session_name(
            generation, ev.upstream_session_id
        )
        text = f"relaying {ev.client} ⇄ {ev.upstream} (legs {legs})"
        yield _note(pair_name(generation, ev.pair_id), Direction.INFO, wall, text)
        return
    name = listener_name(generation, ev.listener_id)
    if isinstance(ev, schema.ListenerClosed):
        text = (
            f"stopped listening ({plural(ev.accepted, 'client')} accepted, "
            f"{ev.refused} turned away)"
        )
        yield _note(name, Direction.INFO, wall, text)
        return
    relaying = f", relaying each client to {ev.upstream}" if ev.upstream else ""
    yield _note(name, Direction.INFO, wall, f"listening on {ev.local}{relaying}")
    if ev.reachable:
        text = f"{ev.local} is reachable from the network, not only from this machine"
        yield _note(name, Direction.ERROR, wall, text)
