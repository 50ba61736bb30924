"""framewire through the same timeline: the real GUI (``ui.app.main``), scripted from outside.

This module starts the real application exactly as ``python -m ui --server HOST:PORT
--tick-log FILE`` does (its window, its engine subprocess, its 25 ms animation and tick
log) and, from a timer queued before ``ui.app.main`` runs, finds the window and drives it
the way a user would: open a session to the demo server, send ``!stream N 100``. Nothing
in ``ui`` knows it is being benchmarked.

The scenarios, in framewire's terms:

- **block**: network code blocking for 1 s. In framewire network code runs in the engine
  process, so the equivalent is the engine doing nothing for 1 s: SIGSTOP, then SIGCONT.
- **flood**: ``!stream N 100`` on the session; frames are counted as displayed when their
  batch reaches the window's log model (the same slot appends them; the view shows them
  at its next flush, ``ui.log_model.FLUSH_INTERVAL_MS`` later at most).
- **stall**: the engine SIGSTOPped for 2 s (the GUI's hang monitor fires).
- **restart**: the engine SIGKILLed; the supervisor starts a new one (``restarted`` mark).

Ticks come from the GUI's own ``--tick-log`` (``<monotonic time> <interval ms>`` lines,
line-buffered), so what is measured is framewire's animation, not a probe of ours.

Run: ``python -m tools.bench.designs.framewire_app --server 127.0.0.1:PORT --out r.json``
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ipc import schema
from tools.bench.designs.probe import (
    POLL_MS,
    Harness,
    Sleep,
    Step,
    Until,
    parse_args,
    precise_single_shot,
)
from tools.bench.designs.scenario import BLOCK_SECONDS, FLOOD_FRAME_SIZE

DESIGN = "framewire"
LABEL = "framewire (engine process + GUI)"
#: How long the first engine may take to start and answer the handshake.
ENGINE_READY_SECONDS = 20.0


def read_tick_log(path: Path) -> list[float]:
    """The tick times (monotonic seconds) in a ``--tick-log`` file."""
    ticks = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2:
            ticks.append(float(fields[0]))
    return ticks


class FramewireHarness(Harness):
    """The timeline of ``Harness`` plus the engine's stall and restart, on the real window."""

    def __init__(self, window: Any, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._window = window
        self._supervisor = window.supervisor
        self._server = (host, port)
        self._session: tuple[int, int] | None = None  # (engine generation, session id)
        self._started_generation = 0
        self._supervisor.events_received.connect(self._on_events)
        self._supervisor.engine_started.connect(self._on_engine_started)
        self._supervisor.engine_unresponsive.connect(self._on_unresponsive)

    # -- setting up: wait for the engine, open the session, then t0 ---------------

    def begin(self) -> None:
        deadline = time.monotonic() + ENGINE_READY_SECONDS
        waiting = QTimer(self)

        def check() -> None:
            if self._started_generation > 0:
                waiting.stop()
                self._open_session()
            elif time.monotonic() > deadline:
                waiting.stop()
                self._fail(f"no engine after {ENGINE_READY_SECONDS:g} s")

        waiting.timeout.connect(check)
        waiting.start(POLL_MS)

    def _open_session(self) -> None:
        host, port = self._server
        generation = self._window.client.generation

        def opened(result: Any, error: Any) -> None:
            if error is not None:
                self._fail(f"cannot open a session to {host}:{port}: {error}")
                return
            self._session = (generation, int(result["session_id"]))
            self.start()

        self._window.client.open(host, port, "le32", opened)

    def _fail(self, why: str) -> None:
        """Give up: no result file is written, so the runner reports ``why`` from stderr."""
        print(f"framewire_app: {why}", file=sys.stderr, flush=True)
        self._window.close()

    # -- the script ------------------------------------------------------------------

    def script(self) -> Iterator[Step]:
        yield from super().script()
        plan = self.plan
        self.begin_phase("stall")
        self.mark("stall_start")
        self._stop_engine_for(plan.stall_seconds)
        yield Sleep(plan.stall_seconds + plan.settle_seconds)
        self.begin_phase("restart")
        generation = self._started_generation
        self.mark("kill")
        os.kill(self._engine_pid(), signal.SIGKILL)
        yield Until(lambda: self._started_generation > generation, plan.restart_timeout_seconds)
        if "restarted" in self.result.marks:
            remaining = plan.restart_window_seconds - (self.now() - self.result.marks["kill"])
            yield Sleep(max(0.0, remaining))
        else:
            self.result.notes.append(
                f"the engine did not come back within {plan.restart_timeout_seconds:g} s"
            )
        self.end_phase()

    def trigger_block(self) -> None:
        self.mark("block_start")
        self._stop_engine_for(BLOCK_SECONDS)

    def trigger_flood(self) -> None:
        assert self._session is not None
        generation, session_id = self._session
        self.mark("flood_start")
        self._flooding = True
        request = b"!stream %d %d" % (self.plan.flood_frames, FLOOD_FRAME_SIZE)
        self._window.client.send(generation, session_id, [request])

    def _engine_pid(self) -> int:
        pid = self._supervisor.pid
        if pid is None:
            raise RuntimeError("the engine has no pid: it is not running")
        return int(pid)

    def _stop_engine_for(self, seconds: float) -> None:
        pid = self._engine_pid()
        os.kill(pid, signal.SIGSTOP)
        precise_single_shot(self, seconds, lambda: _continue(pid))

    # -- what the GUI saw ------------------------------------------------------------

    def _on_events(self, generation: int, events: list[schema.Event]) -> None:
        if not self._flooding or self._session is None or generation != self._session[0]:
            return
        session_id = self._session[1]
        for event in events:
            if isinstance(event, schema.Received) and event.session_id == session_id:
                self._count_batch(event.frames)

    def _count_batch(self, frames: list[bytes]) -> None:
        """Count a batch by its ends when it is one unbroken run of sequence numbers.

        Our counting runs on the GUI thread too: per-frame Python work here would be
        charged to framewire's tick intervals, so a batch costs O(1) unless it has a gap.
        """
        if not frames:
            return
        first = int.from_bytes(frames[0][:8], "big")
        last = int.from_bytes(frames[-1][:8], "big")
        if last - first + 1 == len(frames):
            self._count_flood(first, len(frames))
        else:
            for frame in frames:
                self._count_flood(int.from_bytes(frame[:8], "big"), 1)

    def _on_engine_started(self, generation: int, _hello: object) -> None:
        if self._started_generation and "kill" in self.result.marks:
            self.mark("restarted")
        self._started_generation = generation

    def _on_unresponsive(self, _silent: float) -> None:
        self.result.marks.setdefault("not_responding", self.now())


def _continue(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # killed meanwhile: nothing to continue
        os.kill(pid, signal.SIGCONT)


def main() -> None:
    import ui.app
    from ui.main_window import MainWindow

    args = parse_args(__doc__ or "")
    app = QApplication([])
    with tempfile.TemporaryDirectory(prefix="bench-framewire-") as tmp:
        tick_log = Path(tmp) / "ticks.txt"
        harnesses: list[FramewireHarness] = []

        def attach() -> None:
            window = next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)
            if window is None:  # ui changed shape: fail now rather than at the timeout
                print("framewire_app: ui.app.main built no MainWindow", file=sys.stderr)
                app.quit()  # the engine follows: it exits when its stdin closes
                return
            harness = FramewireHarness(
                window,
                args.host,
                args.port,
                design=DESIGN,
                label=LABEL,
                plan_name=args.plan,
                out=args.out,
                ticks=lambda: read_tick_log(tick_log),
            )
            harness.finished.connect(window.close)
            harnesses.append(harness)
            harness.begin()

        QTimer.singleShot(0, attach)  # runs once ui.app.main has built the window
        ui.app.main(["--server", f"{args.host}:{args.port}", "--tick-log", str(tick_log)])
    if not args.out.exists():
        raise SystemExit("framewire_app: the GUI exited before the timeline ended")


if __name__ == "__main__":
    main()
