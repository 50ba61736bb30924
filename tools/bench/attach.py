"""The long-lived engine's socket against the GUI's pipe: frames per second into attached
controllers, and what the history costs.

For 100-byte sequence-numbered frames streamed by the demo server (its own process), side
by side in one run, each the median of several runs:

- ``stdio``: ``python -m engine --stdio`` and the trio client over its pipe (the ``ipc``
  benchmark's end-to-end path): the baseline;
- ``socket``: ``python -m engine --serve-ipc`` and one trio client attached over the Unix
  socket (history on, the default: every batch is also recorded);
- ``socket, no history``: the same with ``--history-frames 0``;
- ``socket, two controllers``: two attached clients, both reading every frame; the figure
  is the slower one's.

Every frame is checked at every counting controller (nothing lost or reordered). The
engine's resident memory is read after each socket run: the history keeps at most
10,000 frames of the session, however many went through.

Run: ``python -m tools.bench --only attach`` (or ``python -m tools.bench.attach [--quick]``).
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from ipc.schema import Abort, Attach, Open, Received, Send
from ipc.trio_channel import EngineClient, connect_socket
from tools.bench.ipc import FRAME_SIZE, Counter, measure_end_to_end
from tools.bench.memory import status_kib
from tools.bench.suite import (
    Benchmark,
    BenchOptions,
    BenchResult,
    Target,
    markdown_table,
    run_alone,
)
from tools.demo_server import spawn_demo_server

__all__ = ["BENCHMARK", "measure_socket", "run"]

#: The socket path with one controller should cost little against the pipe.
TARGET_SOCKET_VS_STDIO = 0.8
#: Two controllers each get every frame: each at least this share of one alone.
TARGET_TWO_VS_ONE = 0.5


async def _drain(client: EngineClient, session_id: int, count: int) -> None:
    counter = Counter()
    async for event in client.events():
        if isinstance(event, Received) and event.session_id == session_id:
            counter.add(event.frames)
            if counter.frames >= count:
                return
    raise AssertionError(f"{counter.frames} frames arrived, expected {count}")


async def _serving(path: Path, history: bool) -> trio.Process:
    """``python -m engine --serve-ipc PATH``, once it said it serves."""
    args = [sys.executable, "-m", "engine", "--serve-ipc", str(path), "--stats-interval", "0"]
    if not history:
        args += ["--history-frames", "0"]
    process = await trio.lowlevel.open_process(
        args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    seen = b""
    while b"serving on" not in seen:
        data = await process.stderr.receive_some(4096)
        if not data:
            raise RuntimeError(f"the engine did not start: {seen.decode(errors='replace')}")
        seen += data
    return process


async def _socket(port: int, count: int, controllers: int, history: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder, trio.fail_after(300):
        process = await _serving(Path(folder) / "bench.sock", history)
        try:
            async with contextlib.AsyncExitStack() as stack:
                clients = []
                for _ in range(controllers):
                    client = await stack.enter_async_context(
                        connect_socket(Path(folder) / "bench.sock")
                    )
                    await client.call(Attach(history=False))
                    clients.append(client)
                first = clients[0]
                sid = (await first.call(Open(host="127.0.0.1", port=port)))["session_id"]
                request = b"!stream %d %d" % (count, FRAME_SIZE)
                start = time.perf_counter()
                async with trio.open_nursery() as readers:
                    for client in clients:
                        readers.start_soon(_drain, client, sid, count)
                    await first.call(Send(session_id=sid, frames=[request]))
                elapsed = time.perf_counter() - start
                rss = status_kib("VmRSS", process.pid) / 1024
                await first.call(Abort(session_id=sid))
        finally:
            process.terminate()
            await process.wait()
            assert process.stderr is not None
            await process.stderr.aclose()
    return count / elapsed, rss


def measure_socket(
    port: int, count: int, *, controllers: int = 1, history: bool = True
) -> tuple[float, float]:
    """Frames/s into the slowest of ``controllers`` attached over the socket, and the
    engine's RSS (MiB) after the run."""
    return trio.run(_socket, port, count, controllers, history)


def run(options: BenchOptions) -> BenchResult:
    count = 200_000 if options.quick else 2_000_000
    runs = options.runs_or(3, 1)
    stdio: list[float] = []
    one: list[float] = []
    bare: list[float] = []
    two: list[float] = []
    rss: list[float] = []
    with spawn_demo_server(stderr=subprocess.DEVNULL) as (_, port):
        for _ in range(runs):  # interleaved, so a slow spell hits all of them
            stdio.append(measure_end_to_end(port, count))
            rate, memory = measure_socket(port, count)
            one.append(rate)
            rss.append(memory)
            bare.append(measure_socket(port, count, history=False)[0])
            two.append(measure_socket(port, count, controllers=2)[0])
    m_stdio, m_one, m_bare, m_two = map(statistics.median, (stdio, one, bare, two))
    table = markdown_table(
        ["path", "frames/s (median)", "vs stdio", "runs"],
        [
            ["stdio pipe, one controller (the GUI's engine)", m_stdio, 1.0, runs],
            ["socket, one attached controller", m_one, m_one / m_stdio, runs],
            ["socket, one controller, no history", m_bare, m_bare / m_stdio, runs],
            ["socket, two attached controllers (the slower)", m_two, m_two / m_stdio, runs],
        ],
    )
    note = (
        f"\n\n{count:,} sequence-numbered {FRAME_SIZE}-byte frames per run, every one checked "
        f"at every controller. History on / off: {m_one / m_bare:.2f}; two controllers / "
        f"one: {m_two / m_one:.2f}. Engine RSS after a socket run (history on): "
        f"{statistics.median(rss):.0f} MiB."
    )
    return BenchResult(
        markdown=table + note,
        data={
            "frames": count,
            "stdio": stdio,
            "socket": one,
            "no_history": bare,
            "two": two,
            "rss_mib": rss,
        },
        targets=(
            Target(
                name="socket, one controller / stdio pipe",
                measured=m_one / m_stdio,
                goal=TARGET_SOCKET_VS_STDIO,
                unit="x",
            ),
            Target(
                name="two controllers (each) / one",
                measured=m_two / m_one,
                goal=TARGET_TWO_VS_ONE,
                unit="x",
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="attach",
    title="Long-lived engine: attached controllers over the socket vs the pipe",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    sys.exit(run_alone(BENCHMARK))
