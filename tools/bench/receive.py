"""Receive throughput of one session over loopback: framewire's engine vs its peers.

One sender streams N frames (4-byte little-endian length + payload) over one TCP
connection on 127.0.0.1 as fast as the kernel takes them, then closes. Each contender
receives them until EOF, counting frames and payload bytes, in its own fresh interpreter;
the sender is another process. Runs are interleaved (run 1 of every contender, then run
2, ...) so a slow spell of the shared machine hits them all; the median is reported.

The contenders, each written the way a developer of that library would:

- ``framewire``: the engine's receive path itself, ``engine.session.receive_frames``
  (1 MiB reads, whole chunks through ``FrameDecoder.feed``, one ``deliver`` per read),
  with the allocator tuned as the engine process tunes it (``engine.allocator``);
- ``framewire-engine`` (for information, no target): the same through the whole
  in-process engine: ``open_engine``, ``Engine.connect``, frames counted from the
  ``Received`` events on ``Engine.events`` (what the engine process serves over IPC);
- ``twisted``: ``IntNStringReceiver`` with ``structFormat = "<L"`` on the default
  reactor (64 KiB reads), ``MAX_LENGTH`` raised to framewire's 8 MiB;
- ``asyncio-protocol``: an ``asyncio.Protocol`` whose ``data_received`` parses every
  complete frame of the buffer in one pass (a batch parser);
- ``asyncio-streams``: ``StreamReader.readexactly`` for the header, then for the payload;
- ``blocking``: a plain blocking socket: ``recv_into`` a preallocated buffer, frames
  parsed with ``struct.unpack_from``; a frame over half the buffer is received straight
  into its own ``bytearray``.

Every contender hands the application each payload as its own object (bytes, or a
bytearray for the blocking loop's large frames), so none wins by skipping that copy.

The sender is raw (a blocking ``sendall`` of a prebuilt buffer) rather than the demo
server: it must outrun every receiver, or it would measure itself. Check that it does
with ``python -m tools.bench.receive --role sender-check``.

Run: ``python -m tools.bench [--quick] --only receive``. To look at one workload and a few
contenders: ``python -m tools.bench.receive --contenders framewire,blocking --size 1048576
--count 1024 --runs 5``.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, markdown_table

__all__ = [
    "BENCHMARK",
    "CONTENDERS",
    "Clock",
    "Measurement",
    "ReceiveResult",
    "blocking_loop",
    "format_results",
    "measure",
    "median_result",
    "ratio_targets",
    "run",
    "run_sender_and_receiver",
    "size_label",
]

LOOPBACK = "127.0.0.1"
CONTENDERS = (
    "framewire",
    "framewire-engine",
    "twisted",
    "asyncio-protocol",
    "asyncio-streams",
    "blocking",
)
ENGINE = "framewire"
#: (payload bytes, frames per run at full size). About 200 MB and 1 GiB per run.
WORKLOADS = ((100, 2_000_000), (1024 * 1024, 1024))
#: ``--quick`` divides the frame counts by this.
QUICK_DIVISOR = 10
#: The sender's prebuilt buffer (many small frames, or a few large ones, per sendall).
SEND_CHUNK_BYTES = 4 * 1024 * 1024
#: The blocking contender's receive buffer.
BLOCKING_BUFFER_BYTES = 1024 * 1024
#: framewire's default maximum frame length, given to Twisted too (its default is 99,999).
MAX_LENGTH = 8 * 1024 * 1024
#: One contender run that has not finished in this time is killed (and the bench fails).
RUN_TIMEOUT_SECONDS = 300.0
_HEADER = struct.Struct("<L")

#: (payload size, contender, goal): framewire's throughput / the contender's must reach goal.
GOALS = ((100, "twisted", 2.5), (100, "asyncio-streams", 1.0), (1024 * 1024, "blocking", 0.8))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveResult:
    """One contender on one workload: medians over runs."""

    contender: str
    payload_bytes: int
    frames: int
    frames_per_second: float
    megabytes_per_second: float  # payload bytes, 10**6 per MB
    #: The receiver's CPU time / wall time (median run): under ~90% means it sat idle
    #: (waiting for the sender, or descheduled on a busy machine).
    cpu_share: float
    runs: list[float]  # wall seconds of each run
    cpu_runs: list[float]  # CPU seconds of each run


# ---------------------------------------------------------------------------- the sender


def _serve_frames(count: int, size: int) -> None:
    """Accept one connection on an ephemeral loopback port, send ``count`` frames, close."""
    with socket.create_server((LOOPBACK, 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        conn, _ = listener.accept()
    with conn:
        frame = _HEADER.pack(size) + b"x" * size
        per_chunk = max(1, SEND_CHUNK_BYTES // len(frame))
        full, rest = divmod(count, per_chunk)
        chunk = frame * per_chunk
        for _ in range(full):
            conn.sendall(chunk)
        conn.sendall(frame * rest)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # wait for the receiver's close: no RST on unread data
            pass


# ---------------------------------------------------------------------------- contenders
# Each returns (frames, payload bytes, wall and CPU seconds from connected to EOF).

Measurement = tuple[int, int, float, float]


class Clock:
    """Wall and process CPU time since creation (CPU time shows a receiver that waited)."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _receive_framewire(port: int) -> Measurement:
    import trio

    from engine.allocator import tune_allocator
    from engine.session import receive_frames
    from ipc.framing import FrameDecoder, FramingSpec

    tune_allocator()

    async def main() -> Measurement:
        frames = size = 0

        async def deliver(batch: list[bytes]) -> None:
            nonlocal frames, size
            frames += len(batch)
            size += sum(map(len, batch))

        stream = await trio.open_tcp_stream(LOOPBACK, port)
        clock = Clock()
        await receive_frames(stream, FrameDecoder(FramingSpec()), deliver)
        elapsed = clock.elapsed()
        await stream.aclose()
        return frames, size, *elapsed

    return trio.run(main)


def _receive_framewire_engine(port: int) -> Measurement:
    import trio

    from engine import open_engine
    from engine.allocator import tune_allocator
    from ipc import schema

    tune_allocator()

    async def main() -> Measurement:
        frames = size = 0
        async with open_engine() as engine:
            await engine.connect(LOOPBACK, port)
            clock = Clock()
            async for event in engine.events:
                if isinstance(event, schema.Received):
                    frames += len(event.frames)
                    size += sum(map(len, event.frames))
                elif isinstance(event, schema.Closed):
                    break
            elapsed = clock.elapsed()
        return frames, size, *elapsed

    return trio.run(main)


def _receive_twisted(port: int) -> Measurement:
    from twisted.internet import protocol, reactor as default_reactor
    from twisted.protocols.basic import IntNStringReceiver

    reactor: Any = default_reactor  # the module-level reactor's type says nothing useful

    result: list[Measurement] = []

    class Receiver(IntNStringReceiver):
        structFormat = "<L"  # noqa: N815 - Twisted's attribute names
        prefixLength = 4  # noqa: N815
        MAX_LENGTH = MAX_LENGTH

        def connectionMade(self) -> None:  # noqa: N802
            self.frames = self.size = 0
            self.clock = Clock()

        def stringReceived(self, string: bytes) -> None:  # noqa: N802
            self.frames += 1
            self.size += len(string)

        def connectionLost(self, reason: object = None) -> None:  # noqa: N802
            result.append((self.frames, self.size, *self.clock.elapsed()))
            reactor.stop()

    factory = protocol.ClientFactory.forProtocol(Receiver)
    reactor.connectTCP(LOOPBACK, port, factory)
    reactor.run()
    return result[0]


def _receive_asyncio_protocol(port: int) -> Measurement:
    import asyncio

    class Receiver(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[Measurement]) -> None:
            self.done = done
            self.buffer = bytearray()
            self.frames = self.size = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.clock = Clock()

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer
            buffer += data
            end, pos, batch = len(buffer), 0, []
            view = memoryview(buffer)
            while end - pos >= 4:
                (length,) = _HEADER.unpack_from(buffer, pos)
                if end - pos - 4 < length:
                    break
                batch.append(bytes(view[pos + 4 : pos + 4 + length]))
                pos += 4 + length
            view.release()
            del buffer[:pos]
            self.frames += len(batch)
            self.size += sum(map(len, batch))

        def connection_lost(self, exc: Exception | None) -> None:
            self.done.set_result((self.frames, self.size, *self.clock.elapsed()))

    async def main() -> Measurement:
        done: asyncio.Future[Measurement] = asyncio.get_running_loop().create_future()
        transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: Receiver(done), LOOPBACK, port
        )
        try:
            return await done
        finally:
            transport.close()

    return asyncio.run(main())


def _receive_asyncio_streams(port: int) -> Measurement:
    import asyncio

    async def main() -> Measurement:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        clock = Clock()
        frames = size = 0
        unpack = _HEADER.unpack
        while True:
            try:
                header = await reader.readexactly(4)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
                break
            payload = await reader.readexactly(unpack(header)[0])
            frames += 1
            size += len(payload)
        elapsed = clock.elapsed()
        writer.close()
        await writer.wait_closed()
        return frames, size, *elapsed

    return asyncio.run(main())


def _receive_blocking(port: int) -> Measurement:
    with socket.create_connection((LOOPBACK, port)) as sock:
        clock = Clock()
        frames, size = blocking_loop(sock)
        return frames, size, *clock.elapsed()


def blocking_loop(sock: socket.socket) -> tuple[int, int]:
    """The blocking contender's loop over a connected socket (an ``ssl.SSLSocket`` too):
    frames and payload bytes received until EOF."""
    buffer = bytearray(BLOCKING_BUFFER_BYTES)
    view = memoryview(buffer)
    unpack_from = _HEADER.unpack_from
    frames = size = 0
    start = end = 0
    while True:
        while end - start >= 4:
            (length,) = unpack_from(buffer, start)
            if end - start - 4 >= length:
                payload: bytes | bytearray = bytes(view[start + 4 : start + 4 + length])
                start += 4 + length
            elif length > BLOCKING_BUFFER_BYTES // 2:
                payload = _receive_large(sock, view[start + 4 : end], length)
                start = end = 0
            else:
                break
            frames += 1
            size += len(payload)
        if start:  # move the partial frame to the front (it is small)
            buffer[: end - start] = view[start:end]
            end -= start
            start = 0
        received = sock.recv_into(view[end:])
        if not received:
            return frames, size
        end += received


def _receive_large(sock: socket.socket, head: memoryview, length: int) -> bytearray:
    """Receive a large payload straight into its own buffer (one copy, no joins)."""
    payload = bytearray(length)
    target = memoryview(payload)
    have = len(head)
    target[:have] = head
    while have < length:
        received = sock.recv_into(target[have:])
        if not received:
            raise ConnectionError("peer closed mid-frame")
        have += received
    return payload


_RECEIVERS: dict[str, Callable[[int], Measurement]] = {
    "framewire": _receive_framewire,
    "framewire-engine": _receive_framewire_engine,
    "twisted": _receive_twisted,
    "asyncio-protocol": _receive_asyncio_protocol,
    "asyncio-streams": _receive_asyncio_streams,
    "blocking": _receive_blocking,
}


# ---------------------------------------------------------------------------- orchestration


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.bench.receive", *args]


def measure_once(contender: str, count: int, size: int) -> tuple[float, float]:
    """Run one sender and one contender process; return the contender's wall and CPU seconds.

    Raises:
        RuntimeError: a process failed, or the contender did not get every frame.
    """
    _, _, wall, cpu = run_sender_and_receiver(
        _module_command("--role", "sender", "--count", str(count), "--size", str(size)),
        lambda port: _module_command("--role", contender, "--port", port),
        contender,
        count,
        size,
    )
    return wall, cpu


def run_sender_and_receiver(
    sender: list[str], receiver: Callable[[str], list[str]], contender: str, count: int, size: int
) -> Measurement:
    """Start the ``sender`` command, run ``receiver(port)``; the receiver's measurement.

    The sender prints its port on its first line; the receiver prints its measurement as
    the JSON list on its last line.

    Raises:
        RuntimeError: a process failed, or the contender did not get every frame.
    """
    process = subprocess.Popen(sender, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port:
            raise RuntimeError("the sender did not start")
        received_by = subprocess.run(
            receiver(port), capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS
        )
        if received_by.returncode != 0:
            raise RuntimeError(f"{contender} failed:\n{received_by.stderr.strip()}")
        frames, received, wall, cpu = json.loads(received_by.stdout.strip().splitlines()[-1])
        if (frames, received) != (count, count * size):
            raise RuntimeError(
                f"{contender} received {frames} frames / {received} bytes, "
                f"expected {count} / {count * size}"
            )
        process.wait(timeout=RUN_TIMEOUT_SECONDS)
        return frames, received, float(wall), float(cpu)
    finally:
        process.kill()
        process.wait()


def measure(contenders: tuple[str, ...], count: int, size: int, runs: int) -> list[ReceiveResult]:
    """Interleaved runs of every contender on one workload; medians."""
    times: dict[str, list[tuple[float, float]]] = {c: [] for c in contenders}
    for _ in range(runs):
        for contender in contenders:
            times[contender].append(measure_once(contender, count, size))
    return [median_result(c, count, size, times[c]) for c in contenders]


def median_result(
    contender: str, count: int, size: int, times: list[tuple[float, float]]
) -> ReceiveResult:
    """One contender's result from its runs' (wall, CPU) seconds: the median run by wall."""
    wall, cpu = statistics.median_low(times)
    return ReceiveResult(
        contender=contender,
        payload_bytes=size,
        frames=count,
        frames_per_second=count / wall,
        megabytes_per_second=count * size / wall / 1e6,
        cpu_share=cpu / wall,
        runs=[round(w, 4) for w, _ in times],
        cpu_runs=[round(c, 4) for _, c in times],
    )


def size_label(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size >= 1024 * 1024 else f"{size} B"


def run(options: BenchOptions) -> BenchResult:
    """The registered entry point: every workload, every contender.

    Raises:
        RuntimeError: Twisted is missing, a process failed, or frames were lost.
    """
    if importlib.util.find_spec("twisted") is None:
        raise RuntimeError("Twisted is not installed: pip install -e '.[bench]' (make bench does)")
    runs = options.runs_or(full=5, quick=3)
    divisor = QUICK_DIVISOR if options.quick else 1
    all_results: list[ReceiveResult] = []
    sections = []
    for size, full_count in WORKLOADS:
        count = max(1, full_count // divisor)
        results = measure(CONTENDERS, count, size, runs)
        all_results += results
        sections.append(
            f"**{size_label(size)} payloads**, {count:,} frames per run, median of {runs} runs\n\n"
            + format_results(results)
        )
    note = (
        "framewire ratio = framewire's throughput / the contender's (> 1: framewire is "
        "faster). MB = 10^6 payload bytes. CPU = the receiver's CPU time / wall time in "
        "the median run (well under 100%: it waited, for the sender or for a core). Ratio "
        "per CPU-s = the same ratio from median CPU times: steadier on a busy machine; "
        "targets use wall time. Each contender in a fresh process; a raw blocking sender "
        "in another."
    )
    return BenchResult(
        markdown="\n\n".join([*sections, note]),
        data=[asdict(r) for r in all_results],
        targets=ratio_targets(all_results, GOALS),
    )


BENCHMARK = Benchmark(
    name="receive",
    title="Receive throughput of one session (loopback)",
    run=run,
    description=__doc__ or "",
)


def _check_sender(count: int, size: int) -> None:
    """Measure the sender against a receiver that only drains bytes (its ceiling)."""
    for _ in range(3):
        sender = subprocess.Popen(
            _module_command("--role", "sender", "--count", str(count), "--size", str(size)),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sender.stdout is not None
        port = int(sender.stdout.readline())
        with socket.create_connection((LOOPBACK, port)) as sock:
            buffer = memoryview(bytearray(BLOCKING_BUFFER_BYTES))
            started = time.perf_counter()
            total = 0
            while received := sock.recv_into(buffer):
                total += received
            elapsed = time.perf_counter() - started
        sender.wait()
        rate = f"{count / elapsed:,.0f} frames/s, {total / elapsed / 1e6:,.0f} MB/s"
        print(f"{size_label(size)}: drain-only ceiling {rate}")


def ratio_targets(
    results: list[ReceiveResult], goals: Sequence[tuple[int, str, float]], prefix: str = ""
) -> tuple[Target, ...]:
    """For each (payload size, contender, goal): framewire's throughput / the contender's."""
    targets = []
    for size, contender, goal in goals:
        by_name = {r.contender: r for r in results if r.payload_bytes == size}
        targets.append(
            Target(
                name=f"{prefix}{size_label(size)} frames: framewire / {contender}",
                measured=by_name[ENGINE].frames_per_second / by_name[contender].frames_per_second,
                goal=goal,
            )
        )
    return tuple(targets)


def format_results(results: list[ReceiveResult]) -> str:
    """One workload's results as a table, with framewire's ratio to each contender."""
    engine = next((r for r in results if r.contender == ENGINE), None)

    def ratios(r: ReceiveResult) -> list[str]:
        if engine is None:
            return ["", ""]
        # Per CPU-second: the same ratio computed from the receivers' CPU time, which a
        # busy machine disturbs far less than wall time (each receiver is CPU-bound).
        per_cpu = (r.frames / statistics.median_low(r.cpu_runs)) / (
            engine.frames / statistics.median_low(engine.cpu_runs)
        )
        return [f"{engine.frames_per_second / r.frames_per_second:.2f}", f"{1 / per_cpu:.2f}"]

    rows = [
        [
            r.contender,
            r.frames_per_second,
            r.megabytes_per_second,
            f"{r.cpu_share:.0%}",
            *ratios(r),
        ]
        for r in results
    ]
    headers = ["contender", "frames/s", "MB/s", "CPU", "framewire ratio", "ratio per CPU-s"]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    """Subprocess roles, or one workload for a chosen set of contenders (for investigating).

    ``python -m tools.bench.receive --contenders framewire,blocking --size 1048576
    --count 1024 --runs 5`` prints one table; the full benchmark is ``python -m
    tools.bench --only receive``.
    """
    import argparse

    from tools.lifecycle import die_with_parent

    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.receive",
        description="One receive-throughput workload; the full run is python -m tools.bench.",
    )
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="%(default)s")
    parser.add_argument("--count", type=int, default=1_000_000, help="frames per run")
    parser.add_argument("--size", type=int, default=100, help="payload bytes")
    parser.add_argument("--runs", type=int, default=3, help="runs (median kept)")
    parser.add_argument("--role", choices=("sender", "sender-check", *CONTENDERS), help="internal")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is None:
        contenders = tuple(c for c in args.contenders.split(",") if c)
        unknown = set(contenders) - set(CONTENDERS)
        if unknown:
            parser.error(f"unknown contenders {', '.join(sorted(unknown))}")
        print(format_results(measure(contenders, args.count, args.size, args.runs)))
        return 0
    die_with_parent()
    if args.role == "sender":
        _serve_frames(args.count, args.size)
    elif args.role == "sender-check":
        _check_sender(args.count, args.size)
    else:
        print(json.dumps(_RECEIVERS[args.role](args.port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
