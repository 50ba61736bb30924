"""Replay speed: request/reply round trips per second, side by side with a bare client.

A replay is strictly ordered: each recorded request is sent once the replies recorded
before it came back and were compared (``exchanges.replay``). Its speed is therefore a
round-trip rate, and the fair yardstick is a client that does the same ping-pong with
nothing else: a trio socket, ``ipc.framing``'s decoder, one frame out, one frame in.

Contenders, in one trio run against one in-process echo server (``tools.demo_server``,
echo mode) on 127.0.0.1, ``PAIRS`` pairs of 100-byte frames each:

- **replay**: ``framewire-engine HOST:PORT --replay FILE`` in-process
  (``engine.cli.script_run.run_scripts``): the recording read and turned into steps, the
  engine's session, the trio driver and the sans-IO ``Runner`` comparing every reply;
- **bare**: the minimal ping-pong client above;
- **runner alone** (no I/O): the ``Runner`` fed the replies by hand, for its share.

Reported: pairs per second, the replay's ratio to the bare client (target below), and
the peak RSS growth of the replay's run (the high-water mark is reset first: the same
process ran bigger benchmarks before).
"""

from __future__ import annotations

import functools
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from decoders import decoder_for
from engine.cli.parse import build_parser
from engine.cli.script_plan import make_script_plan
from engine.cli.script_run import run_scripts
from exchanges import Runner, SendFrame, Variables, script_from_recording
from ipc.framing import DEFAULT, FrameDecoder, encode_frame
from ipc.recording import frame_line
from tools.bench.memory import reset_peak, status_kib
from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, markdown_table
from tools.demo_server import serve_demo

__all__ = ["BENCHMARK", "measure", "recording_lines"]

PAIRS = 20_000
QUICK_PAIRS = 2_000
SIZE = 100
#: The replay does per frame what a test needs (compare, report, print); the bare client
#: nothing. Target: the replay keeps at least this share of the bare round-trip rate.
TARGET_RATIO = 0.15


def recording_lines(pairs: int) -> list[str]:
    """A client's recording of ``pairs`` request/echo pairs of ``SIZE``-byte frames."""
    lines = []
    for number in range(pairs):
        payload = (b"%08d" % number).ljust(SIZE, b"x")
        lines.append(frame_line(number * 0.001, 1, "out", payload))
        lines.append(frame_line(number * 0.001 + 0.0005, 1, "in", payload))
    return lines


async def _bare(port: int, pairs: int) -> float:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    decoder = FrameDecoder(DEFAULT)
    started = time.perf_counter()
    async with stream:
        for number in range(pairs):
            payload = (b"%08d" % number).ljust(SIZE, b"x")
            await stream.send_all(encode_frame(payload, DEFAULT))
            got: list[bytes] = []
            while not got:
                got += decoder.feed(await stream.receive_some(65536))
            assert got == [payload]
    return time.perf_counter() - started


async def _replay(port: int, path: str) -> float:
    plan = make_script_plan(build_parser().parse_args([f"127.0.0.1:{port}", "--replay", path]))
    started = time.perf_counter()
    await run_scripts(plan, io.BytesIO(), io.StringIO())
    return time.perf_counter() - started


def _runner_alone(lines: list[str]) -> float:
    script = script_from_recording(lines, path="bench.jsonl")
    runner = Runner(script, variables=Variables(), decoder=decoder_for("auto"))
    started = time.perf_counter()
    actions = runner.start(0.0)
    while actions:
        action = actions[0]
        assert isinstance(action, SendFrame)
        runner.send_done(0.0)
        actions = runner.frame_received(action.payload, 0.0)
    assert runner.outcome is not None and runner.outcome.passed
    return time.perf_counter() - started


def measure(pairs: int) -> dict[str, Any]:
    """One run of each contender; pairs per second and the replay's RSS growth (MiB)."""
    lines = recording_lines(pairs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.jsonl"
        path.write_text("\n".join(lines) + "\n")

        async def both() -> tuple[float, float, float]:
            async with trio.open_nursery() as nursery:
                port = await nursery.start(functools.partial(serve_demo, mode="echo"))
                bare = await _bare(port, pairs)
                before = reset_peak()
                replay = await _replay(port, str(path))
                grown = status_kib("VmHWM") - before
                nursery.cancel_scope.cancel()
            return bare, replay, grown / 1024

        bare, replay, grown = trio.run(both)
    alone = _runner_alone(lines)
    return {
        "bare": pairs / bare,
        "replay": pairs / replay,
        "runner": pairs / alone,
        "rss_growth_mib": grown,
    }


def run(options: BenchOptions) -> BenchResult:
    pairs = QUICK_PAIRS if options.quick else PAIRS
    samples = [measure(pairs) for _ in range(options.runs_or(3, 1))]
    result = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    ratio = result["replay"] / result["bare"]
    rows = [
        ["bare trio ping-pong client", round(result["bare"]), "1.00x"],
        ["framewire-engine --replay", round(result["replay"]), f"{ratio:.2f}x"],
        ["the Runner alone (no I/O)", round(result["runner"]), ""],
    ]
    markdown = (
        f"{pairs:,} request/reply pairs of {SIZE}-byte frames against the demo echo server "
        "(in-process, 127.0.0.1), strictly one after the other:\n\n"
        + markdown_table(["contender", "pairs/s", "vs bare"], rows)
        + f"\n\nThe replay's peak RSS grew by {result['rss_growth_mib']:.1f} MiB "
        "(the recording is read line by line into its steps; at most 100,000 frames a session).\n"
    )
    return BenchResult(
        markdown=markdown,
        data=result,
        targets=(Target(name="replay vs bare ping-pong", measured=ratio, goal=TARGET_RATIO),),
    )


BENCHMARK = Benchmark(
    name="replay",
    title="Replay: request/reply round trips per second",
    run=run,
    description=__doc__ or "",
)
