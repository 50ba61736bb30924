"""Relay throughput, side by side with socat and a plain asyncio byte relay; and the relay's
integrity with a million frames each way.

Each throughput measurement has three parts: a *sink* server (a thread of this process:
``recv_into``, counting the bytes and comparing the last ones with what was sent; the
integrity run compares every byte), the *relay* under test
in a process of its own (listening on a free loopback port, connecting to the sink for its
one client), and a *sender* (this process) writing pre-encoded frames to the relay as
fast as it takes them. Time runs from the first byte sent to the last byte the sink got.

Contenders:

- **framewire**: ``Engine.relay`` in its own process (``python -m tools.bench.relay serve``):
  every frame is decoded on the client leg, reported as a ``Received`` event (with its
  pair and direction) and written to the upstream leg, which decodes what comes back; the
  events are drained by a consumer that counts them (what a script on the library pays;
  the CLI's ``--relay`` prints every frame, so printing bounds it instead);
- **socat** ``TCP-LISTEN:PORT TCP:HOST:PORT`` (its default 8 KiB buffer), and with
  ``-b 1048576``; installed from the OS packages (``apt-get install socat``);
- **asyncio**: a byte relay on asyncio streams (1 MiB reads, a drain after each write).

Integrity: ``FRAMES_EACH_WAY`` sequence-numbered 100-byte frames each way at once
through framewire's relay, the client leg le32 and the upstream be32 (every frame
re-encoded), the client reading slowly (4 KiB reads); both ends compare every byte with
what was sent. The relay process's peak RSS (``VmHWM``) says whether memory stayed
bounded while ~200 MB passed through.

Run: ``python -m tools.bench --only relay`` (or ``python -m tools.bench.relay [--quick]``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tools.bench.memory import status_kib
from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, markdown_table

__all__ = [
    "BENCHMARK",
    "SOCAT_MISSING",
    "encode_sequence",
    "measure_integrity",
    "measure_throughput",
    "run",
]

#: The issue's targets: frames through framewire's relay at 100 B, and its 1 MiB
#: throughput against socat's.
TARGET_FRAMES_PER_SECOND = 2_000_000
TARGET_SOCAT_RATIO = 0.5
#: Peak RSS of the relay process during the integrity run, at most (MiB): memory stays
#: bounded while ~200 MB pass through it.
TARGET_RSS_MIB = 100.0
FRAMES_EACH_WAY = 1_000_000
SOCAT_MISSING = (
    "socat is not installed: the relay benchmark compares with it "
    "(Debian/Ubuntu: apt-get install socat; Fedora: dnf install socat; macOS: brew install socat)"
)
#: How long a relay process may take to start listening.
START_SECONDS = 10.0
SLOW_READ_BYTES = 4096


def encode_sequence(count: int, size: int, *, big_endian: bool = False, first: int = 0) -> bytes:
    """``count`` frames of ``size`` bytes (an 8-byte sequence number, then zeros), each
    after a 4-byte length (le32, or be32)."""
    header = struct.pack(">I" if big_endian else "<I", size)
    pad = bytes(size - 8)
    pack = struct.Struct("<Q").pack
    return b"".join(header + pack(i) + pad for i in range(first, first + count))


# ----------------------------------------------------------------------------- processes


@dataclass
class _Relay:
    """A relay under test: its process and the port it listens on."""

    process: subprocess.Popen[bytes]
    port: int

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (``VmHWM``, which starts afresh at exec:
        ``ru_maxrss`` would count the fork of this big process), in MiB."""
        return status_kib("VmHWM", self.process.pid) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start_relay(kind: str, upstream_port: int, *extra: str) -> _Relay:
    """Start a relay process of ``kind`` (framewire, asyncio, socat, socat-big) in front of
    127.0.0.1:``upstream_port``; return once it accepts connections.

    Raises:
        RuntimeError: socat is missing (``SOCAT_MISSING``), or the relay did not start.
    """
    if kind.startswith("socat"):
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError(SOCAT_MISSING)
        port = _free_port()
        buffer = ["-b", "1048576"] if kind == "socat-big" else []
        process = subprocess.Popen(
            [
                socat,
                *buffer,
                f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr",
                f"TCP:127.0.0.1:{upstream_port}",
            ]
        )
        _wait_listening(port, process)
        return _Relay(process, port)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.relay", kind, str(upstream_port), *extra],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the {kind} relay did not start: {line!r}")
    return _Relay(process, int(line.rpartition(":")[2]))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until something listens on ``port`` (socat prints nothing when it does).

    The probe is a connection of its own, so socat would take it as its one client:
    instead the port is watched in /proc/net/tcp for a listening socket.
    """
    deadline = time.monotonic() + START_SECONDS
    wanted = f":{port:04X} 00000000:0000 0A"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"socat exited with {process.returncode}")
        if wanted in Path("/proc/net/tcp").read_text():
            return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listened on port {port} within {START_SECONDS:g} s")


class _Sink:
    """A one-connection server thread that reads ``len(expected)`` bytes, ``read_bytes`` at
    a time, and compares them with ``expected``: all of them (``check_all``), or the last
    ones only (a byte comparison in Python is slower than a fast relay)."""

    def __init__(self, expected: bytes, read_bytes: int = 1 << 22, check_all: bool = True) -> None:
        self.expected = expected
        self.read_bytes = read_bytes
        self.check_all = check_all
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.done_at = 0.0
        self.error: str | None = None
        #: Set once everything arrived; the connection stays open until ``release`` (socat
        #: ends as soon as it closes, and its memory is read while it runs).
        self.finished = threading.Event()
        self.release = threading.Event()
        #: What to send back on the connection once accepted (the integrity run).
        self.reply = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.server, self.server.accept()[0] as conn:
            if self.reply:
                threading.Thread(target=conn.sendall, args=(self.reply,), daemon=True).start()
            self.error = _receive_all(conn, self.expected, self.read_bytes, self.check_all)
            self.done_at = time.perf_counter()
            self.finished.set()
            self.release.wait(60)

    def wait(self, timeout: float) -> None:
        if not self.finished.wait(timeout):
            raise RuntimeError(f"the sink did not get everything within {timeout:g} s")
        if self.error is not None:
            raise AssertionError(self.error)


def _receive_all(
    conn: socket.socket, expected: bytes, read_bytes: int, check_all: bool = True
) -> str | None:
    """Read ``len(expected)`` bytes, comparing them (all, or the last read's); an error
    message, or None if all matched."""
    view = memoryview(bytearray(read_bytes))
    position = 0
    while position < len(expected):
        n = conn.recv_into(view, min(read_bytes, len(expected) - position))
        if not n:
            return f"the relay closed after {position:,} of {len(expected):,} bytes"
        last = position + n == len(expected)
        if (check_all or last) and not expected.startswith(view[:n], position):
            return f"the bytes differ within {position:,}..{position + n:,}: lost or reordered"
        position += n
    return None


# ----------------------------------------------------------------------------- measurements


def measure_throughput(kind: str, count: int, size: int) -> dict[str, float]:
    """Send ``count`` frames of ``size`` bytes through a ``kind`` relay to the sink.

    Returns frames/s, MB/s and the relay process's peak RSS (MiB).
    """
    stream = encode_sequence(count, size)
    sink = _Sink(stream, check_all=False)
    relay = _start_relay(kind, sink.port)
    try:
        with socket.create_connection(("127.0.0.1", relay.port)) as sender:
            start = time.perf_counter()
            sender.sendall(stream)
            sink.wait(timeout=300)
            elapsed = sink.done_at - start
            rss = relay.peak_rss_mib()
    finally:
        sink.release.set()
        relay.stop()
    return {
        "frames_per_s": count / elapsed,
        "mb_per_s": len(stream) / elapsed / 1e6,
        "rss_mib": rss,
    }


def measure_integrity(count: int) -> dict[str, float]:
    """``count`` 100-byte frames each way at once through framewire's relay (le32 client,
    be32 server), the client reading slowly; every byte compared at both ends.

    Returns the seconds it took and the relay's peak RSS (MiB).

    Raises:
        AssertionError: a byte arrived that was not the one sent (lost or reordered).
    """
    c2s_le = encode_sequence(count, 100)
    sink = _Sink(encode_sequence(count, 100, big_endian=True))  # the server: be32
    sink.reply = encode_sequence(count, 100, big_endian=True, first=10**9)
    s2c_le = encode_sequence(count, 100, first=10**9)
    relay = _start_relay("framewire", sink.port, "--upstream-framing", "be32")
    try:
        with socket.create_connection(("127.0.0.1", relay.port)) as client:
            start = time.perf_counter()
            sending = threading.Thread(target=client.sendall, args=(c2s_le,), daemon=True)
            sending.start()
            error = _receive_all(client, s2c_le, SLOW_READ_BYTES)  # slowly
            sink.wait(timeout=600)
            sending.join()
            if error is not None:
                raise AssertionError(f"server to client: {error}")
            elapsed = max(sink.done_at, time.perf_counter()) - start
            rss = relay.peak_rss_mib()
    finally:
        sink.release.set()
        relay.stop()
    return {"seconds": elapsed, "rss_mib": rss, "megabytes": 2 * len(c2s_le) / 1e6}


# ----------------------------------------------------------------------------- the benchmark


def run(options: BenchOptions) -> BenchResult:
    if shutil.which("socat") is None:
        raise RuntimeError(SOCAT_MISSING)
    runs = options.runs_or(3, 1)
    small = 100_000 if options.quick else 1_000_000
    large = 20 if options.quick else 200
    kinds = ("framewire", "socat", "socat-big", "asyncio")
    results: dict[str, dict[str, dict[str, float]]] = {"100 B": {}, "1 MiB": {}}
    for label, count, size in (("100 B", small, 100), ("1 MiB", large, 1 << 20)):
        for kind in kinds:
            samples = [measure_throughput(kind, count, size) for _ in range(runs)]
            results[label][kind] = {
                key: statistics.median(s[key] for s in samples) for key in samples[0]
            }
    integrity = measure_integrity(FRAMES_EACH_WAY // 10 if options.quick else FRAMES_EACH_WAY)
    names = {
        "framewire": "framewire (engine.relay, both legs parsed)",
        "socat": "socat (default 8 KiB buffer)",
        "socat-big": "socat -b 1048576",
        "asyncio": "asyncio streams byte relay",
    }
    socat_large = results["1 MiB"]["socat"]["mb_per_s"]
    rows = [
        [
            names[kind],
            round(results["100 B"][kind]["frames_per_s"]),
            round(results["100 B"][kind]["mb_per_s"]),
            round(results["1 MiB"][kind]["mb_per_s"]),
            f"{results['1 MiB'][kind]['mb_per_s'] / socat_large:.2f}x",
            round(max(results["100 B"][kind]["rss_mib"], results["1 MiB"][kind]["rss_mib"]), 1),
        ]
        for kind in kinds
    ]
    table = markdown_table(
        [
            "relay",
            "100 B frames/s",
            "100 B MB/s",
            "1 MiB MB/s",
            "1 MiB vs socat",
            "peak RSS, MiB",
        ],
        rows,
    )
    framewire = results["100 B"]["framewire"]["frames_per_s"]
    ratio = results["1 MiB"]["framewire"]["mb_per_s"] / socat_large
    each_way = FRAMES_EACH_WAY // 10 if options.quick else FRAMES_EACH_WAY
    markdown = (
        f"{table}\n\n"
        f"One client, one direction; {small:,} frames of 100 B, {large} of 1 MiB; median "
        f"of {runs} run(s). Integrity: {each_way:,} frames of 100 B each way at once "
        f"(le32 client, be32 server: every frame re-encoded; the client reading 4 KiB at a "
        f"time), {integrity['megabytes']:,.0f} MB in {integrity['seconds']:.1f} s, every byte "
        f"compared at both ends: 0 lost, 0 reordered; the relay's peak RSS "
        f"{integrity['rss_mib']:.1f} MiB."
    )
    return BenchResult(
        markdown=markdown,
        data={"throughput": results, "integrity": integrity},
        targets=(
            Target(
                name="framewire relay, 100 B frames",
                measured=framewire,
                goal=TARGET_FRAMES_PER_SECOND,
                unit="frames/s",
            ),
            Target(
                name="framewire relay / socat, 1 MiB frames",
                measured=ratio,
                goal=TARGET_SOCAT_RATIO,
            ),
            Target(
                name="relay peak RSS, 1M frames each way",
                measured=integrity["rss_mib"],
                goal=TARGET_RSS_MIB,
                higher_is_better=False,
                unit="MiB",
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="relay",
    title="Relay throughput: framewire vs socat vs an asyncio byte relay",
    run=run,
)


# ----------------------------------------------------------------------------- relay processes


async def _serve_framewire(upstream_port: int, upstream_framing: str) -> None:
    import trio

    from engine import PRESETS, open_engine

    async with open_engine() as engine:
        listening = await engine.relay(
            "127.0.0.1", 0, "127.0.0.1", upstream_port, upstream_framing=PRESETS[upstream_framing]
        )
        _announce(listening.port)
        frames = 0
        async for event in engine.events:  # the consumer a library user would be
            frames += len(getattr(event, "frames", ()))
        await trio.lowlevel.checkpoint()


async def _serve_asyncio(upstream_port: int) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    _announce(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _announce(port: int, out: IO[str] = sys.stdout) -> None:
    print(f"listening on 127.0.0.1:{port}", file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tools.bench.relay [--quick]``; ``serve``/``asyncio UPSTREAM_PORT``: a
    relay process of the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.relay")
    parser.add_argument("role", nargs="?", choices=("framewire", "asyncio"))
    parser.add_argument("upstream_port", nargs="?", type=int)
    parser.add_argument("--upstream-framing", default="le32")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.role is None:
        print(run(BenchOptions(quick=args.quick)).markdown)
        return
    if args.role == "framewire":
        import trio

        from engine.allocator import tune_allocator
        from engine.cli.main import tune_gc

        tune_allocator()
        tune_gc()  # as the engine process does
        trio.run(_serve_framewire, args.upstream_port, args.upstream_framing)
    else:
        asyncio.run(_serve_asyncio(args.upstream_port))


if __name__ == "__main__":
    main()
