"""Decoding throughput of the framing codec: the extended decoder against the one before it.

The extension of ``ipc.framing`` (a prefix before the length, 3-byte and varint lengths,
adjustment, strip) must cost the common cases nothing: le32 and be32 go through the same
fast loop as before. This runs the decoder alone, in this process, on a prebuilt stream
fed in 1 MiB chunks (as the engine reads it), and counts frames per second:

- ``before``: the decoder as it was (``tools.bench.designs.framing_v1``, frozen);
- ``now``: ``ipc.framing.FrameDecoder``, on le32 and be32 (the same stream), and for
  information on the extended presets (pg, mysql, varint, mqtt), each on a stream of its
  own framing with the same payloads.

Runs are interleaved (every contender once, then again, in a rotating order) and the
best of each is reported, as ``timeit`` does: for pure CPU work the fastest run is the
code's own speed, the slower ones are the shared machine's other load. The targets are
now / before >= 0.97 for le32 and be32 ("nothing measurable"). The socket-level receive benchmark
(``receive``) keeps its own target against Twisted.

Run: ``python -m tools.bench --only framing`` (or ``python -m tools.bench.framing``).
"""

from __future__ import annotations

import functools
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ipc.framing import PRESETS, FrameDecoder, FramingSpec, encode_frames
from tools.bench.designs import framing_v1
from tools.bench.suite import (
    Benchmark,
    BenchOptions,
    BenchResult,
    Target,
    markdown_table,
    run_alone,
)

__all__ = ["BENCHMARK", "DecodeResult", "measure", "run"]

#: Payload sizes, and frames per stream at full size (10 MB each).
WORKLOADS = ((16, 500_000), (100, 100_000))
QUICK_DIVISOR = 10
#: Bytes handed to the decoder per call, as the engine's reads are.
CHUNK_BYTES = 1024 * 1024
#: The common framings, measured before and now; the extended ones, now only.
COMMON = ("le32", "be32")
EXTENDED = ("pg", "mysql", "varint", "mqtt")
GOAL = 0.97


@dataclass(frozen=True, slots=True)
class DecodeResult:
    decoder: str
    framing: str
    payload_bytes: int
    frames: int
    frames_per_second: float


def _stream(spec: FramingSpec, count: int, size: int) -> list[bytes]:
    """``count`` frames of ``size`` bytes (the prefix included, for framings with one) as
    1 MiB chunks."""
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    wire = encode_frames([payload] * count, spec)
    return [wire[i : i + CHUNK_BYTES] for i in range(0, len(wire), CHUNK_BYTES)]


def _decode_seconds(make: Callable[[], object], chunks: list[bytes], count: int) -> float:
    decoder = make()
    feed = decoder.feed  # type: ignore[attr-defined]
    gc.collect()
    started = time.perf_counter()
    frames = 0
    for chunk in chunks:
        frames += len(feed(chunk))
    elapsed = time.perf_counter() - started
    if frames != count:
        raise RuntimeError(f"decoded {frames} frames, expected {count}")
    return elapsed


def measure(count: int, size: int, runs: int) -> list[DecodeResult]:
    """Every contender on ``count`` frames of ``size`` bytes, best of ``runs``."""
    contenders: list[tuple[str, str, Callable[[], object]]] = []
    for name in COMMON:
        spec = PRESETS[name]
        contenders.append(("before", name, functools.partial(framing_v1.FrameDecoder, spec)))
        contenders.append(("now", name, functools.partial(FrameDecoder, spec)))
    for name in EXTENDED:
        contenders.append(("now", name, functools.partial(FrameDecoder, PRESETS[name])))
    streams = {name: _stream(PRESETS[name], count, size) for name in (*COMMON, *EXTENDED)}
    seconds: dict[int, list[float]] = {i: [] for i in range(len(contenders))}
    for run_number in range(runs):
        order = list(range(len(contenders)))
        order = order[run_number % len(order) :] + order[: run_number % len(order)]
        for i in order:
            _, name, make = contenders[i]
            seconds[i].append(_decode_seconds(make, streams[name], count))
    return [
        DecodeResult(decoder, name, size, count, count / min(seconds[i]))
        for i, (decoder, name, _) in enumerate(contenders)
    ]


def run(options: BenchOptions) -> BenchResult:
    runs = options.runs_or(full=9, quick=3)
    divisor = QUICK_DIVISOR if options.quick else 1
    results: list[DecodeResult] = []
    sections = []
    targets = []
    for size, full_count in WORKLOADS:
        count = max(1, full_count // divisor)
        measured = measure(count, size, runs)
        results += measured
        before = {r.framing: r for r in measured if r.decoder == "before"}
        rows = []
        for r in measured:
            base = before.get(r.framing)
            ratio = f"{r.frames_per_second / base.frames_per_second:.3f}" if base else ""
            rows.append([r.decoder, r.framing, f"{r.frames_per_second / 1e6:.2f} M", ratio])
            if base is not None and r.decoder == "now":
                targets.append(
                    Target(
                        name=f"{size} B {r.framing} frames: decoder now / before",
                        measured=r.frames_per_second / base.frames_per_second,
                        goal=GOAL,
                    )
                )
        sections.append(
            f"**{size}-byte payloads**, {count:,} frames fed in 1 MiB chunks, best of "
            f"{runs} runs\n\n"
            + markdown_table(["decoder", "framing", "frames/s", "now / before"], rows)
        )
    note = (
        "The decoder alone, in one process, no sockets. pg, mysql, varint and mqtt take "
        "the extended decoder (a prefix, a 3-byte or varint length, an adjustment); their "
        "rows are for information."
    )
    return BenchResult(
        markdown="\n\n".join([*sections, note]),
        data=[asdict(r) for r in results],
        targets=tuple(targets),
    )


BENCHMARK = Benchmark(
    name="framing",
    title="Framing codec: decoding throughput, extended decoder vs before",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    sys.exit(run_alone(BENCHMARK))
