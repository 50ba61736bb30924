"""Decoders benchmark: what decoding costs per format, and random bytes through every decoder.

1. Decode cost: payloads of about 100 B and 10 KiB in each format (JSON, MessagePack,
   CBOR, Protobuf with and without its schema, a construct layout, text, hex), decoded
   (a) into the full field tree (the detail pane, the CLI) and (b) into the log's one-line
   summary (``SUMMARY_LIMITS``: what every visible log row costs once), each also through
   ``auto``. Reported as payloads per second, with the summary's ratio to the tree.
2. The random sweep: 100,000 random byte strings (half of them valid samples with bytes
   changed) through every decoder: no exception, no decoder bug, and the slowest payload.

Runs in this process (no Qt, no network).
"""

from __future__ import annotations

import functools
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import msgpack

from decoders import (
    DECODER_NAMES,
    SUMMARY_LIMITS,
    Decoder,
    decode,
    decoder_for,
    is_internal_error,
    summary,
)
from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target, markdown_table
from tools.demo_messages import (
    DEMO_MESSAGE_NAME,
    SAMPLE_FORMATS,
    descriptor_set_bytes,
    event_class,
    sample_payload,
)

__all__ = ["BENCHMARK", "random_payloads"]

SIZES = {"100 B": 100, "10 KiB": 10 * 1024}
SWEEP_PAYLOADS = 100_000
QUICK_SWEEP_PAYLOADS = 10_000
#: Seconds each (format, size, path) is timed for (median of the runs).
MEASURE_SECONDS = 0.3
QUICK_MEASURE_SECONDS = 0.05
#: The sweep's target: the slowest of 100,000 payloads stays within a GUI frame or two.
TARGET_SLOWEST_MS = 50.0
_LAYOUT = """
from construct import Array, Int16ub, Int32sb, PascalString, Byte, Struct, this
MESSAGE = Struct(
    "name" / PascalString(Byte, "utf8"),
    "count" / Int16ub,
    "points" / Array(this.count, Struct("x" / Int32sb, "y" / Int32sb)),
)
"""


def random_payloads(count: int, seed: int = 20261124) -> list[bytes]:
    """Half random bytes (after a first byte some format treats specially), half valid
    samples of every format with a few bytes changed, cut or added (they reach deeper)."""
    rng = random.Random(seed)
    starts = [b"", b"{", b"[", b"\x81", b"\x92", b"\xdd", b"\xa2", b"\x9f", b"\xd8", b"\x0a"]
    samples = [sample_payload(fmt, seq) for fmt in SAMPLE_FORMATS for seq in range(3)]
    payloads = []
    for _ in range(count // 2):
        payloads.append(rng.choice(starts) + rng.randbytes(rng.randrange(0, 40)))
        mutated = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(0, 3)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if rng.random() < 0.3:
            del mutated[rng.randrange(len(mutated)) :]
        if rng.random() < 0.2:
            mutated[rng.randrange(len(mutated) + 1) : 0] = rng.randbytes(rng.randrange(1, 4))
        payloads.append(bytes(mutated))
    return payloads


def _records(size: int) -> list[dict[str, Any]]:
    """Sample-like records, as many as make about ``size`` bytes of MessagePack."""
    records: list[dict[str, Any]] = []
    while len(msgpack.packb(records)) < size:
        n = len(records)
        records.append({"op": "move", "seq": n, "x": n * 3 - 7, "ok": n % 2 == 0})
    return records[:-1] or records


def _payloads(workdir: Path) -> dict[str, tuple[Decoder, dict[str, bytes]]]:
    """Per format: its decoder, and a payload of each size."""
    schema_path = workdir / "demo.desc"
    schema_path.write_bytes(descriptor_set_bytes())
    layout_path = workdir / "bench_layout.py"
    layout_path.write_text(_LAYOUT)
    out: dict[str, tuple[Decoder, dict[str, bytes]]] = {}
    plain: dict[str, dict[str, bytes]] = {"json": {}, "msgpack": {}, "cbor": {}}
    proto: dict[str, bytes] = {}
    layout: dict[str, bytes] = {}
    text: dict[str, bytes] = {}
    binary: dict[str, bytes] = {}
    for label, size in SIZES.items():
        value = {"records": _records(size)}
        plain["json"][label] = json.dumps(value).encode()
        plain["msgpack"][label] = bytes(msgpack.packb(value))
        plain["cbor"][label] = cbor2.dumps(value)
        event = event_class()(op=1, user="ana", seq=7)
        while event.ByteSize() < size:
            event.tags.append(f"tag-{len(event.tags)}")
            event.codes.append(len(event.codes))
        proto[label] = bytes(event.SerializeToString())
        points = max(1, (size - 10) // 8)
        layout[label] = bytes([4]) + b"demo" + points.to_bytes(2, "big") + bytes(8 * points)
        text[label] = (b"the quick brown fox jumps over the lazy dog " * (size // 44 + 1))[:size]
        binary[label] = random.Random(size).randbytes(size)
    for name in ("json", "msgpack", "cbor"):
        out[name] = (decoder_for(name), plain[name])
    out["protobuf (raw)"] = (decoder_for("protobuf"), proto)
    out["protobuf (schema)"] = (
        decoder_for("protobuf", proto_descriptor=schema_path, proto_message=DEMO_MESSAGE_NAME),
        proto,
    )
    out["layout"] = (decoder_for(layout=f"{layout_path}:MESSAGE"), layout)
    out["text"] = (decoder_for("text"), text)
    out["hex"] = (decoder_for("hex"), binary)
    return out


def _rate(work: Callable[[], object], seconds: float, runs: int) -> float:
    """Calls per second of ``work``: the median of ``runs`` timings of ``seconds`` each."""
    rates = []
    for _ in range(runs):
        count, started = 0, time.perf_counter()
        deadline = started + seconds
        while True:
            work()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(count / (now - started))
    return statistics.median(rates)


def _summary(payload: bytes, decoder: Decoder) -> str:
    return summary(decode(payload, decoder, SUMMARY_LIMITS))


def _costs(options: BenchOptions) -> list[dict[str, Any]]:
    seconds = QUICK_MEASURE_SECONDS if options.quick else MEASURE_SECONDS
    runs = options.runs_or(3, 1)
    auto = decoder_for("auto")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="framewire-bench-") as tmp:
        for fmt, (decoder, payloads) in _payloads(Path(tmp)).items():
            for label, payload in payloads.items():
                row: dict[str, Any] = {"format": fmt, "size": label, "bytes": len(payload)}
                row["tree"] = _rate(functools.partial(decode, payload, decoder), seconds, runs)
                row["summary"] = _rate(functools.partial(_summary, payload, decoder), seconds, runs)
                row["auto_summary"] = _rate(
                    functools.partial(_summary, payload, auto), seconds, runs
                )
                row["auto_chose"] = decode(payload, auto).decoder
                rows.append(row)
    return rows


def _sweep(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="framewire-bench-") as tmp:
        schema_path = Path(tmp, "demo.desc")
        schema_path.write_bytes(descriptor_set_bytes())
        decoders = {name: decoder_for(name) for name in DECODER_NAMES}
        decoders["protobuf (schema)"] = decoder_for(
            "protobuf", proto_descriptor=schema_path, proto_message=DEMO_MESSAGE_NAME
        )
        decoders["layout"] = decoder_for(layout="tools/demo_layout.py:MESSAGE")
        payloads = random_payloads(count)
        results: dict[str, Any] = {}
        for name, decoder in decoders.items():
            slowest = 0.0
            ok = bugs = 0
            started = time.perf_counter()
            for payload in payloads:
                t0 = time.perf_counter()
                decoded = decode(payload, decoder)
                slowest = max(slowest, time.perf_counter() - t0)
                ok += decoded.ok
                bugs += is_internal_error(decoded)
            elapsed = time.perf_counter() - started
            results[name] = {
                "payloads": len(payloads),
                "decoded": ok,
                "decoder_bugs": bugs,
                "mean_us": elapsed / len(payloads) * 1e6,
                "slowest_ms": slowest * 1000,
            }
    return results


def run(options: BenchOptions) -> BenchResult:
    costs = _costs(options)
    sweep = _sweep(QUICK_SWEEP_PAYLOADS if options.quick else SWEEP_PAYLOADS)
    cost_table = markdown_table(
        ["format", "size", "tree/s", "summary/s", "summary via auto/s", "auto chose"],
        [
            [r["format"], r["size"], r["tree"], r["summary"], r["auto_summary"], r["auto_chose"]]
            for r in costs
        ],
    )
    sweep_table = markdown_table(
        ["decoder", "payloads", "decoded", "decoder bugs", "mean µs", "slowest ms"],
        [
            [name, s["payloads"], s["decoded"], s["decoder_bugs"], s["mean_us"], s["slowest_ms"]]
            for name, s in sweep.items()
        ],
    )
    slowest = max(s["slowest_ms"] for s in sweep.values())
    bugs = sum(s["decoder_bugs"] for s in sweep.values())
    markdown = (
        "Payloads decoded per second (one core, this process): the full field tree, the "
        "log's one-line summary (what a visible row costs once), and that summary through "
        "`auto` (the GUI's default).\n\n"
        f"{cost_table}\n\n"
        f"Random bytes through every decoder ({sweep['auto']['payloads']:,} "
        "each; half random, half samples with bytes changed): no exception escaped "
        f"(one would have stopped the run), {bugs} decoder bugs, slowest payload "
        f"{slowest:.1f} ms.\n\n{sweep_table}"
    )
    return BenchResult(
        markdown=markdown,
        data={"costs": costs, "sweep": sweep},
        targets=(
            Target(
                name="slowest random payload, any decoder / 50 ms",
                measured=slowest / TARGET_SLOWEST_MS,
                goal=1.0,
                higher_is_better=False,
            ),
            Target(
                name="decoder bugs in the random sweep",
                measured=bugs,
                goal=0,
                higher_is_better=False,
                unit="",
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="decoders",
    title="Decoders: cost per format, random bytes through every decoder",
    run=run,
    description=__doc__ or "",
)
