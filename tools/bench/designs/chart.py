"""The report's chart: tick intervals over time, one line per design, events marked.

One picture a newcomer reads at a glance: a flat line at 25 ms is a smooth window, a
plateau is a frozen one, as long as the freeze. The block and the flood, which every
design went through, are shaded full height; framewire's own extra scenarios (engine
stopped, engine killed) are bars under its line. matplotlib with the Agg backend, so it
needs no display.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from tools.bench.designs.scenario import (
    BLOCK_SECONDS,
    FRAMEWIRE_ONLY,
    PHASE_TITLES,
    PHASES,
    PLANS,
    TARGET_MAX_MS,
    DesignResult,
)

DESIGN_COLOURS = {
    "classic": "#d62728",
    "qtrio": "#ff7f0e",
    "qasync": "#9467bd",
    "framewire": "#2ca02c",
}
PHASE_COLOURS = {"block": "#fdd0a2", "flood": "#c6dbef"}


def event_span(result: DesignResult, phase: str) -> tuple[float, float] | None:
    """When the disturbance of ``phase`` actually happened (not its settle time)."""
    plan = PLANS[result.plan]
    marks = result.marks
    if phase == "block" and "block_start" in marks:
        return marks["block_start"], marks["block_start"] + BLOCK_SECONDS
    if phase == "flood" and "flood_start" in marks and result.flood and result.flood.last_at:
        return marks["flood_start"], result.flood.last_at
    if phase == "stall" and "stall_start" in marks:
        return marks["stall_start"], marks["stall_start"] + plan.stall_seconds
    if phase == "restart" and "kill" in marks:
        return marks["kill"], marks.get("restarted", marks["kill"] + 0.2)
    return None


def render_chart(designs: dict[str, list[DesignResult]], plan_name: str, path: Path) -> None:
    """Write the PNG: tick intervals over time, one line per design (its first run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.6), dpi=110)
    spans: dict[str, list[tuple[float, float]]] = {}
    for design, runs in designs.items():
        if not runs:
            continue
        result = runs[0]
        intervals = [(b - a) * 1000 for a, b in zip(result.ticks, result.ticks[1:], strict=False)]
        # steps-pre: each interval is drawn over the time it lasted, so a frozen window
        # is a plateau as long as the freeze.
        ax.plot(
            result.ticks[1:],
            intervals,
            drawstyle="steps-pre",
            label=result.label,
            color=DESIGN_COLOURS.get(design),
            linewidth=2.2 if design == "framewire" else 1.3,
            zorder=3 if design == "framewire" else 2,
        )
        for phase in PHASES:
            span = event_span(result, phase)
            if span is not None:
                spans.setdefault(phase, []).append(span)
    top = 3000
    ax.set_yscale("log")
    ax.set_ylim(5, top)
    for name in ("block", "flood"):
        if name not in spans:
            continue
        # Shared events are shaded full height, from when they started to when the
        # slowest design was done with them.
        start = statistics.median(s for s, _ in spans[name])
        end = max(max(e for _, e in spans[name]), start + 0.1)
        ax.axvspan(start, end, color=PHASE_COLOURS[name], alpha=0.6, zorder=0)
        title = PHASE_TITLES[name]
        if name == "flood":
            title = f"flood: {PLANS[plan_name].flood_frames:,} frames of 100 bytes"
        height = top * (0.8 if name == "block" else 0.45)  # two heights: labels never touch
        ax.text(start + 0.03, height, title, fontsize=9, va="top", zorder=4)
    for name in FRAMEWIRE_ONLY:
        # framewire-only events are bars under its line: they do not apply to the others.
        for start, end in spans.get(name, [])[:1]:
            end = max(end, start + 0.1)
            ax.hlines(8, start, end, color=DESIGN_COLOURS["framewire"], linewidth=6)
            ax.text(start, 9.2, f"framewire: {PHASE_TITLES[name]}", fontsize=8,
                    color=DESIGN_COLOURS["framewire"], va="bottom")  # fmt: skip
    ax.axhline(25, color="#555555", linestyle="--", linewidth=0.8)
    ax.axhline(TARGET_MAX_MS, color="#2ca02c", linestyle=":", linewidth=1)
    y_axis = ax.get_yaxis_transform()
    ax.text(
        0.005,
        22,
        "25 ms: the timer's period",
        fontsize=8,
        color="#555555",
        transform=y_axis,
        va="top",
    )
    ax.text(
        0.005,
        TARGET_MAX_MS * 1.06,
        "50 ms: framewire's worst-case target",
        fontsize=8,
        color="#2ca02c",
        transform=y_axis,
    )
    ax.set_xlabel("seconds since connected")
    ax.set_ylabel("interval between animation ticks (ms, log scale)")
    ax.set_title(
        "Does the window stay smooth? Time between animation ticks "
        "(flat at 25 ms = smooth; a plateau = frozen)"
    )
    ax.grid(True, which="major", axis="y", alpha=0.3)
    # The legend goes under the plot: inside, it would hide the plateaus it explains.
    fig.legend(loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
