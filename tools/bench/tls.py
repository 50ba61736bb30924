"""TLS receive throughput of one session over loopback: framewire's engine vs a blocking
Python ``ssl`` socket, in the same run.

A sender accepts one connection on 127.0.0.1, makes the TLS handshake (TLS 1.3, the
default cipher both sides pick, no session tickets), encrypts N frames (4-byte
little-endian length + payload) and sends them, then ``close_notify``. Each contender
connects, verifies the sender's certificate (a trustme CA made for the run; host name
checked) and receives until the end of the stream, counting frames and payload bytes, in
a fresh interpreter; the harness checks every frame and byte came.

The sender encrypts the whole stream *before* it sends a byte (``ssl.SSLObject`` over
memory BIOs), then sends the records with plain ``sendall``: Python's ``ssl`` encrypts no
faster than it decrypts, so a sender encrypting as it goes would be what gets measured.
Each receiver's clock starts when its first record arrives (the socket turns readable
after the handshake) and stops at the end of the stream. The ciphertext is held in the
sender's memory: about 105 MB for the 100 B workload and 270 MB for the 1 MiB one.

The contenders:

- ``framewire``: the engine's receive path over TLS, as a client session has it:
  ``engine.tls.handshake`` (trio's ``SSLStream`` over Python's ``ssl``, the session's
  ``TlsStream``), then ``engine.session.receive_frames`` (the engine's read sizes, whole
  chunks through ``FrameDecoder.feed``), with the allocator tuned as the engine process
  tunes it;
- ``framewire-engine`` (for information): the whole in-process engine,
  ``Engine.connect(..., tls=ClientTls(...))``, frames counted from ``Received`` events;
  its clock starts at the first ``Received``;
- ``blocking``: ``ssl.SSLContext.wrap_socket`` over a blocking socket and the plain
  receive benchmark's loop (``tools.bench.receive.blocking_loop``): ``recv_into`` a
  preallocated 1 MiB buffer, a large frame received straight into its own ``bytearray``.

Python's ``ssl`` returns at most one TLS record (16 KiB of plaintext) per read, in both.

Run: ``python -m tools.bench --only tls``; one workload: ``python -m tools.bench.tls
--contenders framewire,blocking --size 1048576 --count 256 --runs 5``.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from tools.bench.receive import (
    Clock,
    Measurement,
    ReceiveResult,
    blocking_loop,
    format_results,
    median_result,
    ratio_targets,
    run_sender_and_receiver,
    size_label,
)
from tools.bench.suite import Benchmark, BenchOptions, BenchResult

__all__ = ["BENCHMARK", "CONTENDERS", "make_certs", "measure", "measure_once", "run"]

LOOPBACK = "127.0.0.1"
CONTENDERS = ("framewire", "framewire-engine", "blocking")
#: (payload bytes, frames per run at full size): about 100 MB and 270 MB per run.
WORKLOADS = ((100, 1_000_000), (1024 * 1024, 256))
QUICK_DIVISOR = 10
#: (payload size, contender, goal): framewire's throughput / the contender's.
GOALS = ((1024 * 1024, "blocking", 0.8),)
#: Plaintext bytes per ``SSLObject.write`` while the sender encrypts (whole frames).
ENCRYPT_CHUNK_BYTES = 1024 * 1024
RUN_TIMEOUT_SECONDS = 300.0
_HEADER = struct.Struct("<L")


# ---------------------------------------------------------------------------- the sender


def _serve_frames(count: int, size: int, cert: str) -> None:
    """Accept one connection, handshake, encrypt ``count`` frames, send them, close."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert)
    context.num_tickets = 0  # nothing after the handshake but the frames
    with socket.create_server((LOOPBACK, 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        conn, _ = listener.accept()
    with conn:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                data = conn.recv(65536)
                if not data:
                    raise ConnectionError("the receiver closed during the handshake") from None
                incoming.write(data)
        conn.sendall(outgoing.read())
        records = _encrypt(tls, outgoing, count, size)
        for blob in records:
            conn.sendall(blob)
        records.clear()
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # wait for the receiver's close: no RST on unread data
            pass


def _encrypt(tls: ssl.SSLObject, outgoing: ssl.MemoryBIO, count: int, size: int) -> list[bytes]:
    """``count`` frames as TLS records, then ``close_notify``."""
    frame = _HEADER.pack(size) + b"x" * size
    per_chunk = max(1, ENCRYPT_CHUNK_BYTES // len(frame))
    full, rest = divmod(count, per_chunk)
    chunk = frame * per_chunk
    records = []
    for plaintext in [chunk] * full + ([frame * rest] if rest else []):
        tls.write(plaintext)
        records.append(outgoing.read())
    with contextlib.suppress(ssl.SSLWantReadError):  # the peer's close_notify is not awaited
        tls.unwrap()
    records.append(outgoing.read())
    return records


# ---------------------------------------------------------------------------- contenders


def _receive_framewire(port: int, cafile: str) -> Measurement:
    import trio

    from engine.allocator import tune_allocator
    from engine.session import receive_frames
    from engine.tls import client_context, handshake
    from ipc.framing import FrameDecoder, FramingSpec
    from ipc.tls import ClientTls

    tune_allocator()

    async def main() -> Measurement:
        frames = size = 0

        async def deliver(batch: list[bytes]) -> None:
            nonlocal frames, size
            frames += len(batch)
            size += sum(map(len, batch))

        options = ClientTls(cafile=cafile)
        tcp = await trio.open_tcp_stream(LOOPBACK, port)
        stream, _ = await handshake(
            tcp,
            client_context(options),
            deadline=trio.current_time() + 10,
            where=f"{LOOPBACK}:{port}",
            client=options,
            server_name=LOOPBACK,
        )
        await trio.lowlevel.wait_readable(tcp.socket)
        clock = Clock()
        await receive_frames(stream, FrameDecoder(FramingSpec()), deliver)
        elapsed = clock.elapsed()
        await stream.aclose()
        return frames, size, *elapsed

    return trio.run(main)


def _receive_framewire_engine(port: int, cafile: str) -> Measurement:
    import trio

    from engine import open_engine
    from engine.allocator import tune_allocator
    from ipc import schema
    from ipc.tls import ClientTls

    tune_allocator()

    async def main() -> Measurement:
        frames = size = 0
        clock: Clock | None = None
        async with open_engine() as engine:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    lambda: engine.connect(LOOPBACK, port, tls=ClientTls(cafile=cafile))
                )
                async for event in engine.events:
                    if isinstance(event, schema.Received):
                        clock = clock or Clock()
                        frames += len(event.frames)
                        size += sum(map(len, event.frames))
                    elif isinstance(event, schema.Closed | schema.ConnectFailed):
                        break
            if clock is None:
                raise RuntimeError("no frames came")
            elapsed = clock.elapsed()
        return frames, size, *elapsed

    return trio.run(main)


def _receive_blocking(port: int, cafile: str) -> Measurement:
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection((LOOPBACK, port)) as raw,
        context.wrap_socket(raw, server_hostname=LOOPBACK) as sock,
    ):
        select.select([sock], [], [])
        clock = Clock()
        frames, size = blocking_loop(sock)
        return frames, size, *clock.elapsed()


_RECEIVERS: dict[str, Callable[[int, str], Measurement]] = {
    "framewire": _receive_framewire,
    "framewire-engine": _receive_framewire_engine,
    "blocking": _receive_blocking,
}


# ---------------------------------------------------------------------------- orchestration


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.bench.tls", *args]


def make_certs(directory: Path) -> tuple[str, str]:
    """A throwaway CA and a certificate for 127.0.0.1: (the server's PEM, the CA's)."""
    import trustme

    ca = trustme.CA(organization_name="framewire bench")
    cert, cafile = directory / "server.pem", directory / "ca.pem"
    ca.issue_cert(LOOPBACK, "localhost").private_key_and_cert_chain_pem.write_to_path(str(cert))
    ca.cert_pem.write_to_path(str(cafile))
    return str(cert), str(cafile)


def measure_once(contender: str, count: int, size: int, certs: tuple[str, str]) -> Measurement:
    """One sender and one contender process: the contender's frames, bytes, wall and CPU s.

    Raises:
        RuntimeError: a process failed, or the contender did not get every frame.
    """
    cert, cafile = certs
    return run_sender_and_receiver(
        _module_command(
            "--role", "sender", "--count", str(count), "--size", str(size), "--cert", cert
        ),
        lambda port: _module_command("--role", contender, "--port", port, "--cafile", cafile),
        contender,
        count,
        size,
    )


def measure(
    contenders: tuple[str, ...], count: int, size: int, runs: int, certs: tuple[str, str]
) -> list[ReceiveResult]:
    """Interleaved runs of every contender on one workload; medians (by wall time)."""
    times: dict[str, list[tuple[float, float]]] = {c: [] for c in contenders}
    for _ in range(runs):
        for contender in contenders:
            _, _, wall, cpu = measure_once(contender, count, size, certs)
            times[contender].append((wall, cpu))
    return [median_result(c, count, size, times[c]) for c in contenders]


def run(options: BenchOptions) -> BenchResult:
    """The registered entry point: both workloads, every contender, one CA for the run.

    Raises:
        RuntimeError: a process failed, or frames were lost.
    """
    runs = options.runs_or(full=5, quick=3)
    divisor = QUICK_DIVISOR if options.quick else 1
    all_results: list[ReceiveResult] = []
    sections = []
    with tempfile.TemporaryDirectory(prefix="framewire-bench-tls-") as directory:
        certs = make_certs(Path(directory))
        for size, full_count in WORKLOADS:
            count = max(1, full_count // divisor)
            results = measure(CONTENDERS, count, size, runs, certs)
            all_results += results
            sections.append(
                f"**{size_label(size)} payloads over TLS**, {count:,} frames per run, median "
                f"of {runs} runs\n\n" + format_results(results)
            )
    note = (
        "framewire ratio = framewire's throughput / the contender's. MB = 10^6 payload "
        "bytes. CPU = the receiver's CPU time / wall time in the median run. TLS 1.3, "
        "the cipher both sides prefer; the sender encrypted everything before sending, "
        "so it is not what is measured. Each contender in a fresh process."
    )
    return BenchResult(
        markdown="\n\n".join([*sections, note]),
        data=[asdict(r) for r in all_results],
        targets=ratio_targets(all_results, GOALS, prefix="TLS "),
    )


BENCHMARK = Benchmark(
    name="tls",
    title="TLS receive throughput of one session (loopback)",
    run=run,
    description=__doc__ or "",
)


def main(argv: list[str] | None = None) -> int:
    """Subprocess roles, or one workload for chosen contenders (for investigating)."""
    import argparse

    from tools.lifecycle import die_with_parent

    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.tls",
        description="One TLS receive-throughput workload; the full run is python -m tools.bench.",
    )
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="%(default)s")
    parser.add_argument("--count", type=int, default=100_000, help="frames per run")
    parser.add_argument("--size", type=int, default=100, help="payload bytes")
    parser.add_argument("--runs", type=int, default=3, help="runs (median kept)")
    parser.add_argument("--role", choices=("sender", *CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--cafile", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is None:
        contenders = tuple(c for c in args.contenders.split(",") if c)
        unknown = set(contenders) - set(CONTENDERS)
        if unknown:
            parser.error(f"unknown contenders {', '.join(sorted(unknown))}")
        with tempfile.TemporaryDirectory(prefix="framewire-bench-tls-") as directory:
            certs = make_certs(Path(directory))
            print(format_results(measure(contenders, args.count, args.size, args.runs, certs)))
        return 0
    die_with_parent()
    if args.role == "sender":
        _serve_frames(args.count, args.size, args.cert)
    else:
        print(json.dumps(_RECEIVERS[args.role](args.port, args.cafile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
