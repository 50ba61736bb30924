"""IPC intake: how fast MessagePack-RPC is taken in, good input and bad, before and after
the header guard.

1. **The decoder alone** (sans-IO, this process): ``ipc.codec.MessageDecoder`` against
   the one before the header guard (``tools/bench/designs/codec_v1.py``), on the same
   bytes, in the pieces a real reader gets them. Valid traffic: ``ping`` requests and
   ``send`` requests of 64 100-byte frames, read 256 KiB at a time (the engine's reads);
   ``received`` notifications of 8,192 frames (all 100 bytes, or 20 to 200 bytes), read
   1 MiB at a time with more pending (the trio client during a flood). MB/s, best of
   several runs, and the ratio now / before. Bad input: 8 MiB of random bytes, and the
   size bomb the issue found (a ``ping`` whose token declares 4 GiB, then 16 MiB of
   pings): what each decoder does with it and how long that takes.
2. **The engine end to end** (``python -m engine --stdio``, its pipes written and read
   by this process): MB/s of requests taken in and answered -- pings; sends of 64
   frames to a TCP server that discards them; requests for an unknown method (each
   answered with an error) -- and, for junk and for the bomb, the time from the write
   to ``channel_closed`` and to the engine's exit (status 4).

Run: ``python -m tools.bench --only intake`` (or ``python -m tools.bench.intake``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import trio

from ipc.codec import (
    BadMessage,
    Message,
    MessageDecoder,
    ProtocolViolation,
    encode_notification,
    encode_request as request,
)
from ipc.rpc import ENGINE_ARGS
from tools.bench.designs import codec_v1
from tools.bench.suite import (
    Benchmark,
    BenchOptions,
    BenchResult,
    Target,
    markdown_table,
    run_alone,
)

__all__ = ["BENCHMARK", "decoder_rows", "run"]

#: Goal for valid traffic: the header guard may cost at most this much of the intake.
TARGET_VALID_RATIO = 0.9
#: Goal for bytes that break the stream: the channel is closed within this (the issue).
TARGET_VERDICT_SECONDS = 0.1
FRAME = b"f" * 100
PING_BYTES = len(request(1, "ping", {"token": 1}))
#: A ping whose token is a bin32 declaring 4 GiB (what stalled the engine for 27 s).
BOMB = b"\x94\x00\x0d\xa4ping\x91\x81\xa5token\xc6\xff\xff\xff\xff"


class _Decoder(Protocol):
    def receive_data(self, data: bytes) -> None: ...
    def next_message(self) -> Message | None: ...


def _pings(total: int) -> bytes:
    """Pings with msgids 0, 1, ... (``_count(data)`` of them) in about ``total`` bytes."""
    return b"".join(request(i, "ping", {"token": i}) for i in range(_count(total)))


def _count(total: int) -> int:
    """How many pings (or other small requests) ``_pings`` writes for ``total`` bytes."""
    return total // PING_BYTES


def _sends(total: int) -> bytes:
    one = request(1, "send", {"session_id": 1, "frames": [FRAME] * 64})
    return one * (total // len(one))


def _received(total: int, sizes: Callable[[random.Random], int]) -> bytes:
    rnd = random.Random(18)
    frames = [b"r" * sizes(rnd) for _ in range(8192)]
    one = encode_notification("received", {"session_id": 1, "frames": frames, "at": 1.0})
    return one * max(1, total // len(one))


def _feed(decoder: MessageDecoder | _Decoder, data: bytes, piece: int, pending: bool) -> str:
    """Feed ``data`` in ``piece``-byte reads; what came of it, in words."""
    messages = bad = 0
    late = ""  # how much had been read when a message after a bad one came out
    for start in range(0, len(data), piece):
        chunk = data[start : start + piece]
        if isinstance(decoder, MessageDecoder):
            decoder.receive_data(chunk, more_pending=pending and start + piece < len(data))
        else:
            decoder.receive_data(chunk)
        while True:
            try:
                msg = decoder.next_message()
            except BadMessage:
                bad += 1
                continue
            except ProtocolViolation as exc:
                read = start + len(chunk)
                return f"channel closed after {read:,} bytes read: {exc.kind} at byte {exc.offset}"
            if msg is None:
                break
            messages += 1
            if bad and not late:
                late = f"; a message after a bad one once {start + len(chunk):,} B were read"
    return f"{messages:,} messages, {bad:,} bad{late}"


def _feed_new(
    factory: Callable[[], MessageDecoder | _Decoder], data: bytes, piece: int, pending: bool
) -> str:
    """``_feed`` into a new decoder from ``factory``."""
    return _feed(factory(), data, piece, pending)


def _best_seconds(work: Callable[[], str], runs: int) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(runs):
        start = time.perf_counter()
        outcome = work()
        best = min(best, time.perf_counter() - start)
    return best, outcome


def decoder_rows(size: int, runs: int) -> list[dict[str, Any]]:
    """Part 1: each input (of about ``size`` bytes, the junk excepted) through the
    decoder before and after, side by side."""
    rnd = random.Random(18)
    inputs: list[tuple[str, bytes, int, bool]] = [
        ("pings (engine reads: 256 KiB)", _pings(size), 256 * 1024, False),
        ("sends of 64 x 100 B (engine reads)", _sends(size), 256 * 1024, False),
        ("received, 100 B frames (client reads: 1 MiB, more pending)",
         _received(size, lambda r: 100), 2**20, True),
        ("received, 20-200 B frames (client reads)",
         _received(size, lambda r: r.randrange(20, 201)), 2**20, True),
        (f"random bytes ({size // 4 / 2**20:g} MiB)", rnd.randbytes(size // 4), 256 * 1024, False),
        (f"the 4 GiB bomb, then {size // 2 / 2**20:g} MiB of pings", BOMB + _pings(size // 2),
         256 * 1024, False),
    ]  # fmt: skip
    rows = []
    for name, data, piece, pending in inputs:
        row: dict[str, Any] = {"input": name, "bytes": len(data)}
        for label, factory in (("before", codec_v1.MessageDecoder), ("now", MessageDecoder)):
            work = functools.partial(_feed_new, factory, data, piece, pending)
            seconds, outcome = _best_seconds(work, runs)
            row[label] = {"seconds": seconds, "outcome": outcome}
        rows.append(row)
    return rows


# -- the engine end to end


class _Engine:
    """``python -m engine --stdio`` with its pipes; counts the bytes of what it answers."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.decoder = MessageDecoder()

    async def messages(self) -> list[Message]:
        """What the engine sent since the last call (waits for at least one read)."""
        data = await self.stdout.receive_some(2**20)
        if not data:
            return []
        self.decoder.receive_data(data)
        return list(self.decoder)


async def _start_engine(nursery: trio.Nursery) -> _Engine:
    run = functools.partial(
        trio.run_process,
        [sys.executable, *ENGINE_ARGS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    process: trio.Process = await nursery.start(run)
    engine = _Engine(process)
    while not await engine.messages():  # the hello
        pass
    return engine


async def _answered(engine: _Engine, data: bytes, last_msgid: int) -> float:
    """Write ``data`` while reading the answers; seconds until ``last_msgid`` is answered."""
    start = time.perf_counter()
    done = trio.Event()

    async def read() -> None:
        while True:
            for msg in await engine.messages():
                if getattr(msg, "msgid", None) == last_msgid:
                    done.set()
                    return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await engine.stdin.send_all(data)
        await done.wait()
    return time.perf_counter() - start


async def _closed(engine: _Engine, data: bytes) -> tuple[float, float, int]:
    """Write ``data`` (bytes that break the stream, then more); seconds until
    ``channel_closed`` and until the exit, and the exit status."""
    start = time.perf_counter()
    closed = 0.0

    async def write() -> None:
        with contextlib.suppress(trio.BrokenResourceError):  # the engine closed its end
            await engine.stdin.send_all(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write)
        while messages := await engine.messages():
            if any(getattr(m, "method", "") == "channel_closed" for m in messages):
                closed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    status = await engine.process.wait()
    return closed, time.perf_counter() - start, status


async def _discarding_server(task_status: trio.TaskStatus[int]) -> None:
    async def discard(stream: trio.SocketStream) -> None:
        while await stream.receive_some(2**20):
            pass

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(discard, listeners)


async def engine_rows(quick: bool) -> list[dict[str, Any]]:
    """Part 2: what the real engine takes in over its stdin."""
    size = (2 if quick else 16) * 2**20
    rows: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        port = await nursery.start(_discarding_server)
        engine = await _start_engine(nursery)
        opened = request(1, "open", {"host": "127.0.0.1", "port": port})
        await _answered(engine, opened, 1)
        pings = _pings(size)
        rows.append(
            {"input": "pings", "bytes": len(pings),
             "seconds": await _answered(engine, pings, _count(size) - 1)}
        )  # fmt: skip
        one = len(request(0, "send", {"session_id": 1, "frames": [FRAME] * 64}))
        msgids = range(size // one)
        sends = b"".join(
            request(i, "send", {"session_id": 1, "frames": [FRAME] * 64}) for i in msgids
        )
        rows.append(
            {"input": "sends of 64 x 100 B to a TCP server", "bytes": len(sends),
             "seconds": await _answered(engine, sends, msgids[-1])}
        )  # fmt: skip
        msgids = range(size // 24)
        wrong = b"".join(request(i, "no_such_method", {}) for i in msgids)
        rows.append(
            {"input": "unknown methods (each answered with an error)", "bytes": len(wrong),
             "seconds": await _answered(engine, wrong, msgids[-1])}
        )  # fmt: skip
        unknown = encode_notification("no_such_event", {})
        dropped = unknown * (size // len(unknown)) + request(1, "ping", {"token": 1})
        rows.append(
            {"input": "unknown notifications (dropped, a log line at most 20/s)",
             "bytes": len(dropped), "seconds": await _answered(engine, dropped, 1)}
        )  # fmt: skip
        await engine.stdin.aclose()
        await engine.process.wait()
        rnd = random.Random(18)
        for name, data in (
            ("random bytes (8 MiB)", rnd.randbytes(8 * 2**20)),
            ("the 4 GiB bomb, then 16 MiB of pings", BOMB + _pings(16 * 2**20)),
        ):
            engine = await _start_engine(nursery)
            closed, exited, status = await _closed(engine, data)
            rows.append({"input": name, "closed": closed, "exited": exited, "status": status})
        nursery.cancel_scope.cancel()
    return rows


def _mb_s(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def _decoder_cell(nbytes: int, result: dict[str, Any]) -> str:
    outcome, seconds = result["outcome"], result["seconds"]
    if outcome.startswith("channel closed"):
        return f"{seconds * 1e6:,.0f} µs: {outcome}"
    return f"{_mb_s(nbytes, seconds):,.0f} MB/s ({outcome})"


def run(options: BenchOptions) -> BenchResult:
    runs = options.runs_or(5, 2)
    decoded = decoder_rows((4 if options.quick else 32) * 2**20, runs)
    served = trio.run(engine_rows, options.quick)
    ratios: list[float] = []
    rows = []
    for row in decoded:
        before, now = row["before"], row["now"]
        ratio = before["seconds"] / now["seconds"]
        valid = now["outcome"].endswith(" 0 bad") and before["outcome"].endswith(" 0 bad")
        if valid:
            ratios.append(ratio)
        rows.append(
            [row["input"], _decoder_cell(row["bytes"], before),
             _decoder_cell(row["bytes"], now), f"{ratio:.2f}" if valid else ""]
        )  # fmt: skip
    decoder_table = markdown_table(["input", "before", "now", "now / before"], rows)
    engine_table = markdown_table(
        ["input", "taken in and answered", "channel_closed after", "exit after (status)"],
        [
            [r["input"], f"{_mb_s(r['bytes'], r['seconds']):,.1f} MB/s", "", ""]
            if "seconds" in r
            else [r["input"], "", f"{r['closed'] * 1000:,.1f} ms",
                  f"{r['exited'] * 1000:,.0f} ms ({r['status']})"]
            for r in served
        ],
    )  # fmt: skip
    verdicts = [r["closed"] for r in served if "closed" in r]
    note = (
        f"\n\nThe decoder alone: best of {runs} runs. Before the guard the bomb's 4 GiB "
        "header swallowed the pings after it, and random bytes were read as values, one "
        "error each; now both are refused at their header (random bytes at the first "
        "byte: it cannot start a message)."
    )
    return BenchResult(
        markdown="**The decoder alone** (MB/s of input)\n\n"
        + decoder_table
        + note
        + "\n\n**The engine end to end** (`python -m engine --stdio`)\n\n"
        + engine_table,
        data={"decoder": decoded, "engine": served},
        targets=(
            Target(
                name="valid traffic through the decoder, now / before (worst input)",
                measured=min(ratios),
                goal=TARGET_VALID_RATIO,
            ),
            Target(
                name="bytes that break the stream: channel_closed after (worst input)",
                measured=max(verdicts),
                goal=TARGET_VERDICT_SECONDS,
                higher_is_better=False,
                unit="s",
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="intake",
    title="IPC intake: requests, junk and size bombs, before and after the header guard",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_alone(BENCHMARK))
