"""A real long-lived engine for the CLI tests: ``python -m engine --serve-ipc PATH`` in a
subprocess, its stderr collected, stopped with SIGTERM at the end."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT


@dataclass
class LongLivedEngine:
    process: trio.Process
    path: Path
    stderr: list[str] = field(default_factory=list)

    async def stop(self) -> int:
        """SIGTERM, then its exit status."""
        self.process.send_signal(signal.SIGTERM)
        with trio.fail_after(DEADLINE_SECONDS):
            return await self.process.wait()


@asynccontextmanager
async def long_lived_engine(path: Path, *args: str) -> AsyncIterator[LongLivedEngine]:
    """Start the engine at ``path``; yields once it said where it serves."""
    async with trio.open_nursery() as nursery:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "engine", "--serve-ipc", str(path), *args],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        engine = LongLivedEngine(process, path)
        serving = trio.Event()

        async def collect() -> None:
            assert process.stderr is not None
            buffer = b""
            while data := await process.stderr.receive_some(65536):
                *done, buffer = (buffer + data).split(b"\n")
                for line in done:
                    engine.stderr.append(line.decode())
                    if " serving on " in engine.stderr[-1]:
                        serving.set()
            serving.set()

        nursery.start_soon(collect)
        try:
            with trio.fail_after(DEADLINE_SECONDS):
                await serving.wait()
            assert process.returncode is None, engine.stderr
            yield engine
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
