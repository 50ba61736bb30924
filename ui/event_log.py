"""Which log rows an engine event becomes (Qt-free).

Data events become one batch of rows each (the event's list of frames is kept as is), or
one per run of frames with the same time when the event carries ``times``;
state events become one informational or error row with a readable text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from ipc import schema
from ipc.diagnosis import Diagnosis
from ipc.tls import TlsInfo
from ui.formatting import plural, session_name
from ui.log_store import Direction

__all__ = ["ENGINE_SESSION", "LogEntry", "diagnosis_text", "log_entries"]

#: The session column for rows about the engine itself.
ENGINE_SESSION = "engine"


class LogEntry(NamedTuple):
    session: str
    direction: Direction
    wall: float
    payloads: list[bytes]


def _note(session: str, direction: Direction, wall: float, text: str) -> LogEntry:
    return LogEntry(session, direction, wall, [text.encode("utf-8")])


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """A diagnosis as the window says it: what the bytes look like, and the framing to
    pick (in the Framing box, or with Guess framing)."""
    if diagnosis.suggestion is None:
        return diagnosis.summary
    return f"{diagnosis.summary}: choose framing {diagnosis.suggestion}"


def log_entries(
    generation: int, clock_offset: float, events: list[schema.Event]
) -> Iterator[LogEntry]:
    """Log rows for ``events`` of engine ``generation``; ``at + clock_offset`` is wall time."""
    for ev in events:
        wall = ev.at + clock_offset if hasattr(ev, "at") else 0.0
        sid = getattr(ev, "session_id", None)
        name = session_name(generation, sid) if sid is not None else ENGINE_SESSION
        if isinstance(ev, schema.Received | schema.Sent | schema.History):
            incoming = isinstance(ev, schema.Received) or (
                isinstance(ev, schema.History) and ev.direction == "in"
            )
            direction = Direction.IN if incoming else Direction.OUT
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
            yield _note(name, Direction.INFO, wall, f"connecting to {ev.host}:{ev.port}{label}")
        elif isinstance(ev, schema.Connected):
            yield _note(name, Direction.INFO, wall, f"connected {ev.local} → {ev.peer}")
        elif isinstance(ev, schema.TlsEstablished):
            info = TlsInfo.from_wire(ev.tls)
            if info is not None:
                direction = (
                    Direction.INFO if info.verified or info.side == "server" else Direction.ERROR
                )
                yield _note(name, direction, wall, f"TLS: {info.summary()} ({info.verification})")
        elif isinstance(ev, schema.ConnectFailed):
            yield _note(name, Direction.ERROR, wall, f"connect failed ({ev.reason}): {ev.message}")
        elif isinstance(ev, schema.SessionError):
            yield _note(name, Direction.ERROR, wall, f"{ev.kind}: {ev.message}")
        elif isinstance(ev, schema.Closed):
            yield _note(
                name, Direction.INFO, wall,
                f"closed by {ev.by} (in {plural(ev.frames_in, 'frame')} / {ev.bytes_in} B, "
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
