"""Frames per second from the demo server through the engine and the pipe into a controller.

Two figures, side by side, for 100-byte sequence-numbered frames streamed by the demo
server (its own process) over loopback:

- ``engine alone``: an in-process ``open_engine`` session; frames are counted from the
  ``Received`` events on ``Engine.events`` (the ceiling for anything behind the pipe);
- ``end to end``: ``python -m engine --stdio`` as a subprocess, driven by the trio
  controller client (``ipc.trio_channel``, credit flow control on); frames are counted
  from the ``received`` notifications it decodes.

Nothing may be lost: both runs check that exactly N frames arrive, each batch starting
with the next expected sequence number and ending where its length says. Each
measurement is the median of several runs.

Run: ``python -m tools.bench --only ipc`` (or ``python -m tools.bench.ipc [--quick]``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import trio

from tools.bench.suite import (
    Benchmark,
    BenchOptions,
    BenchResult,
    Target,
    markdown_table,
    run_alone,
)
from tools.demo_server import spawn_demo_server

__all__ = ["BENCHMARK", "Counter", "measure_end_to_end", "measure_engine_alone", "run"]

FRAME_SIZE = 100
#: DESIGN target for the whole path with nothing lost.
TARGET_FRAMES_PER_SECOND = 1_000_000


class Counter:
    """Checks batches of sequence-numbered frames cheaply: first/last number and size."""

    def __init__(self) -> None:
        self.frames = 0

    def add(self, frames: list[bytes]) -> None:
        if not frames:
            return
        first = int.from_bytes(frames[0][:8], "big")
        last = int.from_bytes(frames[-1][:8], "big")
        if first != self.frames or last != self.frames + len(frames) - 1:
            raise AssertionError(f"lost or reordered frames near {self.frames}")
        self.frames += len(frames)


async def _count(events: AsyncIterator[object], session_id: int, count: int) -> None:
    from ipc.schema import Received

    counter = Counter()
    async for event in events:
        if isinstance(event, Received) and event.session_id == session_id:
            counter.add(event.frames)
            if counter.frames >= count:
                break
    if counter.frames != count:
        raise AssertionError(f"{counter.frames} frames arrived, expected {count}")


async def _engine_alone(port: int, count: int) -> float:
    from engine import open_engine

    async with open_engine() as engine:
        sid = await engine.connect("127.0.0.1", port)
        start = time.perf_counter()
        await engine.send(sid, [b"!stream %d %d" % (count, FRAME_SIZE)])
        await _count(_iterate(engine.events), sid, count)
        elapsed = time.perf_counter() - start
        await engine.abort(sid)
    return count / elapsed


async def _iterate(channel: trio.MemoryReceiveChannel[object]) -> AsyncIterator[object]:
    async for item in channel:
        yield item


async def _end_to_end(port: int, count: int) -> float:
    from ipc.schema import Abort, Open, Send
    from ipc.trio_channel import open_engine_process

    async with open_engine_process(stderr=subprocess.DEVNULL) as client:
        sid = (await client.call(Open(host="127.0.0.1", port=port)))["session_id"]
        start = time.perf_counter()
        await client.call(Send(session_id=sid, frames=[b"!stream %d %d" % (count, FRAME_SIZE)]))
        await _count(client.events(), sid, count)
        elapsed = time.perf_counter() - start
        await client.call(Abort(session_id=sid))
    return count / elapsed


def measure_engine_alone(port: int, count: int) -> float:
    """Frames/s counted from ``Engine.events`` in this process."""
    return trio.run(_engine_alone, port, count)


def measure_end_to_end(port: int, count: int) -> float:
    """Frames/s counted by the trio controller behind ``python -m engine --stdio``."""
    return trio.run(_end_to_end, port, count)


def run(options: BenchOptions) -> BenchResult:
    count = 200_000 if options.quick else 2_000_000
    runs = options.runs_or(3, 1)
    alone: list[float] = []
    e2e: list[float] = []
    with spawn_demo_server(stderr=subprocess.DEVNULL) as (_, port):
        for _ in range(runs):  # interleaved, so a slow spell hits both
            alone.append(measure_engine_alone(port, count))
            e2e.append(measure_end_to_end(port, count))
    alone_median, e2e_median = statistics.median(alone), statistics.median(e2e)
    table = markdown_table(
        ["path", "frames/s (median)", "MB/s payload", "runs"],
        [
            ["engine alone (Engine.events)", alone_median, alone_median * FRAME_SIZE / 1e6, runs],
            ["end to end (engine --stdio + pipe + trio client)", e2e_median,
             e2e_median * FRAME_SIZE / 1e6, runs],
        ],
    )  # fmt: skip
    note = (
        f"\n\n{count:,} sequence-numbered {FRAME_SIZE}-byte frames per run, every one "
        f"checked. End to end / engine alone: {e2e_median / alone_median:.2f}."
    )
    return BenchResult(
        markdown=table + note,
        data={"frames": count, "engine_alone": alone, "end_to_end": e2e},
        targets=(
            Target(
                name=f"end-to-end {FRAME_SIZE}-byte frames/s, nothing lost",
                measured=e2e_median,
                goal=TARGET_FRAMES_PER_SECOND,
                unit="frames/s",
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="ipc",
    title="IPC throughput: demo server -> engine -> pipe -> trio controller",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    sys.exit(run_alone(BENCHMARK))
