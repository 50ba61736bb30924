"""The entry point tunes the engine process, and only it."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import trio

from engine.cli.main import GC_YOUNG_THRESHOLD
from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT, lines


async def test_the_engine_process_runs_with_the_tuned_gc_threshold(tmp_path: Path) -> None:
    # A sitecustomize that reports the process's GC thresholds as it exits: what
    # `python -m engine` runs with, observed from outside the engine's code.
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('gc', *gc.get_threshold(), file=sys.stderr))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    with trio.fail_after(DEADLINE_SECONDS):
        engine = await trio.run_process(
            [sys.executable, "-m", "engine", "--api-info"],
            env=env,
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
        )
        library = await trio.run_process(
            [sys.executable, "-c", "import engine.cli.main, engine.rpc.stdio"],
            env=env,
            cwd=ROOT,
            capture_stderr=True,
        )
    assert lines(engine.stderr)[-1].split()[:2] == ["gc", str(GC_YOUNG_THRESHOLD)]
    # Importing the engine (as the tests and library users do) leaves the defaults alone.
    assert lines(library.stderr)[-1].split() == ["gc", *map(str, gc.get_threshold())]
    assert gc.get_threshold()[0] != GC_YOUNG_THRESHOLD
