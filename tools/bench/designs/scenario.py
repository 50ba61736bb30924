"""The shared timeline of the comparison apps, the JSON result they write, and its statistics.

Qt-free, so the report (and its tests) read results without starting Qt.

Theory of operation: every design runs the same script (``Plan``) measured from ``t0``,
the moment its connection to the demo server is up. The script opens named phases
(``idle``, ``block``, ``flood``; framewire adds ``stall`` and ``restart``), and each
phase's tick intervals are summarised on their own. A tick interval belongs to the phase
in which it *ends*, so the one long interval that covers a 1 s block is counted in
``block``.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The GUI's own statistic (nearest rank: a real sample, no interpolation). A stdlib-only
# module, used by the report on the recorded ticks: it changes no contender's behaviour.
from ui.tick_probe import percentile

#: The animation's timer period, as in the classic sample.
TICK_MS = 25
#: How long a handler blocks in the "block" scenario (the issue's "blocks for 1 s").
BLOCK_SECONDS = 1.0
#: Size of each flood frame in bytes (8-byte big-endian sequence number + filler).
FLOOD_FRAME_SIZE = 100
#: Payload that asks the echo server for the reply whose handler then blocks.
BLOCK_REQUEST = b"block"

PHASES = ("idle", "block", "flood", "stall", "restart")

#: framewire's targets in every scenario (issue "The proof").
TARGET_P99_MS = 30.0
TARGET_MAX_MS = 50.0

PHASE_TITLES = {
    "idle": "idle",
    "block": "1 s blocking handler",
    "flood": "flood of 100-byte frames",
    "stall": "engine SIGSTOP 2 s",
    "restart": "engine killed, restarted",
}
FRAMEWIRE_ONLY = ("stall", "restart")


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """How long each phase lasts and how big the flood is."""

    idle_seconds: float
    settle_seconds: float  # after the block (or stall) ends, before the next phase
    flood_frames: int
    flood_timeout_seconds: float  # a design that has not shown every frame by then stops
    tail_seconds: float  # ticks kept after the last flood frame is shown
    # The flood phase lasts at least this long for every design, so that even a design
    # that shows every frame in a blink is judged on enough ticks (p99 of fewer than 100
    # intervals is just the maximum).
    flood_min_seconds: float = 0.0
    stall_seconds: float = 2.0  # framewire only: engine SIGSTOPped this long
    restart_window_seconds: float = 3.0  # framewire only: after SIGKILL of the engine
    # framewire only: how long the new engine may take to come up (a loaded machine
    # starts a process slowly; the restart phase lasts until it is up, at least the window)
    restart_timeout_seconds: float = 30.0


PLANS: dict[str, Plan] = {
    # The smoke test's: every phase, as short as they go (the restart phase ends as soon
    # as the new engine is up).
    "smoke": Plan(
        idle_seconds=0.4,
        settle_seconds=0.2,
        flood_frames=200,
        flood_timeout_seconds=3.0,
        tail_seconds=0.1,
        stall_seconds=0.5,
        restart_window_seconds=0.0,
    ),
    "quick": Plan(
        idle_seconds=0.6,
        settle_seconds=0.3,
        flood_frames=3_000,
        flood_timeout_seconds=4.0,
        tail_seconds=0.3,
        flood_min_seconds=1.0,
        restart_window_seconds=1.5,
    ),
    "full": Plan(
        idle_seconds=3.0,
        settle_seconds=1.0,
        flood_frames=20_000,
        flood_timeout_seconds=20.0,
        tail_seconds=1.0,
        flood_min_seconds=3.0,
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    """A named span of the timeline, in seconds since ``t0``."""

    name: str
    start: float
    end: float


@dataclass(slots=True, kw_only=True)
class FloodResult:
    """What the design showed of the flood."""

    requested: int
    displayed: int = 0
    lost: int = 0  # sequence numbers skipped (never displayed, later ones were)
    out_of_order: int = 0
    first_at: float | None = None  # t of the first flood frame displayed
    last_at: float | None = None  # t of the last one

    @property
    def completed(self) -> bool:
        return self.displayed >= self.requested

    def frames_per_second(self, started_at: float) -> float:
        """Frames displayed per second, from the flood request to the last frame shown."""
        if self.last_at is None or self.last_at <= started_at:
            return 0.0
        return self.displayed / (self.last_at - started_at)


@dataclass(slots=True, kw_only=True)
class DesignResult:
    """One run of one design: what each app writes as JSON."""

    design: str
    label: str
    plan: str
    ticks: list[float] = field(default_factory=list)  # tick times, seconds since t0
    phases: list[Phase] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # block_start, flood_start, ...
    flood: FloodResult | None = None
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DesignResult:
        flood = data.get("flood")
        return cls(
            design=data["design"],
            label=data["label"],
            plan=data["plan"],
            ticks=[float(t) for t in data["ticks"]],
            phases=[Phase(**p) for p in data["phases"]],
            marks={k: float(v) for k, v in data["marks"].items()},
            flood=FloodResult(**flood) if flood else None,
            duration=float(data["duration"]),
            notes=list(data.get("notes", [])),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def read(cls, path: Path) -> DesignResult:
        return cls.from_json(json.loads(path.read_text()))

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def intervals_ms(self, phase: Phase | None = None) -> list[float]:
        """Tick intervals in ms, all of them or those that end inside ``phase``."""
        out: list[float] = []
        for before, after in zip(self.ticks, self.ticks[1:], strict=False):
            if phase is None or phase.start < after <= phase.end:
                out.append((after - before) * 1000.0)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TickStats:
    """p50/p99/max of tick intervals in ms, and how many there were."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, intervals_ms: list[float]) -> TickStats:
        if not intervals_ms:
            return cls(count=0, p50=math.nan, p99=math.nan, max=math.nan)
        return cls(
            count=len(intervals_ms),
            p50=percentile(intervals_ms, 50),
            p99=percentile(intervals_ms, 99),
            max=max(intervals_ms),
        )


# ----------------------------------------------------------------------------- over runs


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSummary:
    """Median over runs of one design's tick statistics in one phase."""

    runs: int
    p50: float
    p99: float
    max: float


def summarise_phase(results: list[DesignResult], phase: str) -> PhaseSummary | None:
    stats = []
    for result in results:
        span = result.phase(phase)
        if span is not None:
            stats.append(TickStats.of(result.intervals_ms(span)))
    stats = [s for s in stats if s.count]
    if not stats:
        return None
    return PhaseSummary(
        runs=len(stats),
        p50=statistics.median(s.p50 for s in stats),
        p99=statistics.median(s.p99 for s in stats),
        max=statistics.median(s.max for s in stats),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodSummary:
    requested: int
    displayed_min: int
    lost_total: int
    frames_per_second: float  # median over runs


def summarise_flood(results: list[DesignResult]) -> FloodSummary | None:
    floods = [(r, r.flood) for r in results if r.flood is not None and "flood_start" in r.marks]
    if not floods:
        return None
    return FloodSummary(
        requested=floods[0][1].requested,
        displayed_min=min(f.displayed for _, f in floods),
        lost_total=sum(f.lost for _, f in floods),
        frames_per_second=statistics.median(
            f.frames_per_second(r.marks["flood_start"]) for r, f in floods
        ),
    )
