"""Relay integrity: many sequence-numbered frames each way at once, one side reading slowly.

Frames are pre-encoded in one buffer per direction (a 4-byte length, an 8-byte sequence
number) and what arrives is compared with it in bulk, as it arrives: byte equality means
nothing was lost, reordered, duplicated or altered. The same run with a million frames
each way, in an engine process of its own and with its RSS measured, is part of the
benchmark (``tools/bench/relay.py``); here the count is kept small enough for the suite.
"""

from __future__ import annotations

import array
import struct

import pytest
import trio
import trio.lowlevel

from engine import open_engine
from ipc import schema
from ipc.framing import DEFAULT, PRESETS, FramingSpec
from tests.engine.helpers import start_server

#: Frames each way; the benchmark runs 1,000,000.
FRAMES = 100_000
#: How the slow side reads: small reads, and a turn of the scheduler after each.
SLOW_READ_BYTES = 4096


def sequence_frames(count: int, spec: FramingSpec, first: int = 0) -> bytes:
    """``count`` frames of an 8-byte little-endian sequence number, with a 4-byte length in
    ``spec``'s byte order; built with array slicing (no per-frame Python work)."""
    length = struct.unpack("<I", struct.pack("<I" if spec.byte_order == "little" else ">I", 8))
    words = array.array("I", bytes(12 * count))
    words[0::3] = array.array("I", length) * count
    numbers = array.array("I", array.array("Q", range(first, first + count)).tobytes())
    words[1::3] = numbers[0::2]
    words[2::3] = numbers[1::2]
    return words.tobytes()


class Expect:
    """Compares a byte stream, chunk by chunk, with the bytes it should be."""

    def __init__(self, expected: bytes) -> None:
        self.expected = memoryview(expected)
        self.position = 0

    def check(self, chunk: bytes) -> None:
        end = self.position + len(chunk)
        if self.expected[self.position : end] != chunk:
            frame = self.position // 12
            raise AssertionError(f"the stream differs within frame {frame:,} (byte {end:,})")
        self.position = end

    @property
    def done(self) -> bool:
        return self.position == len(self.expected)


async def _send_and_check(
    stream: trio.SocketStream, out: bytes, expect: Expect, slow: bool
) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream.send_all, out)
        size = SLOW_READ_BYTES if slow else 1 << 20
        while not expect.done:
            chunk = await stream.receive_some(size)
            assert chunk, f"closed after {expect.position:,} of {len(expect.expected):,} bytes"
            expect.check(chunk)
            if slow:
                await trio.lowlevel.checkpoint()


@pytest.mark.parametrize("slow", ["client", "upstream"])
async def test_frames_each_way_arrive_all_in_order_while_one_side_reads_slowly(
    nursery: trio.Nursery, slow: str
) -> None:
    # The client speaks le32 and the upstream be32: each frame is decoded and re-encoded.
    client_to_server = sequence_frames(FRAMES, DEFAULT)
    server_to_client = sequence_frames(FRAMES, PRESETS["be32"], first=10**9)
    upstream_done = trio.Event()

    async def upstream(stream: trio.SocketStream) -> None:
        expect = Expect(sequence_frames(FRAMES, PRESETS["be32"]))
        await _send_and_check(stream, server_to_client, expect, slow == "upstream")
        upstream_done.set()

    port = await start_server(nursery, upstream)
    async with open_engine() as engine:

        async def consume() -> None:
            frames = {"c2s": 0, "s2c": 0}
            async for event in engine.events:
                if isinstance(event, schema.Received) and event.direction is not None:
                    frames[event.direction] += len(event.frames)
                elif isinstance(event, schema.PairClosed):
                    assert (event.frames_c2s, event.frames_s2c) == (FRAMES, FRAMES)
                    assert frames == {"c2s": FRAMES, "s2c": FRAMES}
                    return

        listening = await engine.relay(
            "127.0.0.1", 0, "127.0.0.1", port, upstream_framing=PRESETS["be32"]
        )
        async with trio.open_nursery() as inner:
            inner.start_soon(consume)
            with trio.fail_after(60):
                client = await trio.open_tcp_stream("127.0.0.1", listening.port)
                expect = Expect(sequence_frames(FRAMES, DEFAULT, first=10**9))
                await _send_and_check(client, client_to_server, expect, slow == "client")
                await upstream_done.wait()
                await client.aclose()
