"""Run each design's app as a subprocess against a demo server (``tools.bench.report``
starts it with ``tools.demo_server.spawn_demo_server``).

Every app runs offscreen (``QT_QPA_PLATFORM=offscreen``: Qt still paints into its
backing store, so timer ticks pay for the painting) in its own process, one at a time,
so no design shares a core with another during its run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.bench.designs.scenario import PLANS, DesignResult

#: The designs, in report order: the module that runs each, under tools.bench.designs.
DESIGN_MODULES: dict[str, str] = {
    "classic": "tools.bench.designs.classic",
    "qtrio": "tools.bench.designs.qtrio_app",
    "qasync": "tools.bench.designs.qasync_app",
    "framewire": "tools.bench.designs.framewire_app",
}
#: A design's app that has not finished this long after its plan's worst case is killed.
RUN_GRACE_SECONDS = 30.0


def design_env() -> dict[str, str]:
    """The environment an app runs in: offscreen Qt, PySide6 for qtpy and qts."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["QT_API"] = "pyside6"  # qtpy, under qreactor
    env["QTS_WRAPPER"] = "pyside6"  # qts, under qtrio
    return env


def plan_worst_case_seconds(plan_name: str) -> float:
    plan = PLANS[plan_name]
    return (
        plan.idle_seconds
        + 2 * (plan.settle_seconds + plan.stall_seconds)
        + max(plan.restart_window_seconds, plan.restart_timeout_seconds)
        + plan.flood_timeout_seconds
        + plan.tail_seconds
        + RUN_GRACE_SECONDS
    )


def run_design(design: str, server: tuple[str, int], plan_name: str) -> DesignResult:
    """Run one design's app once and return what it measured.

    Raises:
        RuntimeError: the app failed or wrote no result (its stderr is in the message).
    """
    host, port = server
    with tempfile.TemporaryDirectory(prefix=f"bench-{design}-") as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            DESIGN_MODULES[design],
            "--server",
            f"{host}:{port}",
            "--plan",
            plan_name,
            "--out",
            str(out),
        ]
        try:
            proc = subprocess.run(
                command,
                env=design_env(),
                capture_output=True,
                text=True,
                timeout=plan_worst_case_seconds(plan_name),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{design}: no result after {exc.timeout:.0f} s") from exc
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{design}: exit code {proc.returncode}\n{tail}")
        return DesignResult.read(out)
